import { silentLogger } from '../../src/log.js';
import { MeshTransport } from '../../src/transport/mesh.js';
import type { RegionTransport } from '../../src/transport/transport.js';
import { freePorts } from '../helpers/ports.js';
import { transportConformance } from './transport-suite.js';

transportConformance('mesh', async (n) => {
  const ports = await freePorts(n);
  const make = (i: number) => {
    const t = new MeshTransport({
      self: `n${i}`,
      region: 'r',
      host: '127.0.0.1',
      meshPort: ports[i]!,
      secret: 'conformance-secret',
      log: silentLogger(),
    });
    for (let j = 0; j < n; j++) if (j !== i) t.addPeer(`n${j}`, { host: '127.0.0.1', port: 0, meshPort: ports[j]! });
    return t;
  };
  const transports: RegionTransport[] = Array.from({ length: n }, (_, i) => make(i));
  await Promise.all(transports.map((t) => t.start()));
  return {
    transports,
    kill: async (i) => transports[i]!.stop(),
    restart: async (i) => {
      const t = make(i);
      transports[i] = t;
      await t.start();
      return t;
    },
    close: async () => {
      await Promise.all(transports.map((t) => t.stop().catch(() => undefined)));
    },
  };
});
