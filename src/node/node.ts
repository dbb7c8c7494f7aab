/**
 * One ably-ng node: the composition root. It wires the region transport, membership
 * and ring, the channel registry (masters and replicas), the hub (channel clients) and
 * the gateway (WebSocket + REST), and runs the heartbeat loop.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { KeyedQueue } from '../keyed-queue.js';
import { memoryFigures } from '../memory-budget.js';
import { AblyError } from '../errors.js';
import type { ChannelKey } from '../channel/entry.js';
import { ChannelRegistry } from '../channel/registry.js';
import { onRegionNews } from './region-news.js';
import { NodeOccupancy } from './occupancy.js';
import { nodeLifecycle } from './lifecycle.js';
import { nodeStatsMinute, type StatsMinute } from './stats-minute.js';
import { ChannelPublisher } from '../channel/publisher.js';
import { ChannelRouter } from '../channel/router.js';
import { auditSubscriptions } from '../channel/requests.js';
import { monotonicClock, sleep, systemClock, type Clock } from '../clock.js';
import { RegionClock } from '../cluster/region-clock.js';
import { RegionAuth } from './region-auth.js';
import { deriveTimeouts, Membership, type MembershipEvent } from '../cluster/membership.js';
import { Ring } from '../cluster/ring.js';
import { CHANNEL_REQUEST_TIMEOUT_MS, LEAVE_NOTICE_MS } from '../config/defaults.js';
import { channelSettingsOf } from '../channel/settings.js';
import { findRegion, resolveSecret, type NodeConfig, type RegionConfig, type Topology } from '../config/topology.js';
import { cutOffError, Gateway } from '../gateway/server.js';
import type { GatewayServices } from '../gateway/services.js';
import type { Logger } from '../log.js';
import { messagesSize, type Message } from '../protocol/message.js';
import type { Heartbeat, NodeAddress, NodeId, NodeMessage } from '../transport/messages.js';
import { Rpc } from '../transport/rpc.js';
import type { RegionTransport, TransportEvent } from '../transport/transport.js';
import { ConnectionDirectory } from './connection-directory.js';
import { regionTransport } from './region-transport.js';
import { Globalmaster, GLOBALMASTER_KEY } from '../bridge/globalmaster.js';
import { linkSettings } from '../bridge/link-settings.js';
import { auditOverRpc, Hub } from './hub.js';
import { StatsRecorder } from './stats.js';
import { masterQueries } from './master-queries.js';
import { regionQueries } from './region-queries.js';
import { interestListAnswer } from './channel-names.js';
import { NodeMetrics } from './metrics.js';
import { GatewayCounts } from './gateway-metrics.js';

export interface NodeOptions {
  topology: Topology;
  region: string;
  /** This node's config (from the topology, or given on the command line for a joiner). */
  node: NodeConfig;
  log: Logger;
  /** The wall clock (the system's by default); the node's region time goes on from it (RegionClock). */
  clock?: Clock;
  /** Overrides the transport the topology names (tests use the in-memory one). */
  transport?: RegionTransport;
  /** Heartbeat interval; the membership timeouts derive from it. */
  heartbeatIntervalMs?: number;
  /** Peers to dial through another address; the NATS servers (by their URL in the topology) to reach so, and no others (fault proxies). */
  dialVia?: (peer: NodeId, address: NodeAddress) => { host: string; port: number };
  natsVia?: Map<string, { host: string; port: number }>;
  /** Other regions' link endpoints to dial instead of the topology's (fault proxies). */
  linkVia?: Map<string, { host: string; port: number }>;
}

export type NodeEvent =
  | MembershipEvent
  | { type: 'ringChanged'; members: NodeId[] }
  | { type: 'quorumLost' }
  | { type: 'quorumRegained' }
  | Extract<TransportEvent, { type: 'nameInUse' }>;

