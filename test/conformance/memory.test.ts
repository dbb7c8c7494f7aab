import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.js';
import type { RegionTransport } from '../../src/transport/transport.js';
import { transportConformance } from './transport-suite.js';

transportConformance('memory', async (n) => {
  const net = new MemoryNetwork();
  const transports: RegionTransport[] = [];
  for (let i = 0; i < n; i++) {
    const t = new MemoryTransport(`n${i}`, net);
    transports.push(t);
  }
  await Promise.all(transports.map((t) => t.start()));
  return {
    transports,
    kill: async (i) => transports[i]!.stop(),
    restart: async (i) => {
      const t = new MemoryTransport(`n${i}`, net);
      transports[i] = t;
      await t.start();
      return t;
    },
    close: async () => {
      await Promise.all(transports.map((t) => t.stop()));
    },
  };
});
