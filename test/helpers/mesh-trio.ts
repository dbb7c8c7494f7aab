/**
 * Mesh transports on loopback for the mesh tests (three, or as many as named), some of
 * their links through fault proxies, and numbered words to send between them.
 */
import pino from 'pino';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { MeshTransport } from '../../src/transport/mesh.js';
import type { NodeMessage } from '../../src/transport/messages.js';
import { freePorts } from './ports.js';

/** A broadcast word numbered by its epoch field ("m<i>"). */
export const word = (i: number): NodeMessage => ({ type: 'broadcast', channel: 'app:c', epoch: `m${i}`, entries: [] });
/** The numbers of the words received, in order. */
export const numbers = (got: NodeMessage[]) => got.map((m) => Number((m as { epoch: string }).epoch.slice(1)));

export interface MeshOf<T extends MeshTransport[]> {
  nodes: T;
  /** The proxy of each proxied link, by `from->to` (e.g. `n1->n3`). */
  proxies: Map<string, FaultProxy>;
  stop(): Promise<void>;
}

export type MeshTrio = MeshOf<[MeshTransport, MeshTransport, MeshTransport]>;

/** n1, n2 and n3 (see meshOf). */
export function meshTrio(proxied: string[]): Promise<MeshTrio> {
  return meshOf(3, proxied) as Promise<MeshTrio>;
}

/**
 * n1…n`count`, each linked to the others; the links named in `proxied` (`from->to`) go
 * through a fault proxy of their own, the rest directly. Not started.
 */
export async function meshOf(count: number, proxied: string[]): Promise<MeshOf<MeshTransport[]>> {
  const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const ports = await freePorts(count);
  const proxies = new Map<string, FaultProxy>();
  for (const link of proxied) {
    const to = link.split('->')[1]!;
    const p = new FaultProxy({ host: '127.0.0.1', port: ports[names.indexOf(to)]! }, link);
    await p.listen();
    proxies.set(link, p);
  }
  const nodes = names.map((name, i) => {
    const t = new MeshTransport({
      self: name,
      region: 'r',
      host: '127.0.0.1',
      meshPort: ports[i]!,
      secret: 's',
      log: pino({ level: 'silent' }),
      dialVia: (peer, a) => {
        const p = proxies.get(`${name}->${peer}`);
        return p ? { host: '127.0.0.1', port: p.port } : { host: a.host, port: a.meshPort };
      },
    });
    names.forEach((peer, j) => peer !== name && t.addPeer(peer, { host: '127.0.0.1', port: 0, meshPort: ports[j]! }));
    return t;
  });
  return {
    nodes,
    proxies,
    async stop() {
      for (const t of nodes) await t.stop();
      for (const p of proxies.values()) await p.close();
    },
  };
}