export class AblyNode {
  readonly id: NodeId;
  readonly region: RegionConfig;
  readonly log: Logger;
  readonly metrics: NodeMetrics;
  /** The region's time (RegionClock) that this node stamps: its wall clock, or the region's furthest-on as heartbeats tell. */
  private readonly clock: RegionClock;
  /** Keys, TokenRequest nonces and token revocations: this node's part of its region's (region-auth.ts). */
  private readonly auth: RegionAuth;
  /** Durations within this node (membership's silences and freezes): no step of the wall clock moves them. */
  private readonly ticks: Clock = monotonicClock;
  private readonly transport: RegionTransport;
  private readonly membership: Membership;
  private ringView: Ring;
  private readonly rpc: Rpc;
  private readonly registry: ChannelRegistry;
  private readonly router: ChannelRouter;
  private readonly publisher: ChannelPublisher;
  private readonly hub: Hub;
  private readonly occupancy: NodeOccupancy;
  private readonly gateway: Gateway;
  private readonly directory: ConnectionDirectory;
  private readonly globalmaster: Globalmaster | null;
  readonly stats: StatsRecorder;
  private readonly statsMinute: StatsMinute;
  /** What the gateway reports of its clients: metrics, and each app's stats (gateway-metrics.ts). */
  private readonly gatewayCounts: GatewayCounts;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private housekeepingTimer: NodeJS.Timeout | null = null;
  private readonly startedAt: number;
  private quorum: boolean;
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private stopping = false;
  /** Whether this node may tell masters its connections' members are here (Gateway.presenceHereSoon). */
  private readonly maySpeak = (): boolean => this.quorum && !this.stopping;
  /** Presence holds, per channel in the order they are made (keyed-queue.ts). */
  private readonly holds = new KeyedQueue();
  port = 0;

