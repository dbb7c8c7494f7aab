/**
 * The NATS RegionTransport: the region's node-to-node traffic goes through a NATS cluster
 * instead of a full mesh, so a node holds one connection however large its region is.
 *
 * - Subjects (`nats-subjects.ts`): one per node for directed traffic (`send`), one for the
 *   region's control traffic (`broadcast`, which carries the heartbeats), both carrying
 *   the node protocol version. Each node subscribes to its own subject and to every
 *   version's control subject, on one connection; another version's traffic is only
 *   logged (`protocol-version.ts`).
 * - Payload: the same protobuf bytes as the mesh (`encodeNodeMessage`); the sender's node
 *   id travels in the `Ablyng-From` header. A message larger than the server's
 *   `max_payload` is sent in consecutive parts (`Ablyng-Part: i/n`) and put together again.
 * - Order: one connection publishes everything a node sends, and NATS keeps one
 *   publisher's order towards each subscriber connection, so per-sender order holds for
 *   directed and broadcast traffic alike.
 * - Self-sends never touch NATS: they are delivered locally, asynchronously, in order.
 *
 * Failures:
 * - When the NATS connection drops, every peer gets `linkDown`; when the client is back
 *   (nats.js reconnects with unlimited attempts across the cluster's servers and
 *   resubscribes), every peer gets `linkUp`.
 * - NATS has no per-peer connection to watch, so a dead peer is found by silence
 *   (`peer-silence.ts`): a peer quiet for `SILENCE_INTERVALS` heartbeat intervals has its
 *   client port probed (as `MeshTransport.probe` does), and `peerGone` follows a refused
 *   connection. A `kill -9` is thus noticed within about two heartbeat intervals.
 * - NATS core delivers at most once. What the node sends while it knows the connection is
 *   down is held (`nats-outbox.ts`, bounded) and published after the reconnect, in order.
 *   What was handed to the client but not yet confirmed by the server (PING/PONG) when the
 *   connection dropped may be lost, and so may messages sent to a node while *it* was
 *   reconnecting. That is the contract of `send` (at most once); the layers above retry
 *   requests and fill broadcast gaps from history. What a node can see of such loss
 *   (unconfirmed publishes at a disconnect, a full queue, refused publishes, incomplete
 *   large messages) is counted and logged as a warning with its counts (`natsStats()` has
 *   the totals), never silent; a message lost on its way to a reconnecting node shows up
 *   above as a request that times out and is resent, or as a broadcast gap that is filled.
 *
 * Security: the cluster secret of the mesh does not apply here; the region's traffic is as
 * private as its NATS account. Use NATS authentication (token or user/password from the
 * topology) and permissions limited to `ablyng.<deployment>.<region>.>`.
 */
import {
  connect,
  DebugEvents,
  Events,
  headers as natsHeaders,
  type ConnectionOptions,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
} from 'nats';
import { HEARTBEAT_INTERVAL_MS } from '../cluster/membership.js';
import { LogThrottle, type Logger } from '../log.js';
import type { NodeAddress, NodeId, NodeMessage } from './messages.js';
import { NatsOutbox } from './nats-outbox.js';
import { PartAssembler, partLabel, splitPayload } from './nats-parts.js';
import { connectionName, isSubjectToken, regionSubjects, type RegionSubjects } from './nats-subjects.js';
import { PeerSilence, probeRefuses } from './peer-silence.js';
import { nodeVersionRefusals, type VersionRefusals } from './protocol-version.js';
import { decodeNodeMessage, encodeNodeMessage } from './node-codec.js';
import { TransportListeners } from './listeners.js';
import type { RegionTransport, TransportStats } from './transport.js';

/** Header carrying the sending node's id. */
export const FROM_HEADER = 'Ablyng-From';
/** Header of a part of a message larger than the server's max_payload: `i/n`, 1-based. */
export const PART_HEADER = 'Ablyng-Part';

