/**
 * The hub: this node's registry of channel clients, one per channel with local
 * attachments. It routes broadcasts to them and tells them when their master moved.
 */
import type { ChannelKey, LogEntry } from '../channel/entry.js';
import type { ErrorInfo } from '../errors.js';
import { ChannelClient, type ClientDeps } from '../channel/client.js';
import type { NodeId } from '../transport/messages.js';

/** Channels checked with a master in one audit request at most. */
const AUDIT_BATCH = 1000;

export interface HubDeps extends ClientDeps {
  ownerOf(key: ChannelKey): NodeId | null;
  /** Asks a master which of these channels it does not have this node subscribed to. */
  audit(master: NodeId, channels: ChannelKey[]): Promise<ChannelKey[]>;
}

export class Hub {
  private readonly clients = new Map<ChannelKey, ChannelClient>();
  /** Masters with an audit in flight. */
  private readonly auditing = new Set<NodeId>();

  constructor(private readonly deps: HubDeps) {}

  get size(): number {
    return this.clients.size;
  }

  /** The channel's client on this node, made on first use. */
  client(key: ChannelKey, name: string): ChannelClient {
    let c = this.clients.get(key);
    if (!c) {
      const client: ChannelClient = new ChannelClient(key, name, { ...this.deps, unsub: (master, k) => this.unsub(client, master, k) });
      this.clients.set(key, (c = client));
    }
    return c;
  }

  /**
   * A client tells a master this node no longer listens. A released client may still
   * finish a subscribe and then unsubscribe, after a newer client of the same channel
   * subscribed there: the master counts subscriptions per node, so that unsub is dropped.
   */
  private unsub(from: ChannelClient, master: NodeId, key: ChannelKey): void {
    const live = this.clients.get(key);
    if (live && live !== from && live.listensAt(master)) return;
    this.deps.unsub(master, key);
  }

  get(key: ChannelKey): ChannelClient | undefined {
    return this.clients.get(key);
  }

  /** Drops a client with no subscribers left (and unsubscribes the node at the master). */
  release(key: ChannelKey, client: ChannelClient): void {
    if (client.subscriberCount > 0 || this.clients.get(key) !== client) return;
    this.clients.delete(key);
    client.close();
  }

  onBroadcast(key: ChannelKey, epoch: string, entries: LogEntry[], discontinuity?: ErrorInfo): void {
    this.clients.get(key)?.onBroadcast(epoch, entries, discontinuity);
  }

  /** The ring changed: clients whose master is no longer the owner move to the new one. */
  onRingChange(): void {
    for (const [key, c] of this.clients) {
      const at = c.subscribedAt;
      if (at !== null && at !== this.deps.ownerOf(key)) c.resubscribe();
    }
  }

  /** A node died: clients subscribed there move to the channel's new owner. */
  onPeerDown(node: NodeId): void {
    for (const c of this.clients.values()) if (c.subscribedAt === node) c.resubscribe();
  }

  /**
   * This node started a new incarnation: every master (its own, now dropped, and others',
   * which forgot it when they declared it down) has lost its subscriptions, so every
   * client subscribes afresh from its stream position.
   */
  onSelfReset(): void {
    for (const c of this.clients.values()) c.resubscribe();
  }

  /**
   * Checks every settled subscription with its master, one request per master (and per
   * thousand channels). Whatever lost this node's subscription at the master (a race
   * with a ring change, a stale unsub), its clients subscribe again and fill the gap from
   * history, instead of waiting silently for broadcasts that will not come.
   */
  async audit(): Promise<void> {
    const byMaster = new Map<NodeId, { client: ChannelClient; gen: number }[]>();
    for (const c of this.clients.values()) {
      const p = c.auditPoint();
      if (!p || this.auditing.has(p.master)) continue;
      let list = byMaster.get(p.master);
      if (!list) byMaster.set(p.master, (list = []));
      list.push({ client: c, gen: p.gen });
    }
    // A master slow to answer is not asked again meanwhile; the others are.
    await Promise.all([...byMaster].map(([master, list]) => this.auditAt(master, list)));
  }

  private async auditAt(master: NodeId, list: { client: ChannelClient; gen: number }[]): Promise<void> {
    this.auditing.add(master);
    try {
      for (let i = 0; i < list.length; i += AUDIT_BATCH) {
        const part = list.slice(i, i + AUDIT_BATCH);
        const lost = new Set(await this.deps.audit(master, part.map((p) => p.client.key)));
        for (const p of part) if (lost.has(p.client.key)) p.client.notSubscribedAt(master, p.gen);
      }
    } catch {
      // Unreachable: peer-down handling moves these clients; the next audit asks again.
    } finally {
      this.auditing.delete(master);
    }
  }

  keys(): ChannelKey[] {
    return [...this.clients.keys()];
  }
}