  constructor(private readonly o: NodeOptions) {
    this.region = findRegion(o.topology, o.region);
    this.id = o.node.name;
    this.log = o.log.child({ node: this.id, region: this.region.name });
    const wall = o.clock ?? systemClock;
    this.clock = new RegionClock({
      wall: () => wall.now(),
      mono: () => this.ticks.now(),
      // The topology's nodes, or the ring's where joiners made it larger.
      regionSize: () => Math.max(this.region.nodes.length, this.ringView?.size ?? 0),
      log: this.log,
    });
    this.startedAt = this.ticks.now();
    const secret = resolveSecret(o.topology.secrets.cluster, 'secrets.cluster')!;
    const address: NodeAddress = { host: o.node.host, port: o.node.port, meshPort: o.node.meshPort };
    this.membership = new Membership(this.id, address, deriveTimeouts(o.heartbeatIntervalMs), this.clock.now(), () => this.clock.now());
    for (const n of this.region.nodes) {
      if (n.name !== this.id) this.membership.addStatic(n.name, { host: n.host, port: n.port, meshPort: n.meshPort }, this.ticks.now());
    }
    this.transport =
      o.transport ??
      regionTransport({
        self: this.id,
        deployment: o.topology.deployment,
        region: this.region,
        node: o.node,
        clusterSecret: secret,
        log: this.log,
        heartbeatIntervalMs: this.membership.timeouts.heartbeatIntervalMs,
        ...(o.dialVia ? { dialVia: o.dialVia } : {}), ...(o.natsVia ? { natsVia: o.natsVia } : {}),
      });
    this.ringView = new Ring(this.membership.ringMembers(), this.region.vnodes);
    this.quorum = this.membership.hasQuorum();
    this.rpc = new Rpc(this.transport, (node) => this.membership.incarnationOf(node));
    this.rpc.onTimeout = (to, req, rid, timeoutMs) =>
      this.log.debug({ to, request: req.type, rid, timeoutMs, ...('channel' in req ? { channel: req.channel } : {}) }, 'request unanswered in time');
    const now = () => this.clock.now();
    this.auth = new RegionAuth({
      apps: o.topology.apps,
      self: this.id,
      region: this.region.name,
      ring: () => this.ringView,
      rpc: this.rpc,
      now,
      monotonic: () => this.ticks.now(),
      log: this.log,
      send: (to, msg) => this.transport.send(to, msg),
      broadcast: (msg) => this.transport.broadcast(msg),
      toRegions: (entries) => this.globalmaster?.sendRevocations(entries),
      changed: (keys) => this.gateway.checkRevocations(keys),
    });
    this.stats = new StatsRecorder(now);
    const ring = () => this.ringView;
    this.metrics = new NodeMetrics(
      { node: this.id, region: this.region.name },
      {
        attachedChannels: () => this.hub.size,
        mastered: () => this.registry.counts().mastered,
        replicas: () => this.registry.counts().replicas,
        ringMembers: () => this.ringView.size,
        links: () => this.transport.stats().links,
        around: () => this.transport.stats().relay,
      },
    );
    this.gatewayCounts = new GatewayCounts(this.metrics, this.stats);
    this.registry = new ChannelRegistry({
      self: this.id,
      settings: channelSettingsOf(o.topology, this.region.name),
      now,
      monotonic: () => this.ticks.now(),
      rpc: this.rpc,
      sendBroadcast: (to, msg) => this.transport.send(to, msg),
      ring,
      hasQuorum: () => this.quorum,
      leaving: () => this.membership.leavingPeers(),
      seen: (key) => this.hub.get(key)?.claimPosition() ?? null,
      recent: (key) => this.hub.get(key)?.recentIds() ?? [],
      log: this.log,
      // Only with other regions: masters then also replicate when interest here begins or ends.
      ...(o.topology.regions.length > 1
        ? { toRegions: (batch, to, more) => this.toGlobalmaster({ type: 'toRegions', batch, to, ...(more ? { more } : {}) }) }
        : {}),
      interestChanged: (channel, on, since) => this.toGlobalmaster({ type: 'interest', channel, on, since }),
      ...nodeLifecycle(o.topology, this.region.name, { now, elapsed: () => this.ticks.now(), publisher: () => this.publisher, counts: (key) => this.occupancy.board.countsOf(key) }),
      metrics: {
        broadcast: (nodes, entries) => this.metrics.onBroadcast(nodes, entries),
        failover: () => this.metrics.onFailover(),
        handoff: () => this.metrics.onHandoff(),
        presenceStale: () => this.metrics.onPresenceStale(),
        channelCreated: (key) => this.stats.add(key.slice(0, key.indexOf(':')), 'channels.opened'),
      },
    });
    const monotonic = () => this.ticks.now();
    this.router = new ChannelRouter({ rpc: this.rpc, ring, now: monotonic });
    this.publisher = new ChannelPublisher({
      rpc: this.rpc,
      ownerOf: (key) => this.ringView.owner(key),
      now: monotonic,
      timeoutMs: CHANNEL_REQUEST_TIMEOUT_MS,
      onRequest: () => this.metrics.onPublishRequest(),
    });
    this.statsMinute = nodeStatsMinute(o.topology, this.region.name, { self: this.id, now, rpc: this.rpc, ring: () => this.ringView, publisher: () => this.publisher, log: this.log });
    this.occupancy = new NodeOccupancy({
      send: (to, msg) => this.transport.send(to, msg),
      rpc: this.rpc,
      registry: this.registry,
      hub: () => this.hub,
      mastersHere: (key) => this.ringView.owner(key) === this.id,
      intervalMs: o.topology.limits.occupancyIntervalMs,
      refreshMs: o.topology.limits.occupancyRefreshMs,
      now,
      idPrefix: `${this.id}.${randomBytes(4).toString('hex')}`,
      region: this.region.name,
      toGlobalmaster: o.topology.regions.length > 1 ? (m) => this.toGlobalmaster(m) : null,
      globalmaster: () => this.globalmaster,
    });
    this.hub = new Hub({
      occupancy: this.occupancy.watch,
      router: this.router,
      unsub: (master, channel) => this.transport.send(master, { type: 'unsub', channel }),
      requestTimeoutMs: CHANNEL_REQUEST_TIMEOUT_MS,
      log: this.log,
      onDeliver: (key, conns, messages, bytes) => {
        this.metrics.onDelivered(conns * messages);
        this.stats.delivered(key.slice(0, key.indexOf(':')), conns, messages, bytes);
      },
      ownerOf: (key) => this.ringView.owner(key),
      audit: auditOverRpc(this.rpc, CHANNEL_REQUEST_TIMEOUT_MS),
      onRepair: (kind) => this.metrics.onSubscriptionRepair(kind),
    });
    this.directory = new ConnectionDirectory({
      self: this.id,
      rpc: this.rpc,
      send: (to, msg) => this.transport.send(to, msg),
      ring, now, log: this.log, stateTtlMs: o.topology.limits.connectionStateTtlMs,
    });
    this.globalmaster = o.topology.regions.length > 1 ? this.makeGlobalmaster(o) : null;
    const connectionSecret = createHmac('sha256', secret).update(`connection-keys:${this.region.name}`).digest('base64url');
    const services: GatewayServices = {
      nodeId: this.id,
      region: this.region.name,
      regionSize: this.region.nodes.length,
      hasQuorum: () => this.quorum,
      limits: o.topology.limits,
      log: this.log,
      hub: this.hub,
      connectionSecret,
      now,
      monotonic,
      connections: this.directory.gatewaySide(),
      metrics: this.gatewayCounts,
      publish: (channel, messages, source) => this.publish(channel, messages, source),
      presence: async (channel, presence, source, since) => {
        this.metrics.onPresenceOps(presence.length);
        await this.publisher.send(source, channel, { type: 'presence', presence, since });
      },
      ...masterQueries(this.router, this.holds),
      ...regionQueries(this.rpc, () => this.ringView.members),
      ...this.auth.services(),
      health: () => this.health(),
      metricsText: () => this.metrics.registry.metrics(),
    };
    this.gateway = new Gateway(services, this.auth.authenticator());
    this.transport.onMessage((from, msg) => this.onNodeMessage(from, msg));
    this.transport.onEvent((e) => {
      const left = (e.type === 'linkDown' || e.type === 'peerGone') && this.membership.state(e.peer) === 'left';
      // A peer that left and then closed its link, or is gone, has finished: nothing asked of it will be answered.
      if (left) this.rpc.failPeer(e.peer, 'left');
      if (e.type === 'linkDown') this.apply(this.membership.onLinkDown(e.peer, e.reason));
      else if (e.type === 'peerGone') {
        // Said only when it changes something: at start-up, peers not yet listening refuse too.
        const events = this.membership.onPeerGone(e.peer);
        if (events.length) this.log.warn({ peer: e.peer }, 'peer refuses connections: its process is gone');
        this.apply(events);
      } else if (e.type === 'linkUp') this.transport.send(e.peer, this.heartbeat());
      else if (e.type === 'peerOtherVersion') {
        this.membership.onOtherVersion(e.peer, e.protocol, this.ticks.now());
        this.apply([]);
      } else if (e.type === 'nameInUse') this.emit(e);
    });
  }

