/**
 * The gateway of one node: an HTTP server that serves REST and upgrades `/` to the
 * Ably realtime protocol over WebSocket. It keeps the node's connections, sweeps them
 * for keepalive, and disconnects them all on shutdown so that SDKs reconnect elsewhere.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AblyError } from '../errors.js';
import { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from '../config/defaults.js';
import { Action } from '../protocol/actions.js';
import { encodeFrame } from '../protocol/codec.js';
import type { WireFormat } from '../protocol/types.js';
import { authenticate, type Authenticator } from './auth.js';
import { Connection } from './connection.js';
import { connectionKeyFor, newConnectionId, verifyConnectionKey } from './connection-key.js';
import { handleRest } from './rest.js';
import type { GatewayServices } from './services.js';

/** How often connections are swept for keepalive pings and dead clients. */
const SWEEP_INTERVAL_MS = 1000;
/** On shutdown, publishes in flight get this long to be answered before clients are disconnected. */
const DRAIN_TIMEOUT_MS = 3000;

export class Gateway {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<string, Connection>();
  private sweeper: NodeJS.Timeout | null = null;
  private accepting = true;

  constructor(
    private readonly services: GatewayServices,
    private readonly auth: Authenticator,
  ) {
    this.http = createServer((req, res) => {
      void handleRest(req, res, { services, auth });
    });
    this.http.keepAliveTimeout = 65_000;
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // ws itself refuses frames past this; ours answer with an Ably error below that.
      maxPayload: services.limits.maxFrameSize * 2,
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
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
      this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweeper.unref();
      return p as number;
    });
  }

  private sweep(): void {
    const now = this.services.now();
    for (const c of this.connections.values()) c.tick(now);
  }

  /** Tells every client to reconnect elsewhere (DISCONNECTED), e.g. on shutdown or lost quorum. */
  disconnectAll(error: AblyError): void {
    for (const c of this.connections.values()) c.disconnect(error);
  }

  async close(): Promise<void> {
    this.accepting = false;
    if (this.sweeper) clearInterval(this.sweeper);
    const bye = new AblyError(80003, 503, 'node shutting down; reconnect to another node');
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
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/' || !this.accepting) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, url.searchParams));
  }

  /**
   * A new WebSocket. Problems are reported as Ably ERRORs over the socket (the SDKs
   * cannot read a refused handshake), then the socket is closed.
   */
  private onWebSocket(ws: WebSocket, q: URLSearchParams): void {
    const formatParam = q.get('format') ?? 'json';
    const format: WireFormat = formatParam === 'msgpack' ? 'msgpack' : 'json';
    const refuse = (err: AblyError) => {
      ws.send(encodeFrame({ action: Action.ERROR, error: err.toInfo() }, format), { binary: format === 'msgpack' });
      ws.close(1008);
    };
    if (formatParam !== 'json' && formatParam !== 'msgpack') {
      refuse(AblyError.of('invalidParameterValue', 'format must be "json" or "msgpack"'));
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
    const secret = this.services.connectionSecret;
    // Connection-level resume is not kept across transports yet: a client that asks for it
    // gets a new connection with the reason, and resumes its channels by channelSerial.
    const asked = q.get('resume') ?? q.get('recover');
    let startError: AblyError | undefined;
    if (asked) {
      startError = verifyConnectionKey(secret, asked)
        ? AblyError.of('connectionExpired', 'connection state is not available; channels resume from their serials')
        : AblyError.of('invalidConnectionKey', 'connection key was not issued by this region');
    }
    const id = newConnectionId();
    const conn = new Connection(
      ws,
      {
        id,
        key: connectionKeyFor(secret, id),
        format,
        echo: q.get('echo') !== 'false',
        heartbeats: q.get('heartbeats') !== 'false',
        credentials,
      },
      this.services,
    );
    this.connections.set(id, conn);
    this.services.metrics.connectionOpened();
    conn.onClose = () => {
      this.connections.delete(id);
      this.services.metrics.connectionClosed();
    };
    conn.start(startError);
  }
}
