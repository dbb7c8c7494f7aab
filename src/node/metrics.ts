/**
 * Prometheus metrics of one node (prom-client, a registry per node so that several
 * nodes can live in one process in tests). Counters that tests assert on are also kept
 * as plain numbers (`counts`), read through `GET /health`.
 */
import client from 'prom-client';

export interface NodeCounts {
  published: number;
  /** Requests carrying realtime publishes from this node to channel masters (several publishes of a turn share one). */
  publishRequests: number;
  broadcasts: number;
  broadcastEntries: number;
  delivered: number;
  failovers: number;
  handoffs: number;
  slowConsumers: number;
  /** WebSocket connections turned away: the node held its most (capacity), or its memory budget. */
  connectionsRefused: number;
  /** Subscriptions at masters repaired by the audit: the master lacked one, or had one no client wanted. */
  subscriptionRepairs: number;
  /** Presence operations from clients of this node, sent on to their channels' masters. */
  presenceOps: number;
  /** Holds and presence operations masters here took from a node the connection had left (they do not move its members back). */
  presenceStale: number;
}

export class NodeMetrics {
  readonly registry = new client.Registry();
  readonly counts: NodeCounts = {
    published: 0,
    publishRequests: 0,
    broadcasts: 0,
    broadcastEntries: 0,
    delivered: 0,
    failovers: 0,
    handoffs: 0,
    slowConsumers: 0,
    connectionsRefused: 0,
    subscriptionRepairs: 0,
    presenceOps: 0,
    presenceStale: 0,
  };
  private readonly connections: client.Gauge;
  private readonly published: client.Counter;
  private readonly publishRequests: client.Counter;
  private readonly broadcasts: client.Counter;
  private readonly delivered: client.Counter;
  private readonly failovers: client.Counter;
  private readonly handoffs: client.Counter;
  private readonly slow: client.Counter;
  private readonly refused: client.Counter;
  private readonly repairs: client.Counter;
  private readonly presenceOps: client.Counter;
  private readonly presenceStale: client.Counter;

