/**
 * The gateway of one node: an HTTP server that serves REST and upgrades `/` to the
 * Ably realtime protocol over WebSocket. It keeps the node's connections, sweeps them
 * for keepalive, and disconnects them all on shutdown so that SDKs reconnect elsewhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AblyError } from '../errors.js';
import { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from '../config/defaults.js';
import { Action } from '../protocol/actions.js';
import { encodeFrame } from '../protocol/codec.js';
import type { WireFormat } from '../protocol/types.js';
import type { Credentials } from '../auth/keys.js';
import { authenticate, type Authenticator } from './auth.js';
import { Connection } from './connection.js';
import { connectionKeyFor, newConnectionId, verifyConnectionKey } from './connection-key.js';
import { handleRest } from './rest.js';
import { cors, requestUrl } from './http-util.js';
import type { GatewayServices } from './services.js';
import { atCapacityError, closeSocket, connectionCaps, memoryFullError, refuseUpgrade, type ConnectionCaps } from './admission.js';
import { openFileLimit } from '../open-files.js';
import { memoryBudget } from '../memory-budget.js';

/**
 * Whether a resuming client's identity may take over a connection that had `had`: the
 * same clientId, or neither naming one (anonymous or a key holder acting as any).
 */
function compatibleClientId(had: string | null, now: string | null): boolean {
  const specific = (c: string | null) => c !== null && c !== '*';
  return specific(had) || specific(now) ? had === now : true;
}

/**
 * How often connections are swept for keepalive pings and dead clients: every second, or
 * a quarter of maxIdleInterval if that is shorter (a client gets a ping well before the
 * 3 × maxIdleInterval of silence that ends it).
 */
const SWEEP_INTERVAL_MS = 1000;
/** On shutdown, publishes in flight get this long to be answered before clients are disconnected. */
const DRAIN_TIMEOUT_MS = 3000;
/** A node's word that its connections' presence members are here waits this long after what set it off (presenceHereSoon). */
const PRESENCE_HERE_DELAY_MS = 10;
/** Within this many sockets of the socket cap, idle keep-alive REST sockets are closed as each new socket comes. */
const IDLE_CLOSE_MARGIN = 16;
/**
 * A client socket that has sent nothing this long is closed (the sweep): Node times a
 * request's headers only once its first byte has come, and such a socket held its
 * descriptor until the 70 s idle timeout.
 */
const SILENT_TIMEOUT_MS = 10_000;
/** Near the socket cap, one silent this long is closed as each new socket comes (or is dropped). */
const SILENT_NEAR_CAP_MS = 2000;
/** Refused connections are logged at most this often (with how many since the last line). */
const REFUSED_LOG_MS = 10_000;

/** What clients of a node without quorum are told (DISCONNECTED): reconnect elsewhere. */
export function cutOffError(): AblyError {
  return new AblyError(80003, 503, 'node is cut off from its region; reconnect');
}

/** What a resuming client is told when its connection's state cannot be reached from this node (DISCONNECTED): try again. */
export function unreachableStateError(): AblyError {
  return new AblyError(80003, 503, 'this node cannot reach the connection\'s state now; reconnect to resume it');
}

/** What clients of a node that is stopping are told (DISCONNECTED): reconnect elsewhere. */
function shuttingDownError(): AblyError {
  return new AblyError(80003, 503, 'node shutting down; reconnect to another node');
}

/** Tells a socket `err` (DISCONNECTED: try again; ERROR: refused), then closes it (closeSocket); nothing to one gone. */
function sendAndClose(ws: WebSocket, format: WireFormat, action: typeof Action.DISCONNECTED | typeof Action.ERROR, err: AblyError, code: number): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(encodeFrame({ action, error: err.toInfo() }, format), { binary: format === 'msgpack' });
  closeSocket(ws, code);
}

export class Gateway {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, Connection>();
  private sweeper: NodeJS.Timeout | null = null;
  private accepting = true;
  /** A presenceHere is due (presenceHereSoon). */
  private presenceHerePending = false;
  /** How many clients this node takes (admission.ts). */
  private readonly caps: ConnectionCaps;
  /** Sockets admitted whose connection is being opened (a resume's state looked up): they count against the cap. */
  private readonly opening = new Set<WebSocket>();
  /** Client sockets open (REST and WebSocket), against `caps.sockets`. */
  private sockets = 0;
  /** REST sockets kept alive between requests, their last answer written out (restBusy). */
  private readonly idleRest = new Set<Duplex>();
  /** Client sockets that have sent nothing yet, and when each came (monotonic ms), oldest first. */
  private readonly silent = new Map<Duplex, number>();
  /** Per REST socket, its answers not yet written out (restBusy). */
  private readonly restAnswering = new WeakMap<Duplex, number>();
  /** Connections refused since the last log line of them, and when that was. */
  private refused = { count: 0, loggedAt: -Infinity };

