/**
 * The region balancer (src/proxy/balancer.ts) sends each client to the next healthy node,
 * and first to one with room for another connection (its /health's `connections` under
 * `connectionCaps.connections`, and `admitting` not false), so that a client is not turned away (50004) by a full
 * node while another has room. Real sockets: three small HTTP backends on 127.0.0.1 that
 * answer /health as told and any other path with their name.
 */
import { createServer, get, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Balancer } from '../../../src/proxy/balancer.js';
import { silentLogger } from '../../../src/log.js';
import { waitFor } from '../../helpers/wait.js';

interface Fake {
  name: string;
  server: Server;
  port: number;
  health: Record<string, unknown>;
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function fake(name: string, health: Record<string, unknown>): Promise<Fake> {
  const f = { name, health } as Fake;
  f.server = createServer((req, res) => {
    res.setHeader('connection', 'close');
    res.end(req.url === '/health' ? JSON.stringify(f.health) : name);
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  f.port = (f.server.address() as { port: number }).port;
  open.push({ close: () => new Promise((r) => f.server.close(r)) });
  return f;
}

/** Who answered a request made through the balancer. */
function through(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/who', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('the region balancer', () => {
  it('sends clients to nodes with room first, and to full ones only when none has room', async () => {
    const room = { quorum: true, serving: true, connections: 1, connectionCaps: { connections: 2 } };
    const full = { quorum: true, serving: true, connections: 2, connectionCaps: { connections: 2 } };
    const fakes = [
      await fake('a', full),
      await fake('b', room),
      await fake('c', { quorum: true, serving: true, connections: 5, connectionCaps: { connections: null } }),
      // Under its cap but at its memory budget: it turns every new connection away.
      await fake('d', { ...room, admitting: false }),
    ];
    const b = new Balancer(fakes.map((f) => ({ name: f.name, host: '127.0.0.1', port: f.port })), silentLogger());
    const port = await b.listen(0, '127.0.0.1');
    open.push(b);
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push(await through(port));
    expect(new Set(seen)).toEqual(new Set(['b', 'c'])); // an unbounded cap (null) has room
    // None with room: round-robin over the healthy ones, full or not.
    fakes[1]!.health = full;
    fakes[2]!.health = full;
    await waitFor(async () => {
      const got = new Set<string>();
      for (let i = 0; i < 8; i++) got.add(await through(port));
      return got.size === 4;
    }, { what: 'every node used once none has room', timeoutMs: 5000 });
    expect(b.healthyBackends()).toEqual(['a', 'b', 'c', 'd']);
  });
});