  private makeGlobalmaster(o: NodeOptions): Globalmaster {
    return new Globalmaster({
      self: this.id,
      ...linkSettings(o.topology, this.region, o.node, o.linkVia),
      ring: () => this.ringView,
      hasQuorum: () => this.quorum,
      incarnation: () => this.membership.selfIncarnation,
      rpc: this.rpc,
      send: (to, msg) => this.transport.send(to, msg),
      router: this.router,
      now: () => this.clock.now(),
      log: this.log.child({ role: 'globalmaster' }),
      revocations: this.auth.revocations,
      homeHere: (channel) => this.registry.homeHere(channel),
    });
  }

  /** Sends to the node holding the region's globalmaster role (dropped when there is none). */
  private toGlobalmaster(msg: NodeMessage): void {
    const owner = this.globalmaster && this.ringView.owner(GLOBALMASTER_KEY);
    if (owner) this.transport.send(owner, msg);
  }

  /** Subscribes to membership, ring and quorum events (tests wait on these). */
  on(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: NodeEvent): void {
    for (const l of this.listeners) l(e);
  }

  async start(): Promise<void> {
    for (const n of this.region.nodes) if (n.name !== this.id) this.transport.addPeer(n.name, { host: n.host, port: n.port, meshPort: n.meshPort });
    await this.transport.start();
    this.registry.start();
    await this.globalmaster?.start();
    this.port = await this.gateway.listen(this.o.node.port, this.o.node.host);
    const interval = this.membership.timeouts.heartbeatIntervalMs;
    this.heartbeatTimer = setInterval(() => this.beat(), interval);
    this.housekeepingTimer = setInterval(() => {
      this.directory.reconcile(false);
      for (const [app, n] of this.registry.masteredByApp()) this.stats.level(app, 'channels.peak', n);
      this.gatewayCounts.peaks();
      if (this.quorum) this.statsMinute.tick();
      // Without quorum this node serves no channels and has dropped its clients.
      if (this.quorum) void this.hub.audit();
    }, 1000);
    this.housekeepingTimer.unref();
    this.beat();
    this.log.info({ port: this.port, meshPort: this.o.node.meshPort, incarnation: this.membership.selfIncarnation }, 'node started');
  }

