/**
 * The in-memory RegionTransport: nodes in one process on a shared `MemoryNetwork`.
 * Messages pass by reference (receivers treat them as immutable) and are delivered in a
 * later microtask, in order per sender→receiver pair. The network can cut and heal links
 * and stop nodes, for tests of the layers above.
 */
import type { NodeAddress, NodeId, NodeMessage } from './messages.js';
import type { RegionTransport, TransportEvent, TransportStats } from './transport.js';

export class MemoryNetwork {
  readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly cuts = new Set<string>();

  /** Messages crossing the network since it was made (self-sends excluded). */
  delivered = 0;

  private static pair(a: NodeId, b: NodeId): string {
    return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
  }

  connected(a: NodeId, b: NodeId): boolean {
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    return !!na?.running && !!nb?.running && !this.cuts.has(MemoryNetwork.pair(a, b));
  }

  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(MemoryNetwork.pair(a, b));
    this.nodes.get(a)?.emit({ type: 'linkDown', peer: b, reason: 'cut' });
    this.nodes.get(b)?.emit({ type: 'linkDown', peer: a, reason: 'cut' });
  }

  heal(a: NodeId, b: NodeId): void {
    this.cuts.delete(MemoryNetwork.pair(a, b));
    if (this.connected(a, b)) {
      this.nodes.get(a)?.emit({ type: 'linkUp', peer: b });
      this.nodes.get(b)?.emit({ type: 'linkUp', peer: a });
    }
  }

  /** Called by a transport when it starts or stops. */
  announce(node: NodeId, up: boolean): void {
    for (const [id, t] of this.nodes) {
      if (id === node || !t.running) continue;
      if (up && this.connected(id, node)) t.emit({ type: 'linkUp', peer: node });
      if (!up) t.emit({ type: 'peerGone', peer: node });
    }
  }
}

export class MemoryTransport implements RegionTransport {
  readonly kind = 'memory' as const;
  running = false;
  private readonly handlers: ((from: NodeId, msg: NodeMessage) => void)[] = [];
  private readonly eventHandlers: ((e: TransportEvent) => void)[] = [];
  private readonly counts = new Map<NodeId, { out: number; in: number }>();

  constructor(
    readonly self: NodeId,
    private readonly network: MemoryNetwork,
  ) {
    network.nodes.set(self, this);
  }

  async start(): Promise<void> {
    this.running = true;
    this.network.nodes.set(this.self, this);
    this.network.announce(this.self, true);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.network.announce(this.self, false);
  }

  send(to: NodeId, msg: NodeMessage): void {
    if (!this.running) return;
    if (to === this.self) {
      queueMicrotask(() => this.running && this.deliver(this.self, msg));
      return;
    }
    if (!this.network.connected(this.self, to)) return;
    const target = this.network.nodes.get(to)!;
    this.count(to).out++;
    this.network.delivered++;
    queueMicrotask(() => {
      // The link may have been cut while the message was in flight: then it is lost.
      if (this.network.connected(this.self, to)) target.deliver(this.self, msg);
    });
  }

  broadcast(msg: NodeMessage): void {
    for (const id of this.network.nodes.keys()) if (id !== this.self) this.send(id, msg);
  }

  addPeer(_peer: NodeId, _address: NodeAddress): void {
    // Every node on the network is reachable; nothing to dial.
  }

  removePeer(_peer: NodeId): void {}

  onMessage(handler: (from: NodeId, msg: NodeMessage) => void): void {
    this.handlers.push(handler);
  }

  onEvent(handler: (e: TransportEvent) => void): void {
    this.eventHandlers.push(handler);
  }

  emit(e: TransportEvent): void {
    if (!this.running) return;
    for (const h of this.eventHandlers) h(e);
  }

  private count(peer: NodeId): { out: number; in: number } {
    let c = this.counts.get(peer);
    if (!c) this.counts.set(peer, (c = { out: 0, in: 0 }));
    return c;
  }

  private deliver(from: NodeId, msg: NodeMessage): void {
    if (!this.running) return;
    if (from !== this.self) this.count(from).in++;
    for (const h of this.handlers) h(from, msg);
  }

  stats(): TransportStats {
    return {
      links: [...this.network.nodes.keys()]
        .filter((id) => id !== this.self)
        .map((peer) => {
          const c = this.counts.get(peer) ?? { out: 0, in: 0 };
          return {
            peer,
            up: this.network.connected(this.self, peer),
            bytesOut: 0,
            bytesIn: 0,
            messagesOut: c.out,
            messagesIn: c.in,
          };
        }),
    };
  }
}