  constructor(labels: { node: string; region: string }, gauges: {
    attachedChannels(): number;
    mastered(): number;
    replicas(): number;
    ringMembers(): number;
    links(): { peer: string; up: boolean; bytesOut: number; bytesIn: number }[];
    /** The mesh's frames around cut links (TransportStats.relay); undefined on NATS. */
    around(): Record<string, number> | undefined;
  }) {
    const r = this.registry;
    r.setDefaultLabels(labels);
    // (their names begin process_ and nodejs_ already)
    client.collectDefaultMetrics({ register: r, prefix: 'ablyng_' });
    this.connections = new client.Gauge({ name: 'ablyng_connections', help: 'open client connections', registers: [r] });
    new client.Gauge({
      name: 'ablyng_attached_channels',
      help: 'channels with local attachments (channel clients) on this node',
      registers: [r],
      collect() {
        this.set(gauges.attachedChannels());
      },
    });
    new client.Gauge({
      name: 'ablyng_channels_mastered',
      help: 'channels this node is master of',
      registers: [r],
      collect() {
        this.set(gauges.mastered());
      },
    });
    new client.Gauge({
      name: 'ablyng_channels_replicated',
      help: 'channels this node holds the replica copy of',
      registers: [r],
      collect() {
        this.set(gauges.replicas());
      },
    });
    new client.Gauge({
      name: 'ablyng_ring_members',
      help: 'nodes in this node\'s view of the ring',
      registers: [r],
      collect() {
        this.set(gauges.ringMembers());
      },
    });
    new client.Gauge({
      name: 'ablyng_mesh_link_up',
      help: 'whether the link to a peer node is up (1) or down (0)',
      labelNames: ['peer'],
      registers: [r],
      collect() {
        for (const l of gauges.links()) this.set({ peer: l.peer }, l.up ? 1 : 0);
      },
    });
    // Running totals kept by the transport: counters, set at each scrape to what it says.
    new client.Counter({
      name: 'ablyng_mesh_link_bytes_total',
      help: 'bytes moved over the link to a peer node',
      labelNames: ['peer', 'direction'],
      registers: [r],
      collect() {
        this.reset();
        for (const l of gauges.links()) {
          this.inc({ peer: l.peer, direction: 'out' }, l.bytesOut);
          this.inc({ peer: l.peer, direction: 'in' }, l.bytesIn);
        }
      },
    });
    new client.Counter({
      name: 'ablyng_mesh_frames_around_total',
      help: "mesh frames around cut links (src/transport/mesh-paths.ts): sentAround (this node's, through others), carried (others', on to their peer), held (others', waiting for this node's link to their peer to come up), takenAround (for this node, through others), dropped (carried no further: no way on), notTaken (a copy already taken, or overtaken)",
      labelNames: ['what'],
      registers: [r],
      collect() {
        this.reset();
        for (const [what, n] of Object.entries(gauges.around() ?? {})) this.inc({ what }, n);
      },
    });
    this.published = new client.Counter({ name: 'ablyng_messages_published_total', help: 'messages published by clients of this node', registers: [r] });
    this.publishRequests = new client.Counter({
      name: 'ablyng_publish_requests_total',
      help: 'requests carrying realtime publishes from this node to channel masters (the publishes of one connection to one channel in one turn share one)',
      registers: [r],
    });
    this.broadcasts = new client.Counter({ name: 'ablyng_broadcasts_total', help: 'broadcasts sent by channel masters on this node (one per subscribing node per batch)', registers: [r] });
    this.delivered = new client.Counter({ name: 'ablyng_messages_delivered_total', help: 'messages delivered to client connections of this node', registers: [r] });
    this.presenceOps = new client.Counter({ name: 'ablyng_presence_ops_total', help: 'presence operations from clients of this node, sent on to their channels\' masters', registers: [r] });
    this.presenceStale = new client.Counter({
      name: 'ablyng_presence_stale_total',
      help: 'presence holds and operations that channel masters on this node took from a node the connection had left (by its version there); they do not move its members back',
      registers: [r],
    });
    this.failovers = new client.Counter({ name: 'ablyng_failovers_total', help: 'channels this node took over from a dead master', registers: [r] });
    this.handoffs = new client.Counter({ name: 'ablyng_handoffs_total', help: 'channels handed to this node by their previous master', registers: [r] });
    this.slow = new client.Counter({ name: 'ablyng_slow_consumers_total', help: 'connections dropped for not keeping up', registers: [r] });
    this.refused = new client.Counter({
      name: 'ablyng_connections_refused_total',
      help: 'WebSocket connections turned away (DISCONNECTED 50004, or near the socket cap an upgrade answered HTTP 503): reason capacity (the node held limits.maxConnectionsPerNode, or what its open-file limit allows) or memory (its memory budget)',
      labelNames: ['reason'],
      registers: [r],
    });
    this.repairs = new client.Counter({
      name: 'ablyng_subscription_repairs_total',
      help: 'subscriptions at channel masters repaired by the audit (kind: missing at the master, or leaked there)',
      labelNames: ['kind'],
      registers: [r],
    });
  }

  connectionOpened(): void {
    this.connections.inc();
  }
  connectionClosed(): void {
    this.connections.dec();
  }
  onPublished(n: number): void {
    this.counts.published += n;
    this.published.inc(n);
  }
  onPublishRequest(): void {
    this.counts.publishRequests++;
    this.publishRequests.inc();
  }
  onBroadcast(nodes: number, entries: number): void {
    this.counts.broadcasts += nodes;
    this.counts.broadcastEntries += nodes * entries;
    this.broadcasts.inc(nodes);
  }
  onDelivered(n: number): void {
    this.counts.delivered += n;
    this.delivered.inc(n);
  }
  onFailover(): void {
    this.counts.failovers++;
    this.failovers.inc();
  }
  onHandoff(): void {
    this.counts.handoffs++;
    this.handoffs.inc();
  }
  onSlowConsumer(): void {
    this.counts.slowConsumers++;
    this.slow.inc();
  }
  onConnectionRefused(reason: 'capacity' | 'memory'): void {
    this.counts.connectionsRefused++;
    this.refused.inc({ reason });
  }
  onPresenceOps(n: number): void {
    this.counts.presenceOps += n;
    this.presenceOps.inc(n);
  }
  onPresenceStale(): void {
    this.counts.presenceStale++;
    this.presenceStale.inc();
  }
  onSubscriptionRepair(kind: 'missing' | 'leaked'): void {
    this.counts.subscriptionRepairs++;
    this.repairs.inc({ kind });
  }
}
