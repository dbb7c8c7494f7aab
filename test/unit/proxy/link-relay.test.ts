/**
 * The region link's relay: a fault proxy that connects through a balancer's choice
 * (`Balancer.dial()`) instead of through the balancer itself. Real sockets on 127.0.0.1.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { Balancer } from '../../../src/proxy/balancer.js';
import { FaultProxy } from '../../../src/proxy/fault-proxy.js';
import { waitFor } from '../../helpers/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(server: net.Server | http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A backend: `/health` says `globalmaster` as told; its data port answers "<name>:" + what it reads. */
async function backend(name: string, health: { globalmaster: boolean }) {
  const data = net.createServer((s) => s.on('data', (d) => s.write(`${name}:${d.toString()}`)));
  const sockets = new Set<net.Socket>();
  data.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const web = http.createServer((_req, res) => res.end(JSON.stringify(health)));
  const b = { name, host: '127.0.0.1', port: await listen(web), target: await listen(data), health, sockets, data };
  cleanups.push(
    () => new Promise<void>((r) => web.close(() => r())),
    () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => data.close(() => r()));
    },
  );
  return b;
}

/** Connects, writes `text`, and resolves with the first answer (or null when the connection closes first). */
function ask(port: number, text: string): Promise<{ answer: string | null; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    cleanups.push(() => void socket.destroy());
    socket.once('data', (d) => resolve({ answer: d.toString(), socket }));
    socket.once('close', () => resolve({ answer: null, socket }));
    socket.on('error', () => undefined);
  });
}

/** A started balancer over `backends` that, like a region's link balancer, takes only the globalmaster. */
async function linkBalancer(backends: Awaited<ReturnType<typeof backend>>[]): Promise<Balancer> {
  const balancer = new Balancer(backends, silentLogger(), (h) => h.globalmaster === true);
  await balancer.listen(0, '127.0.0.1');
  cleanups.push(() => balancer.close());
  // A health poll that timed out while this process was stalled marks a backend unhealthy
  // until the next poll (every 0.5 s): wait for the globalmasters to be seen as such.
  const roles = backends.filter((b) => b.health.globalmaster).map((b) => b.name);
  await waitFor(() => balancer.healthyBackends().join() === roles.join(), { what: `the balancer to see ${roles.join(', ') || 'no backend'} healthy` });
  return balancer;
}

/** A started fault proxy that connects through the balancer's choice, and its port. */
async function proxyVia(balancer: Balancer): Promise<{ proxy: FaultProxy; port: number }> {
  const proxy = new FaultProxy(() => balancer.dial());
  const port = await proxy.listen();
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

describe('a fault proxy that dials through a balancer', () => {
  it('reaches the backend the balancer picks, skipping one that is not the globalmaster', async () => {
    const a = await backend('a', { globalmaster: false });
    const b = await backend('b', { globalmaster: true });
    const { proxy, port } = await proxyVia(await linkBalancer([a, b]));

    for (let i = 0; i < 3; i++) expect((await ask(port, `hello ${i}`)).answer).toBe(`b:hello ${i}`);
    expect(b.sockets.size).toBe(3);
    expect(proxy.connectionCount).toBe(3);
  });

  it('applies its faults to a dialled connection (latency, both ways)', async () => {
    const b = await backend('b', { globalmaster: true });
    const { proxy, port } = await proxyVia(await linkBalancer([b]));
    proxy.set('both', { latencyMs: 60 });
    const t0 = performance.now();
    const { answer } = await ask(port, 'x');
    expect(answer).toBe('b:x');
    // The delay is a floor: 60 ms each way, never less.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(120);
    expect(proxy.bytes).toEqual({ up: 1, down: 3 });
  });

  it('tries the next healthy backend when one refuses', async () => {
    const dead = await backend('dead', { globalmaster: true });
    const live = await backend('live', { globalmaster: true });
    const balancer = await linkBalancer([dead, live]);
    // Health still says yes, but the data port no longer listens.
    await new Promise<void>((r) => dead.data.close(() => r()));
    for (let i = 0; i < 3; i++) {
      const s = await balancer.dial();
      expect(s).not.toBeNull();
      cleanups.push(() => void s!.destroy());
      await waitFor(() => live.sockets.size === i + 1, { what: `connection ${i + 1} at the live backend` });
    }
  });

  it('closes the client when no backend can be reached', async () => {
    const a = await backend('a', { globalmaster: false });
    const balancer = await linkBalancer([a]);
    expect(await balancer.dial()).toBeNull();
    const { proxy, port } = await proxyVia(balancer);
    const { answer } = await ask(port, 'anyone?');
    expect(answer).toBeNull();
    await waitFor(() => proxy.connectionCount === 0, { what: 'the proxy to drop the connection' });
  });
});