  private beat(): void {
    this.transport.broadcast(this.heartbeat());
    this.apply(this.membership.tick(this.ticks.now()));
  }

  /** Graceful stop: say goodbye (/health: not serving), hand channels off, disconnect clients once balancers know (LEAVE_NOTICE_MS), close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
    this.membership.setLeaving();
    const noticed = this.ticks.now() + (this.gateway.connectionCount > 0 ? LEAVE_NOTICE_MS : 0);
    // Leaving: the ring without us moves our channels to their new owners now.
    this.transport.broadcast(this.heartbeat());
    this.rebuildRing();
    await this.registry.drain(3000);
    await sleep(Math.max(0, noticed - this.ticks.now()));
    await this.gateway.close();
    // The records of the connections just disconnected reach their holders (resumed elsewhere).
    await this.directory.settle();
    await this.globalmaster?.stop();
    await this.registry.close();
    this.occupancy.stop();
    this.rpc.failAll('node stopping');
    this.transport.broadcast(this.heartbeat());
    await sleep(20);
    await this.transport.stop();
    this.log.info('node stopped');
  }

  // ---- membership and ring -----------------------------------------------------------

  private apply(events: MembershipEvent[]): void {
    let ringMayChange = false;
    for (const e of events) {
      this.emit(e);
      switch (e.type) {
        case 'peerUp':
          this.log.info({ peer: e.node, incarnation: e.incarnation }, 'peer up');
          this.transport.addPeer(e.node, e.address);
          ringMayChange = true;
          break;
        case 'peerDiscovered':
          this.transport.addPeer(e.node, e.address);
          break;
        case 'peerSuspect':
          this.log.warn({ peer: e.node, reason: e.reason }, 'peer suspect');
          break;
        case 'peerDown':
        case 'peerLeft':
          this.log.warn({ peer: e.node, ...(e.type === 'peerDown' ? { reason: e.reason } : {}) }, e.type === 'peerDown' ? 'peer down' : 'peer left');
          this.rpc.failPeer(e.node, e.type === 'peerDown' ? e.reason : 'left');
          this.registry.forgetNode(e.node);
          this.occupancy.board.forgetNode(e.node);
          this.directory.hostGone(e.node);
          ringMayChange = true;
          break;
        case 'frozen':
          this.log.warn({ gapMs: e.gapMs }, 'event loop was frozen; no live peer could have declared this node down, so it keeps its state');
          break;
        case 'selfReset':
          this.log.warn({ reason: e.reason, incarnation: e.incarnation }, 'starting a new incarnation; dropping channel state');
          void this.beginNewLife(`node reset: ${e.reason}`).then(() => this.hub.onSelfReset());
          // Its clients are still here: their presence and records told after the heartbeat (on each link), to peers that take the new life as the old one's death.
          this.directory.reconcile(true);
          this.gateway.presenceHereSoon(this.maySpeak);
          ringMayChange = true;
          break;
      }
    }
    const quorum = this.membership.hasQuorum();
    if (quorum !== this.quorum) {
      this.quorum = quorum;
      if (!quorum) {
        // Deaf (NATS, hearing no peer: its outage is every node's at once), nobody could have declared it down: its masters step down, its copies kept until it hears whether one did (it resets then). Reset here, a NATS outage of 4 s took every channel's state.
        const deaf = this.transport.deaf?.() === true;
        this.log.error({ otherVersions: this.membership.otherVersionsAlive(), deaf }, 'lost quorum: this node stops serving channels and disconnects its clients');
        this.emit({ type: 'quorumLost' });
        if (!deaf) {
          const reset = this.membership.reset(this.ticks.now(), 'lost quorum');
          void this.beginNewLife('node lost quorum');
          this.emit(reset);
        }
        this.gateway.disconnectAll(cutOffError());
      } else {
        this.log.info('quorum regained');
        this.emit({ type: 'quorumRegained' });
      }
      ringMayChange = true;
      this.globalmaster?.evaluate();
    }
    if (ringMayChange) this.rebuildRing();
    for (const e of events) if (e.type === 'peerDown' || e.type === 'peerLeft') this.hub.onPeerDown(e.node);
  }

  /**
   * This node has just started a new life (membership.reset): its peers hear of it before any request of it (links are FIFO), so one that still had the old life up forgets its subscriptions now, not the new ones, and no peer goes on naming the old life
   * (every request of theirs refused here and asked again: half a second of that in a chaos run when the quorum-loss reset waited for the next beat). What the old life held goes.
   */
  private beginNewLife(reason: string): Promise<void> {
    this.transport.broadcast(this.heartbeat());
    return this.registry.dropAll(AblyError.of('channelFailed', reason));
  }