  constructor(
    private readonly services: GatewayServices,
    private readonly auth: Authenticator,
  ) {
    this.http = createServer({ connectionsCheckingInterval: 2000 }, (req, res) => {
      // handleRest answers its own errors; should that answer fail, the request ends here
      // and the node goes on.
      // Near the socket cap, no REST socket is kept alive idle after its answer.
      if (this.nearSocketCap()) res.setHeader('connection', 'close');
      this.silent.delete(req.socket);
      this.restBusy(req.socket, res);
      if (!cors(req, res)) {
        handleRest(req, res, { services, auth }).catch((err: unknown) => {
          services.log.error({ err }, 'REST request failed while answering its error');
          res.destroy();
        });
      }
    });
    this.http.keepAliveTimeout = 65_000;
    // Headers begun must be whole within 10 s (Node's default, 60 s, let a client that sends
    // them a byte at a time hold a socket that long); checked every 2 s (not 30). A body keeps
    // Node's 300 s: a 2 MiB one over a slow link needs it (a review's finding at 60 s).
    this.http.headersTimeout = 10_000;
    // A REST socket on which nothing moves this long is closed: a client that does not read
    // its response (a history page, up to HISTORY_PAGE_MAX_BYTES) held it in memory until it
    // went away. A WebSocket's socket is not timed (ws sets no timeout on upgrade).
    this.http.timeout = 70_000;
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // ws itself refuses frames past this; ours answer with an Ably error below that.
      maxPayload: services.limits.maxFrameSize * 2,
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
    const gateway = this;
    this.socketClosed = function (this: Duplex) {
      gateway.sockets--;
      gateway.silent.delete(this);
    };
    this.caps = connectionCaps(services.limits.maxConnectionsPerNode, openFileLimit().soft, services.regionSize);
    // Past this the server closes each socket as it is accepted: no Ably error can be sent,
    // but the node keeps descriptors for its own links, and its clients.
    if (Number.isFinite(this.caps.sockets)) this.http.maxConnections = this.caps.sockets;
    this.http.on('connection', (socket: Duplex) => {
      // Near the cap, REST sockets kept alive idle (65 s) give their descriptors back: they
      // would otherwise shut out health checks and REST requests while WebSockets hold the rest.
      this.sockets++;
      const now = this.services.monotonic();
      this.silent.set(socket, now);
      if (this.nearSocketCap()) this.makeRoom(now);
      socket.on('close', this.socketClosed); // one function for all: no closure a socket
    });
    // At it, a socket is dropped as accepted, with no 'connection': those that came together
    // and went idle after their answers would otherwise hold the cap until they time out.
    this.http.on('drop', () => this.makeRoom(this.services.monotonic()));
    const asked = services.limits.maxConnectionsPerNode;
    const level = asked !== undefined && asked > this.caps.connections ? 'warn' : 'info';
    services.log[level]({ ...this.caps, asked }, asked !== undefined && level === 'warn'
      ? `client connections capped at ${this.caps.connections}, not limits.maxConnectionsPerNode's ${asked}: the open-file limit is ${this.caps.openFiles} (raise the hard limit: ulimit -Hn, LimitNOFILE)`
      : 'client connections capped');
  }

  /** A client socket's 'close' (one function for all, `this` the socket). */
  private readonly socketClosed: (this: Duplex) => void;

  /** Near the socket cap: closes the REST sockets kept alive idle, and those silent SILENT_NEAR_CAP_MS. */
  private makeRoom(now: number): void {
    this.closeIdleRest();
    this.closeSilent(now - SILENT_NEAR_CAP_MS);
  }

  /** Closes the client sockets that came before `before` and have sent nothing since. */
  private closeSilent(before: number): void {
    for (const [socket, at] of this.silent) {
      if (at > before) break; // the rest came later (a Map keeps the order they came)
      this.silent.delete(socket);
      socket.destroy();
    }
  }