/** Wait before dialling the same server again; other servers of the cluster are tried at once. */
const RECONNECT_WAIT_MS = 250;
const RECONNECT_JITTER_MS = 100;
/** Client pings: a half-open connection is given up after MAX_PINGS_OUT unanswered pings. */
const PING_INTERVAL_MS = 2000;
const MAX_PINGS_OUT = 2;
/** Nothing from any peer for this long (ms; three heartbeat intervals): deaf (NatsTransport.deaf). */
const DEAF_AFTER_MS = 1500;
/** One connection attempt to one server. */
const CONNECT_TIMEOUT_MS = 5000;
/** Held while disconnected, at most this many bytes; the oldest are dropped (and counted) beyond. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024; // 16 MiB, as the mesh holds per link
/** Room left for headers and protocol below the server's max_payload when splitting. */
const PAYLOAD_HEADROOM_BYTES = 1024;
/** What a server allows by default (nats-server `max_payload`), until its INFO says otherwise. */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024; // 1 MiB
/** Ask the server to confirm what was published (PING/PONG) at most this often. */
const CONFIRM_INTERVAL_MS = 50;
/** A peer silent for this many heartbeat intervals has its client port probed. */
const SILENCE_INTERVALS = 2;
/** How often silence is checked, per silence window: the granularity of noticing a dead peer. */
const SILENCE_CHECKS_PER_WINDOW = 10;
const PROBE_TIMEOUT_MS = 1000;
/** On stop, wait at most this long for the server to take what was published. */
const STOP_FLUSH_TIMEOUT_MS = 1000;
/** After the client gave up for good (e.g. refused credentials), dial again from scratch after this. */
const REDIAL_MIN_MS = 500;
const REDIAL_MAX_MS = 5000;
/** Repeated warnings about rejected or undecodable messages are logged at most this often. */
const WARN_INTERVAL_MS = 5000;

export interface NatsOptions {
  self: NodeId;
  deployment: string;
  region: string;
  /** The NATS cluster's client URLs (`nats://host:port`); others the cluster announces are added. */
  servers: string[];
  /** Only the servers given, none the cluster announces (a node whose servers are reached through fault proxies). */
  onlyGivenServers?: boolean;
  /** NATS authentication: a token, or a user and password (not both). */
  token?: string;
  user?: string;
  pass?: string;
  log: Logger;
  /** The membership heartbeat interval: silence is measured in it. */
  heartbeatIntervalMs?: number;
  /** The node protocol spoken (tests play another build); NODE_PROTOCOL by default. */
  protocol?: number;
}

/** Counters of what went through NATS and, above all, of what may have been lost. */
export interface NatsTransportStats {
  connected: boolean;
  /** The server the client is connected to (or last was). */
  server: string | null;
  /** Messages (and their bytes) handed to the NATS client, parts counted once per message. */
  published: number;
  publishedBytes: number;
  received: number;
  receivedBytes: number;
  /** Waiting for the connection to come back. */
  queued: number;
  queuedBytes: number;
  /** Dropped from the queue when it was full, or left in it on stop. */
  dropped: number;
  /** Publishes the client refused (closed connection, permissions, payload). */
  failed: number;
  /** Handed to the client, not confirmed by the server when the connection dropped: may be lost. */
  unconfirmedAtDisconnect: number;
  /** Received without a sender, from ourselves, or undecodable; and parts that did not add up. */
  rejected: number;
  disconnects: number;
  reconnects: number;
}

/** What crossed NATS to and from one peer. */
interface PeerTraffic {
  bytesOut: number;
  messagesOut: number;
  bytesIn: number;
  messagesIn: number;
}

export class NatsTransport extends TransportListeners implements RegionTransport {
  readonly kind = 'nats' as const;
  readonly self: NodeId;
  private readonly subjects: RegionSubjects;
  private readonly version: VersionRefusals;
  private readonly silenceMs: number;
  private nc: NatsConnection | null = null;
  private running = false;
  /** Our view of the connection: false from the client's disconnect notice to its reconnect. */
  private connected = false;
  private connectedSince = 0;

  /** When a peer's message last came (performance.now()). */
  private lastHeardAny = 0;

  /**
   * Whether this node hears no peer at all: its NATS connection is down, or nothing has
   * come from any of its peers for a while (a NATS server stopped, not yet found stale).
   * Then its peers' silence may be its own, and NATS's outage everyone's.
   */
  deaf(): boolean {
    if (!this.running) return false;
    return !this.connected || (this.silence.known().length > 0 && performance.now() - this.lastHeardAny > DEAF_AFTER_MS);
  }
  private server: string | null = null;
  private readonly traffic = new Map<NodeId, PeerTraffic>();
  private readonly silence: PeerSilence;
  private readonly encoded = new WeakMap<NodeMessage, Uint8Array>();
  private readonly fromHeaders: MsgHdrs;
  private readonly parts = new PartAssembler();
  private readonly outbox: NatsOutbox;
  private silenceTimer: NodeJS.Timeout | null = null;
  private redialTimer: NodeJS.Timeout | null = null;
  private redialBackoff = REDIAL_MIN_MS;
  private readonly counts = { received: 0, receivedBytes: 0, rejected: 0, disconnects: 0, reconnects: 0 };
  private readonly warnings = new LogThrottle(WARN_INTERVAL_MS);