  private rebuildRing(): void {
    const members = this.membership.ringMembers();
    const before = this.ringView.members;
    if (before.length === members.length && members.every((m) => before.includes(m))) return this.registry.reconcile();
    const globalmasterBefore = this.ringView.owner(GLOBALMASTER_KEY);
    this.ringView = new Ring(members, this.region.vnodes);
    this.log.info({ members: this.ringView.members }, 'ring changed');
    this.emit({ type: 'ringChanged', members: [...this.ringView.members] });
    this.registry.reconcile();
    this.directory.reconcile(true);
    this.occupancy.board.keepOnly();
    this.hub.onRingChange();
    this.gateway.presenceHereSoon(this.maySpeak);
    this.globalmaster?.evaluate();
    if (this.globalmaster && this.ringView.owner(GLOBALMASTER_KEY) !== globalmasterBefore) this.registry.reportAllInterest(); // those sent while the role moved may have gone astray
  }

  // ---- node-to-node traffic ------------------------------------------------------------
  /** This node's heartbeat now: its membership view, and its region time. */
  private heartbeat(): Heartbeat {
    return { ...this.membership.heartbeat(), now: this.clock.now(), revocations: this.auth.revocations.digest() };
  }

  private onNodeMessage(from: NodeId, msg: NodeMessage): void {
    if (this.rpc.refusedForEarlierLife(from, msg)) {
      this.log.debug({ from, request: msg.type, incarnation: this.membership.selfIncarnation }, 'refused a request for an earlier life of this node');
      return;
    }
    switch (msg.type) {
      case 'heartbeat':
        this.clock.heard(msg.node, msg.now ?? 0);
        this.apply(this.membership.onHeartbeat(msg, this.ticks.now()));
        this.auth.revocations.heard(msg.node, msg.revocations);
        return;
      case 'revocations':
        this.auth.revocations.take(msg.entries);
        return;
      case 'reply':
        this.rpc.onReply(from, msg);
        return;
      case 'broadcast':
        this.hub.onBroadcast(from, msg);
        return;
      case 'toRegions':
        this.globalmaster?.onToRegions(msg.batch, msg.to, msg.more === true);
        return;
      case 'interest':
        this.globalmaster?.onInterest(from, msg.channel, msg.on, msg.since);
        return;
      case 'replayWanted':
        this.globalmaster?.onReplayWanted(msg);
        return;
      case 'remoteInterest':
      case 'relinked':
      case 'originHeads':
        onRegionNews(msg, this.registry, this.occupancy.board, (w) => this.toGlobalmaster(w), this.log);
        return;
      case 'interestList':
        this.rpc.reply(from, msg.rid, interestListAnswer(this.registry, msg));
        return;
      case 'subAudit':
        this.rpc.reply(from, msg.rid, auditSubscriptions(this.registry, from, msg));
        return;
      case 'unsub':
        this.registry.unsubscribe(from, msg.channel);
        this.occupancy.board.drop(msg.channel, from);
        return;
      case 'connMoved':
        this.directory.forgetHosted(msg.connectionId);
        this.gateway.moved(msg.connectionId);
        return;
      case 'connDrop':
        this.directory.onDrop(msg.connectionId);
        return;
      case 'connPut':
      case 'connTake':
        this.rpc.reply(from, msg.rid, this.directory.handle(msg, from));
        return;
      case 'stats':
        this.rpc.reply(from, msg.rid, { kind: 'stats', buckets: this.stats.buckets(msg.appId, msg.start, msg.end) });
        return;
      case 'occupancy':
      case 'occupancyReport':
      case 'occupancyTotals':
      case 'occupancyRegion':
        this.occupancy.onMessage(from, msg);
        return;
      case 'nonce':
        this.rpc.reply(from, msg.rid, this.auth.nonces.answer(msg));
        return;
      default:
        // A reply that cannot be sent (it does not encode) is logged; the asker times out.
        this.registry.handle(from, msg).then((body) => this.rpc.reply(from, msg.rid, body)).catch((err: unknown) => this.log.error({ err, from, type: msg.type }, 'channel request not answered'));
    }
  }