  /**
   * A REST request on `socket`: busy until its answer, and those of requests pipelined
   * after it, are written out; idle after (kept alive). Not Node's closeIdleConnections:
   * it takes an answer as done once ended, not once written, and cut off a history page
   * going to a slow reader (a review's finding).
   */
  private restBusy(socket: Duplex, res: ServerResponse): void {
    this.idleRest.delete(socket);
    const open = this.restAnswering.get(socket);
    if (open === undefined) socket.once('close', () => this.idleRest.delete(socket));
    this.restAnswering.set(socket, (open ?? 0) + 1);
    res.once('close', () => {
      // 'close' follows 'finish', or comes alone when the socket went first.
      const left = (this.restAnswering.get(socket) ?? 1) - 1;
      this.restAnswering.set(socket, left);
      if (left === 0 && !socket.destroyed) this.idleRest.add(socket);
    });
  }

  /** Closes the REST sockets kept alive with no request (their clients open another if they need one). */
  private closeIdleRest(): void {
    for (const socket of this.idleRest) socket.destroy();
    this.idleRest.clear();
  }

  /** Whether client sockets are within IDLE_CLOSE_MARGIN of their cap. */
  private nearSocketCap(): boolean {
    return this.sockets >= this.caps.sockets - IDLE_CLOSE_MARGIN;
  }

