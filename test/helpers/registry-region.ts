/**
 * A region of channel registries on the in-memory transport, with each node's view of
 * the ring set by hand (tests make nodes disagree). Each node also has a hub of channel
 * clients, wired as a real node wires them: broadcasts, unsubs and subscription audits.
 */
import type { ChannelMaster } from '../../src/channel/master.js';
import { ChannelPublisher } from '../../src/channel/publisher.js';
import { ChannelRegistry } from '../../src/channel/registry.js';
import { auditSubscriptions } from '../../src/channel/requests.js';
import { ChannelRouter } from '../../src/channel/router.js';
import { Ring } from '../../src/cluster/ring.js';
import { silentLogger } from '../../src/log.js';
import type { Message } from '../../src/protocol/message.js';
import { auditOverRpc, Hub } from '../../src/node/hub.js';
import { MemoryNetwork, MemoryTransport } from '../../src/transport/memory.js';
import { isChannelRequest, type NodeMessage } from '../../src/transport/messages.js';
import { Rpc } from '../../src/transport/rpc.js';

export interface TestNode {
  id: string;
  transport: MemoryTransport;
  rpc: Rpc;
  registry: ChannelRegistry;
  publisher: ChannelPublisher;
  hub: Hub;
  ring: Ring;
  quorum: boolean;
  /** Peers this node knows to be leaving (said goodbye, still linked). */
  leaving: string[];
  /** What the hub's audits repaired. */
  repairs: ('missing' | 'leaked')[];
  /** Channels whose state the registry created afresh (its metrics' channelCreated: stats' channels opened). */
  created: string[];
}

export const SETTINGS = { region: 'r', historyMs: 60_000, dedupMs: 60_000, maxMessages: 100_000 };

const REQUEST_TIMEOUT_MS = 10_000;

export interface RegionHooks {
  /** Wraps a node's channel router (its hub's way to the masters). */
  router?(node: string, router: ChannelRouter): ChannelRouter;
}

export function makeRegion(ids: string[], hooks: RegionHooks = {}): { net: MemoryNetwork; nodes: TestNode[] } {
  const net = new MemoryNetwork();
  const nodes: TestNode[] = [];
  for (const id of ids) {
    const transport = new MemoryTransport(id, net);
    const rpc = new Rpc(transport);
    const node = { id, transport, rpc, ring: new Ring(ids), quorum: true, leaving: [], repairs: [], created: [] } as unknown as TestNode;
    const ring = (): Ring => node.ring;
    node.registry = new ChannelRegistry({
      self: id,
      settings: SETTINGS,
      now: () => Date.now(),
      rpc,
      sendBroadcast: (to, msg) => transport.send(to, msg),
      ring,
      hasQuorum: () => node.quorum,
      leaving: () => node.leaving,
      seen: (k) => node.hub?.get(k)?.claimPosition() ?? null,
      recent: (k) => node.hub?.get(k)?.recentIds() ?? [],
      log: silentLogger(),
      metrics: { broadcast: () => undefined, failover: () => undefined, handoff: () => undefined, presenceStale: () => undefined, channelCreated: (k) => void node.created.push(k) },
    });
    node.publisher = new ChannelPublisher({ rpc, ownerOf: (k) => node.ring.owner(k), now: () => Date.now(), timeoutMs: REQUEST_TIMEOUT_MS });
    const router = new ChannelRouter({ rpc, ring, now: () => Date.now() });
    node.hub = new Hub({
      router: hooks.router ? hooks.router(id, router) : router,
      unsub: (master, channel) => transport.send(master, { type: 'unsub', channel }),
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      log: silentLogger(),
      ownerOf: (k) => node.ring.owner(k),
      audit: auditOverRpc(rpc, REQUEST_TIMEOUT_MS),
      onRepair: (kind) => node.repairs.push(kind),
    });
    transport.onMessage((from, msg: NodeMessage) => {
      if (msg.type === 'reply') rpc.onReply(from, msg);
      else if (msg.type === 'broadcast') node.hub.onBroadcast(from, msg);
      else if (msg.type === 'unsub') node.registry.unsubscribe(from, msg.channel);
      else if (msg.type === 'subAudit') rpc.reply(from, msg.rid, auditSubscriptions(node.registry, from, msg));
      else if (isChannelRequest(msg)) {
        void node.registry.handle(from, msg).then((body) => rpc.reply(from, msg.rid, body));
      }
    });
    nodes.push(node);
  }
  return { net, nodes };
}

export async function startAll(ns: TestNode[]): Promise<void> {
  await Promise.all(ns.map((n) => n.transport.start()));
  ns.forEach((n) => n.registry.start());
}

/** Nodes a, b and c, started, each seeing the ring of all three; added to `track` (stop them with stopAll). */
export async function startTrio(track: TestNode[]): Promise<[TestNode, TestNode, TestNode]> {
  const { nodes } = makeRegion(['a', 'b', 'c']);
  track.push(...nodes);
  await startAll(nodes);
  return nodes as [TestNode, TestNode, TestNode];
}

/** The master a node holds for a channel and has not stopped, or null. */
export function liveMaster(n: TestNode, key: string): ChannelMaster | null {
  const h = n.registry.holding(key);
  return h?.role === 'master' && !h.master.isStopped ? h.master : null;
}

export async function stopAll(ns: TestNode[]): Promise<void> {
  for (const n of ns) {
    await n.registry.close();
    await n.transport.stop();
  }
}

/** Sets a node's view of the ring (and of the peers still leaving it) and lets it react. */
export function setView(n: TestNode, members: string[], leaving: string[] = []): void {
  n.ring = new Ring(members);
  n.leaving = leaving;
  n.registry.reconcile();
}

/** The first channel key (`app:c0`, `app:c1`, …) for which `test` holds. */
export function channelWhere(test: (key: string) => boolean): string {
  for (let i = 0; ; i++) if (test(`app:c${i}`)) return `app:c${i}`;
}

/** The first `count` channel keys (`app:c0`, `app:c1`, …) a ring of `members` gives `owner`. */
export function channelsOwnedBy(members: string[], owner: string, count = 3): string[] {
  const ring = new Ring(members);
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) if (ring.owner(`app:c${i}`) === owner) out.push(`app:c${i}`);
  return out;
}

export function channelOwnedBy(members: string[], owner: string): string {
  const ring = new Ring(members);
  return channelWhere((k) => ring.owner(k) === owner);
}

export function msg(seq: number): Message {
  return { id: `src:${seq}:0`, timestamp: Date.now(), data: String(seq) };
}