  constructor(private readonly o: NatsOptions) {
    super(o.log);
    if (o.servers.length === 0) throw new Error('NatsTransport: no NATS servers given');
    if (o.token && (o.user || o.pass)) throw new Error('NatsTransport: give a token or a user and password, not both');
    if (!!o.user !== !!o.pass) throw new Error('NatsTransport: a user needs a password and a password a user');
    this.self = o.self;
    this.subjects = regionSubjects(o.deployment, o.region, o.protocol);
    this.version = nodeVersionRefusals(o.log, 'NATS traffic', o.protocol);
    this.silenceMs = SILENCE_INTERVALS * (o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.fromHeaders = natsHeaders();
    this.fromHeaders.set(FROM_HEADER, o.self);
    this.silence = new PeerSilence({
      silenceMs: this.silenceMs,
      now: () => performance.now(),
      probe: (address) => probeRefuses(address, PROBE_TIMEOUT_MS),
      onGone: (peer, silentMs) => {
        if (!this.running) return;
        this.o.log.info({ peer, silentMs }, 'silent peer refuses connections: gone');
        this.emit({ type: 'peerGone', peer });
      },
    });
    this.outbox = new NatsOutbox({
      write: (subject, payload) => this.write(subject, payload),
      flush: () => this.nc?.flush() ?? Promise.reject(new Error('no connection')),
      onFailed: (subject, err) =>
        this.warnEvery('publish-failed', { subject, err: err.message, totalFailed: this.outbox.counts.failed }, 'NATS refused a publish; message lost'),
      maxQueuedBytes: MAX_QUEUED_BYTES,
      confirmIntervalMs: CONFIRM_INTERVAL_MS,
    });
    // Checks the node id once, so that `send` to ourselves can never be a bad subject.
    this.subjects.node(o.self);
  }

  // ---- lifecycle ------------------------------------------------------------------

  async start(): Promise<void> {
    const nc = await this.dial();
    this.adopt(nc);
    this.outbox.up();
    this.running = true;
    this.silenceTimer = setInterval(() => this.checkSilence(), Math.max(10, Math.floor(this.silenceMs / SILENCE_CHECKS_PER_WINDOW)));
    this.silenceTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.redialTimer) clearTimeout(this.redialTimer);
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.redialTimer = this.silenceTimer = null;
    const left = this.outbox.close();
    if (left.messages) this.o.log.warn({ dropped: left.messages, bytes: left.bytes }, 'NATS transport stopped while disconnected; queued messages dropped');
    const nc = this.nc;
    const wasConnected = this.connected;
    this.nc = null;
    this.connected = false;
    if (!nc || nc.isClosed()) return;
    if (!wasConnected) {
      await nc.close().catch(() => undefined);
      return;
    }
    // What was published last (a leaving node's goodbye) should reach the server first.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      nc.flush().catch(() => undefined),
      new Promise<void>((r) => {
        timer = setTimeout(r, STOP_FLUSH_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    await nc.close().catch(() => undefined);
  }

  private async dial(): Promise<NatsConnection> {
    const opts: ConnectionOptions = {
      servers: this.o.servers,
      name: connectionName(this.o.deployment, this.o.region, this.self),
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      reconnectJitter: RECONNECT_JITTER_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
      timeout: CONNECT_TIMEOUT_MS,
      // Broadcasts come back to their sender otherwise.
      noEcho: true,
      ...(this.o.onlyGivenServers ? { ignoreClusterUpdates: true } : {}),
      ...(this.o.token ? { token: this.o.token } : {}),
      ...(this.o.user ? { user: this.o.user, pass: this.o.pass! } : {}),
    };
    let nc: NatsConnection;
    try {
      nc = await connect(opts);
    } catch (err) {
      throw new Error(`cannot reach NATS at ${this.o.servers.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
    const onMessage = (err: NatsError | null, m: Msg) => {
      if (err) this.o.log.warn({ err: err.message }, 'NATS subscription error');
      // (While a redial is in progress there is no connection in use yet.)
      else if (this.nc === nc || this.nc === null) this.onNatsMessage(m);
    };
    nc.subscribe(this.subjects.node(this.self), { callback: onMessage });
    // Every version's control subject: ours is taken, another's only logged (its nodes'
    // traffic never reaches ours, nor ours theirs).
    const onControl = (err: NatsError | null, m: Msg) => {
      if (err || m.subject === this.subjects.control) return onMessage(err, m);
      const from = m.headers?.get(FROM_HEADER);
      const protocol = this.subjects.versionOf(m.subject);
      if (!this.version.accepts(from || m.subject, protocol) && from && this.running) this.emit({ type: 'peerOtherVersion', peer: from, protocol });
    };
    for (const subject of this.subjects.anyControl) nc.subscribe(subject, { callback: onControl });
    // The server has our subscriptions once it answers this.
    await nc.flush();
    return nc;
  }

  /** Makes `nc` the connection in use and watches its status. */
  private adopt(nc: NatsConnection): void {
    this.nc = nc;
    this.connected = true;
    this.connectedSince = performance.now();
    this.server = nc.getServer();
    this.o.log.info({ server: this.server, subject: this.subjects.node(this.self) }, 'connected to NATS');
    void this.watch(nc);
    void nc.closed().then((err) => this.onClosed(nc, err));
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.nc !== nc) break;
      switch (s.type) {
        case Events.Disconnect:
          this.onDisconnect(String(s.data));
          break;
        case Events.Reconnect:
          this.onReconnect(nc, String(s.data));
          break;
        case Events.LDM:
          this.o.log.info({ server: String(s.data) }, 'NATS server entering lame duck mode; the client will move');
          break;
        case Events.Error:
          this.warnEvery('nats-error', { err: String(s.data), ...(s.permissionContext ? { permission: s.permissionContext } : {}) }, 'NATS server reported an error');
          break;
        case DebugEvents.StaleConnection:
          this.o.log.warn({ server: this.server }, 'NATS connection stale (pings unanswered); reconnecting');
          break;
        default:
          break;
      }
    }
  }

  /** The connection is closed for good (stop, or the client gave up: e.g. refused credentials). */
  private onClosed(nc: NatsConnection, err: void | Error): void {
    if (this.nc !== nc || !this.running) return;
    this.o.log.error({ err: err?.message }, 'NATS connection closed; dialling again');
    this.onDisconnect(this.server ?? 'unknown');
    this.nc = null;
    this.redial();
  }

  private redial(): void {
    if (!this.running || this.redialTimer) return;
    this.redialTimer = setTimeout(() => {
      this.redialTimer = null;
      this.dial().then(
        (nc) => {
          if (!this.running) {
            void nc.close();
            return;
          }
          this.redialBackoff = REDIAL_MIN_MS;
          this.counts.reconnects++;
          this.adopt(nc);
          this.afterReconnect();
        },
        (err: Error) => {
          this.o.log.warn({ err: err.message }, 'NATS dial failed; retrying');
          this.redialBackoff = Math.min(this.redialBackoff * 2, REDIAL_MAX_MS);
          this.redial();
        },
      );
    }, this.redialBackoff);
    this.redialTimer.unref();
  }

  private onDisconnect(server: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.counts.disconnects++;
    // What the server never confirmed may not have reached it.
    const unconfirmed = this.outbox.down();
    this.o.log.warn(
      { server, unconfirmed, totalUnconfirmed: this.outbox.counts.unconfirmedAtDisconnect },
      unconfirmed > 0
        ? 'lost the NATS connection: messages not yet confirmed by the server may be lost; queueing until it is back'
        : 'lost the NATS connection; queueing until it is back',
    );
    if (!this.running) return;
    for (const peer of this.silence.known()) this.emit({ type: 'linkDown', peer, reason: `NATS connection lost (${server})` });
  }

  private onReconnect(nc: NatsConnection, server: string): void {
    if (this.connected) return;
    this.counts.reconnects++;
    this.connected = true;
    this.connectedSince = performance.now();
    this.server = nc.getServer() || server;
    this.afterReconnect();
  }

  /** Sends what waited, gives peers a fresh silence window, and reports the outage. */
  private afterReconnect(): void {
    const { resent, dropped } = this.outbox.up();
    this.o.log.info({ server: this.server, resent, droppedWhileDown: dropped }, 'NATS connection back');
    if (dropped > 0) {
      this.o.log.warn({ dropped, totalDropped: this.outbox.counts.dropped }, 'messages dropped while NATS was unreachable (queue full)');
    }
    // The silence was ours, not the peers'.
    this.silence.refresh();
    if (!this.running) return;
    for (const peer of this.silence.known()) this.emit({ type: 'linkUp', peer });
  }

  // ---- peers --------------------------------------------------------------------

  private peer(id: NodeId): PeerTraffic {
    let t = this.traffic.get(id);
    if (!t) this.traffic.set(id, (t = { bytesOut: 0, messagesOut: 0, bytesIn: 0, messagesIn: 0 }));
    return t;
  }

  addPeer(peer: NodeId, address: NodeAddress): void {
    if (peer === this.self) return;
    this.peer(peer);
    this.silence.setAddress(peer, address);
  }

  removePeer(peer: NodeId): void {
    this.traffic.delete(peer);
    this.silence.forget(peer);
    this.parts.forget(peer);
  }

  /** Probes the client port of every peer that has been silent too long. */
  private checkSilence(): void {
    if (!this.running || !this.connected) return;
    // Just (re)connected: peers have not had a chance to be heard yet.
    if (performance.now() - this.connectedSince < this.silenceMs) return;
    this.silence.check();
  }

  // ---- outbound -------------------------------------------------------------------

  private encode(msg: NodeMessage): Uint8Array {
    let buf = this.encoded.get(msg);
    if (!buf) {
      buf = encodeNodeMessage(msg);
      this.encoded.set(msg, buf);
    }
    return buf;
  }

  send(to: NodeId, msg: NodeMessage): void {
    if (!this.running) return;
    if (to === this.self) {
      queueMicrotask(() => this.running && this.deliver(this.self, msg));
      return;
    }
    // A name that cannot be a subject cannot be a node of the region: nowhere to send.
    if (!isSubjectToken(to)) return;
    const payload = this.encode(msg);
    const p = this.peer(to);
    p.messagesOut++;
    p.bytesOut += payload.length;
    this.outbox.publish(this.subjects.node(to), payload);
  }

  broadcast(msg: NodeMessage): void {
    if (!this.running) return;
    const payload = this.encode(msg);
    // Published once; counted for every peer it reaches, as the mesh counts each link.
    for (const [id, p] of this.traffic) {
      if (!this.silence.isUp(id)) continue;
      p.messagesOut++;
      p.bytesOut += payload.length;
    }
    this.outbox.publish(this.subjects.control, payload);
  }

  /** Hands one message to the client: whole, or in parts when it exceeds the server's max_payload. */
  private write(subject: string, payload: Uint8Array): void {
    const nc = this.nc;
    if (!nc) throw new Error('no NATS connection');
    const max = Math.max(1024, (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES) - PAYLOAD_HEADROOM_BYTES);
    if (payload.length <= max) {
      nc.publish(subject, payload, { headers: this.fromHeaders });
      return;
    }
    // Consecutive parts from one connection arrive consecutively and in order.
    const parts = splitPayload(payload, max);
    parts.forEach((part, i) => {
      const h = natsHeaders();
      h.set(FROM_HEADER, this.self);
      h.set(PART_HEADER, partLabel(i, parts.length));
      nc.publish(subject, part, { headers: h });
    });
  }

  // ---- inbound --------------------------------------------------------------------

  private onNatsMessage(m: Msg): void {
    if (!this.running) return;
    const from = m.headers?.get(FROM_HEADER);
    if (!from || from === this.self) {
      this.counts.rejected++;
      this.warnEvery('no-sender', { subject: m.subject, totalRejected: this.counts.rejected }, 'NATS message without a valid sender header; dropped');
      return;
    }
    let data = m.data;
    const label = m.headers!.get(PART_HEADER);
    if (label) {
      const r = this.parts.add(from, label, data);
      if (r.lost) {
        this.counts.rejected++;
        this.warnEvery('parts-lost', { peer: from, ...r.lost }, 'a large message from a peer arrived incomplete; dropped');
      }
      if (!r.whole) return;
      data = r.whole;
    }
    let msg: NodeMessage;
    try {
      msg = decodeNodeMessage(data);
    } catch (err) {
      this.counts.rejected++;
      this.warnEvery('undecodable', { peer: from, err: (err as Error).message }, 'undecodable message on NATS; dropped');
      return;
    }
    const p = this.peer(from);
    p.messagesIn++;
    p.bytesIn += data.length;
    this.counts.received++;
    this.counts.receivedBytes += data.length;
    this.lastHeardAny = performance.now();
    if (this.silence.heard(from)) this.emit({ type: 'linkUp', peer: from });
    this.deliver(from, msg);
  }

  private warnEvery(key: string, fields: Record<string, unknown>, text: string): void {
    if (!this.warnings.due(key)) return;
    this.o.log.warn(fields, text);
  }

  // ---- stats ----------------------------------------------------------------------

  stats(): TransportStats {
    return {
      links: [...this.traffic.entries()].map(([peer, p]) => ({
        peer,
        up: this.connected && this.silence.isUp(peer),
        bytesOut: p.bytesOut,
        bytesIn: p.bytesIn,
        messagesOut: p.messagesOut,
        messagesIn: p.messagesIn,
      })),
    };
  }

  natsStats(): NatsTransportStats {
    const q = this.outbox.queued;
    return { connected: this.connected, server: this.server, queued: q.messages, queuedBytes: q.bytes, ...this.outbox.counts, ...this.counts };
  }
}