  // ---- services for the gateway -----------------------------------------------------------

  private async publish(channel: ChannelKey, messages: Message[], source: string | null): Promise<string[]> {
    const bytes = messagesSize(messages);
    let serials: string[];
    if (source !== null) {
      serials = await this.publisher.send(source, channel, { type: 'publish', messages }, bytes);
    } else {
      const { body } = await this.router.call(channel, { type: 'publish', channel, messages }, CHANNEL_REQUEST_TIMEOUT_MS);
      if (body.kind !== 'published') throw AblyError.of('internalChannel', `unexpected reply ${body.kind}`);
      serials = body.serials;
    }
    this.gatewayCounts.published(channel.slice(0, channel.indexOf(':')), source !== null ? 'realtime' : 'rest', messages.length, bytes);
    return serials;
  }

  ring(): Ring {
    return this.ringView;
  }

  hasQuorum(): boolean {
    return this.quorum;
  }

  health(): Record<string, unknown> {
    const counts = this.registry.counts();
    return {
      node: this.id,
      region: this.region.name,
      incarnation: this.membership.selfIncarnation,
      uptimeS: Math.round((this.ticks.now() - this.startedAt) / 1000),
      regionTime: this.clock.status(),
      ...this.gateway.healthView(),
      connectionRecords: this.directory.size,
      channels: this.hub.size,
      mastered: counts.mastered,
      replicas: counts.replicas,
      quorum: this.quorum,
      serving: this.maySpeak(),
      otherVersions: this.membership.otherVersionsAlive(),
      transport: this.transport.kind,
      members: this.membership.healthView(),
      globalmaster: this.globalmaster?.isActive ?? false,
      ...(this.globalmaster ? { regionLinks: this.globalmaster.status() } : {}),
      ring: this.ringView.members,
      revocations: { held: this.auth.revocations.store.size, digest: this.auth.revocations.digest() },
      counters: this.metrics.counts,
      memory: memoryFigures(), // the RSS null where /proc cannot be read (out of descriptors)
    };
  }
}