  /** Open connections, and the caps, for the node's health. */
  healthView(): { connections: number; sockets: number; connectionCaps: ConnectionCaps; admitting: boolean } {
    // admitting: whether it takes new connections (not at its memory budget), for balancers.
    return { connections: this.connections.size, sockets: this.sockets, connectionCaps: this.caps, admitting: !memoryBudget.isFull() };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const addr = this.http.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    }).then((p) => {
      this.sweeper = setInterval(() => this.sweep(), Math.min(SWEEP_INTERVAL_MS, this.services.limits.maxIdleIntervalMs / 4));
      this.sweeper.unref();
      return p as number;
    });
  }

  private sweep(): void {
    const now = this.services.monotonic();
    for (const c of this.connections.values()) c.tick(now);
    this.closeSilent(now - SILENT_TIMEOUT_MS);
  }

  /** Tells every client to reconnect elsewhere (DISCONNECTED), e.g. on shutdown or lost quorum. */
  disconnectAll(error: AblyError): void {
    for (const c of this.connections.values()) c.disconnect(error);
  }

  async close(): Promise<void> {
    this.accepting = false;
    if (this.sweeper) clearInterval(this.sweeper);
    const bye = shuttingDownError();
    await Promise.all([...this.connections.values()].map((c) => c.drain(bye, DRAIN_TIMEOUT_MS)));
    await new Promise<void>((resolve) => {
      this.wss.close(() => resolve());
      // Give clients a moment to read DISCONNECTED, then drop whatever is left.
      setTimeout(() => {
        for (const ws of this.wss.clients) ws.terminate();
        resolve();
      }, 500).unref();
    });
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.idleRest.delete(socket); // a REST socket kept alive, upgraded now: not REST's to close
    this.silent.delete(socket);
    const url = requestUrl(req);
    if (!url) {
      refuseUpgrade(socket, '400 Bad Request');
      return;
    }
    if (url.pathname !== '/' || !this.accepting) {
      refuseUpgrade(socket, '404 Not Found');
      return;
    }
    if (this.nearSocketCap()) {
      // The last sockets are REST's and health checks': no WebSocket takes one, even to be
      // turned away. The SDK takes a refused handshake as a failed transport, and retries.
      refuseUpgrade(socket, '503 Service Unavailable');
      this.countRefused('capacity', 'WebSocket upgrade answered 503: the node is near its socket cap');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, url.searchParams));
  }

  /**
   * Sends a socket elsewhere: DISCONNECTED with `err` (the SDK tries again, here or at a
   * fallback host), then closes it, and drops it if its client has not closed it soon after.
   */
  private turnAway(ws: WebSocket, format: WireFormat, err: AblyError): void {
    sendAndClose(ws, format, Action.DISCONNECTED, err, 1000);
  }

  /** A connection this node has no room for: turned away, counted, and logged now and then. */
  private noRoom(ws: WebSocket, format: WireFormat, err: AblyError, reason: 'capacity' | 'memory'): void {
    this.turnAway(ws, format, err);
    this.countRefused(reason, err.message);
  }

  /** A refused connection, counted, and logged at most every REFUSED_LOG_MS (with how many since). */
  private countRefused(reason: 'capacity' | 'memory', why: string): void {
    this.services.metrics.connectionRefused(reason);
    this.refused.count++;
    const now = this.services.monotonic();
    if (now - this.refused.loggedAt < REFUSED_LOG_MS) return;
    this.services.log.warn({ refused: this.refused.count, reason, connections: this.connections.size, sockets: this.sockets }, why);
    this.refused = { count: 0, loggedAt: now };
  }

  /**
   * A new WebSocket. Problems are reported as Ably ERRORs over the socket (the SDKs
   * cannot read a refused handshake), then the socket is closed.
   */
  private onWebSocket(ws: WebSocket, q: URLSearchParams): void {
    // From the start: `ws` reports a bad frame (unmasked, bad UTF-8, oversized) as an
    // 'error' event, which with no listener stops the process. Before, the listener came
    // with the Connection, so a bad frame sent while this socket was refused, or while a
    // resume was being looked up, stopped the node.
    ws.on('error', (err) => this.services.log.debug({ err: err.message }, 'websocket error'));
    const formatParam = q.get('format') ?? 'json';
    const format: WireFormat = formatParam === 'msgpack' ? 'msgpack' : 'json';
    const refuse = (err: AblyError) => sendAndClose(ws, format, Action.ERROR, err, 1008);
    if (formatParam !== 'json' && formatParam !== 'msgpack') {
      refuse(AblyError.of('invalidParameterValue', 'format must be "json" or "msgpack"'));
      return;
    }
    if (!this.services.hasQuorum()) {
      // Cut off from its region: this node serves no channel. A client that reconnected
      // here as it lost quorum (its balancer had not yet seen it) would wait for the
      // partition to end; DISCONNECTED sends it elsewhere, as the clients it dropped.
      this.turnAway(ws, format, cutOffError());
      return;
    }
    const v = q.get('v');
    if (v !== null && (!/^\d+$/.test(v) || Number(v) < MIN_PROTOCOL_VERSION || Number(v) > MAX_PROTOCOL_VERSION)) {
      refuse(AblyError.of('unsupportedProtocolVersion', `protocol version ${v} is not supported (${MIN_PROTOCOL_VERSION}..${MAX_PROTOCOL_VERSION})`));
      return;
    }
    let credentials;
    try {
      credentials = authenticate(this.auth, {
        key: q.get('key'),
        token: q.get('access_token') ?? q.get('accessToken'),
        clientId: q.get('clientId'),
      });
    } catch (err) {
      refuse(err instanceof AblyError ? err : AblyError.of('invalidCredentials'));
      return;
    }
    // Room is counted in connections and opens under way, not sockets: those being turned
    // away do not count. A resume of a connection held here takes its place: its old socket
    // may not be known to be gone yet (45 s), and would keep it out until then.
    const asked = q.get('resume') ?? q.get('recover');
    const wanted = asked ? verifyConnectionKey(this.services.connectionSecret, asked) : null;
    const full = this.connections.size + this.opening.size >= this.caps.connections;
    if (full && !(wanted && this.connections.has(wanted))) {
      this.noRoom(ws, format, atCapacityError(this.caps), 'capacity');
      return;
    }
    this.opening.add(ws);
    void this.open(ws, format, q, credentials, asked, wanted, full)
      .catch((err) => {
        this.services.log.error({ err }, 'failed to open connection');
        refuse(AblyError.of('internalConnection', (err as Error).message));
      })
      .finally(() => this.opening.delete(ws));
  }

  /**
   * Opens the connection: resumes it (same connectionId) when `resume=` or `recover=`
   * names one whose state the region still holds, for compatible credentials; otherwise
   * starts a new one, with the reason in CONNECTED's error (the SDK then resets msgSerial
   * and resumes its channels by channelSerial).
   */
  private async open(ws: WebSocket, format: WireFormat, q: URLSearchParams, credentials: Credentials, asked: string | null, wanted: string | null, full: boolean): Promise<void> {
    const secret = this.services.connectionSecret;
    let startError: AblyError | undefined;
    /** The connection this one resumes, taken from its host. */
    let taken: { connectionId: string; appId: string; clientId: string | null } | null = null;
    if (asked) {
      if (!wanted) {
        startError = AblyError.of('invalidConnectionKey', 'connection key was not issued by this region');
      } else {
        const compatible = (r: { appId: string; clientId: string | null }) => r.appId === credentials.appId && compatibleClientId(r.clientId, credentials.clientId);
        const rec = await this.services.connections.take(wanted, compatible);
        if (rec === 'unreachable') {
          // Not known to be gone: the client tries again (here or elsewhere) and resumes it.
          this.services.log.warn({ connectionId: wanted }, 'resume refused for now: no node holding the connection\'s record answered');
          this.turnAway(ws, format, unreachableStateError());
          return;
        }
        if (!rec) {
          startError = AblyError.of('connectionExpired', 'connection state is no longer held; channels resume from their serials');
        } else if (!compatible(rec)) {
          // Not taken: its host keeps it (a live connection is not ended by someone else's resume).
          startError = new AblyError(80019, 401, 'unable to resume connection: credentials do not match the connection\'s');
        } else {
          taken = { connectionId: wanted, appId: rec.appId, clientId: rec.clientId };
        }
      }
    }
    // Gone while the resume was looked up, or the node stopped or lost its quorum meanwhile
    // (the client is sent elsewhere). What was taken from its host (told to let go) is kept
    // as a lost one's record, so it expires (its members leave: ConnectionPresence).
    if (ws.readyState !== ws.OPEN || !this.accepting || !this.services.hasQuorum()) {
      if (taken) this.services.connections.lost(taken, this.services.now() + this.services.limits.connectionStateTtlMs);
      this.turnAway(ws, format, this.accepting ? cutOffError() : shuttingDownError()); // nothing to a socket gone
      return;
    }
    // Let in at the cap as the resume of a connection held here, and not that (its record
    // gone, or other credentials): a new connection, which there is no room for.
    if (!taken && full) {
      this.noRoom(ws, format, atCapacityError(this.caps), 'capacity');
      return;
    }
    // A new connection at the memory budget. A resume whose state was taken goes on (and so
    // do its channels, re-attached with their serials: hub.ts).
    if (!taken && memoryBudget.isFull()) {
      this.noRoom(ws, format, memoryFullError(memoryBudget.describe()), 'memory');
      return;
    }
    const resumed = taken !== null;
    if (asked) this.services.log.debug({ connectionId: taken?.connectionId, resumed, err: startError?.message }, 'connection resume asked');
    const connectionId = taken?.connectionId ?? newConnectionId();
    const existing = this.connections.get(connectionId);
    if (existing) existing.supersede();
    const conn = new Connection(
      ws,
      {
        id: connectionId,
        key: connectionKeyFor(secret, connectionId),
        format,
        echo: q.get('echo') !== 'false',
        heartbeats: q.get('heartbeats') !== 'false',
        credentials,
        resumed,
        auth: this.auth,
      },
      this.services,
    );
    this.opening.delete(ws); // counted as a connection from here
    this.connections.set(connectionId, conn);
    this.services.metrics.connectionOpened(credentials.appId);
    conn.onClose = () => {
      if (this.connections.get(connectionId) === conn) this.connections.delete(connectionId);
      this.services.metrics.connectionClosed(credentials.appId);
    };
    const since = await this.services.connections.opened({ connectionId, appId: credentials.appId, clientId: credentials.clientId });
    conn.start(since, startError);
  }

  /** Another node resumed this connection: drop our transport of it, quietly. */
  moved(connectionId: string): void {
    this.connections.get(connectionId)?.supersede();
  }

  /** The node heard of new token revocations of these keys: each connection on a token of one looks whether it is among them (token-watch.ts). */
  checkRevocations(keys: ReadonlySet<string>): void {
    for (const c of this.connections.values()) c.revocationsChanged(keys);
  }

  /**
   * presenceHere, once for what set it off in a turn (the ring changes of a turn), and after
   * the turn's I/O: a node back from a pause first takes in the closes of the sockets its
   * clients left meanwhile, and does not speak for connections no longer here. A timer, not
   * setImmediate: sockets' 'close' events come after the check phase. `speak`: whether the
   * node may speak then (it has quorum, it is not stopping).
   */
  presenceHereSoon(speak: () => boolean): void {
    if (this.presenceHerePending) return;
    this.presenceHerePending = true;
    setTimeout(() => (speak() ? this.presenceHere() : (this.presenceHerePending = false)), PRESENCE_HERE_DELAY_MS).unref();
  }

  /**
   * Tells the masters of the channels this node's open connections entered presence on
   * that their members are here (after a ring change, or a new life of this node that kept
   * its clients). A master may have been told they would leave, and not of their coming
   * back: this node was declared down (paused, cut off) and kept its clients, or the master
   * that heard a connection come back lost its state (chaos seed 1220: members whose
   * clients stayed left 15 s later). One request per connection and channel, in order with
   * the connection's other holds there (GatewayServices.hold).
   */
  presenceHere(): void {
    this.presenceHerePending = false;
    for (const c of this.connections.values()) {
      for (const key of c.presenceChannels()) {
        this.services.hold(key, c.id, null, c.since).catch((err: Error) => this.services.log.warn({ channel: key, err: err.message }, 'presence hold failed'));
      }
    }
  }
}
