/**
 * The hub: this node's registry of channel clients, one per channel with local
 * attachments. It routes broadcasts to them and tells them when their master moved.
 */
import type { ChannelKey, LogEntry } from '../channel/entry.js';
import type { ErrorInfo } from '../errors.js';
import { ChannelClient, type ClientDeps } from '../channel/client.js';
import type { NodeId } from '../transport/messages.js';

export class Hub {
  private readonly clients = new Map<ChannelKey, ChannelClient>();

  constructor(private readonly deps: ClientDeps & { ownerOf(key: ChannelKey): NodeId | null }) {}

  get size(): number {
    return this.clients.size;
  }

  /** The channel's client on this node, made on first use. */
  client(key: ChannelKey, name: string): ChannelClient {
    let c = this.clients.get(key);
    if (!c) {
      c = new ChannelClient(key, name, this.deps);
      this.clients.set(key, c);
    }
    return c;
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

  keys(): ChannelKey[] {
    return [...this.clients.keys()];
  }
}
