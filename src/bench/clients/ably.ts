/**
 * The Ably realtime protocol over a bare `ws` client: connect with
 * `?key=…&format=json&v=6&heartbeats=true`, wait for CONNECTED, ATTACH the channel and
 * wait for ATTACHED. A subscriber then hands every frame to its PayloadScanner, which
 * counts each message of a MESSAGE ProtocolMessage (the server may put several in
 * one); only frames without a payload are decoded, to see HEARTBEAT, ERROR,
 * DISCONNECTED or DETACHED. The publisher sends one MESSAGE per message with its
 * msgSerial and counts ACKs and NACKs.
 */
import WebSocket from 'ws';
import { Action, ActionName, Flag } from '../../protocol/actions.js';
import { nowUs, type PayloadScanner } from '../payload.js';
import type { Target } from '../servers/server.js';
import { closedWithin, handshakeTimer, type ClientAdapter, type ClientEvents, type Conn, type Publisher } from './adapter.js';

/**
 * A client that only listens would be dropped by ably-ng after 3 × maxIdleInterval
 * (45 s) without a frame from it, even with heartbeats=true (reported: Ably's protocol
 * asks nothing of such a client, and browser SDKs send nothing). Long runs would lose
 * subscribers to that, so each connection sends a HEARTBEAT this often.
 */
export const KEEPALIVE_INTERVAL_MS = 20_000;

interface ControlFrame {
  action: number;
  channel?: string;
  msgSerial?: number;
  count?: number;
  error?: { code?: number; message?: string };
}

/** An Ably connection over a bare `ws` socket, as far as closing it goes. */
export interface AblySocket {
  open: boolean;
  /** Set once this side closes: the close that follows is not the server's doing. */
  closing: boolean;
  readonly ws: WebSocket;
  readonly closed: Promise<void>;
}

/**
 * Sends CLOSE (which ends the connection for good: the server keeps no state for a
 * resume), waits a while for the server to close the socket, then drops it.
 */
export async function closeAbly(c: AblySocket): Promise<void> {
  if (!c.open) return;
  c.closing = true;
  c.ws.send(`{"action":${Action.CLOSE}}`);
  await closedWithin(c.closed);
  if (c.open) c.ws.terminate();
  await c.closed;
}

/** The realtime URL the bench's Ably clients connect to (JSON, protocol v6, server heartbeats). */
export function ablyUrl(base: string, key: string, extra = ''): string {
  return `${base}/?key=${encodeURIComponent(key)}&format=json&v=6&heartbeats=true${extra}`;
}

/** One handshake step: the control frame that ends it. */
interface Pending {
  what: string;
  accept: (m: ControlFrame) => boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

class AblyConn implements Conn {
  open = true;
  readonly closed: Promise<void>;
  private pending: Pending | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  closing = false;

  constructor(
    readonly ws: WebSocket,
    protected readonly events: ClientEvents,
    private readonly scanner: PayloadScanner | null,
  ) {
    this.closed = new Promise<void>((r) => ws.once('close', () => r()));
    ws.on('message', (data: Buffer) => this.onFrame(data));
    ws.on('error', (e) => {
      if (this.pending) this.pending.reject(new Error(`${this.pending.what}: ${e.message}`));
      else events.note(`ably: socket error ${e.message}`);
    });
    ws.on('close', (code) => {
      this.open = false;
      if (this.keepalive) clearInterval(this.keepalive);
      if (this.pending) this.pending.reject(new Error(`${this.pending.what}: closed (ws code ${code})`));
      else if (!this.closing) {
        events.unexpectedCloses++;
        events.note(`ably: connection closed by server (ws code ${code})`);
      }
    });
  }

  /** Sends `frame` (if any) and waits for the control frame `accept` wants. */
  expect(what: string, accept: (m: ControlFrame) => boolean, frame?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = handshakeTimer(what, reject, () => {
        this.pending = null;
        this.closing = true;
        this.ws.terminate();
      });
      this.pending = {
        what,
        accept,
        resolve: () => {
          clearTimeout(timer);
          this.pending = null;
          resolve();
        },
        reject: (e) => {
          // A failed handshake is the caller's error, not a server-side disconnect.
          clearTimeout(timer);
          this.pending = null;
          this.closing = true;
          this.ws.terminate();
          reject(e);
        },
      };
      if (frame) this.ws.send(frame);
    });
  }

  private onFrame(data: Buffer): void {
    if (this.scanner && this.scanner.scan(data, nowUs()) > 0) return;
    let m: ControlFrame;
    try {
      m = JSON.parse(data.toString('utf8')) as ControlFrame;
    } catch {
      this.events.note('ably: undecodable frame');
      return;
    }
    const p = this.pending;
    if (p) {
      if (p.accept(m)) p.resolve();
      else if (m.action === Action.ERROR || m.action === Action.DISCONNECTED || m.action === Action.DETACHED) {
        p.reject(new Error(`${p.what}: ${ActionName[m.action]} ${m.error?.code} ${m.error?.message}`));
      }
      return;
    }
    this.control(m);
  }

  /** Frames after the handshake that carry no payload. */
  protected control(m: ControlFrame): void {
    switch (m.action) {
      case Action.HEARTBEAT:
      case Action.CLOSED:
        return;
      case Action.MESSAGE:
        this.events.note('ably: MESSAGE without a benchmark payload');
        return;
      default:
        this.events.note(`ably: ${ActionName[m.action] ?? m.action}${m.error ? ` ${m.error.code} ${m.error.message}` : ''}`);
    }
  }

  startKeepalive(): void {
    // Spread over the interval, so thousands of connections do not beat at once.
    const first = setTimeout(() => {
      this.beat();
      this.keepalive = setInterval(() => this.beat(), KEEPALIVE_INTERVAL_MS);
      this.keepalive.unref();
    }, Math.random() * KEEPALIVE_INTERVAL_MS);
    first.unref();
    this.ws.once('close', () => clearTimeout(first));
  }

  private beat(): void {
    if (this.open) this.ws.send(`{"action":${Action.HEARTBEAT}}`);
  }

  close(): Promise<void> {
    return closeAbly(this);
  }
}

/** Opens the socket and waits for CONNECTED. */
async function connectAbly(base: string, target: Target, events: ClientEvents, scanner: PayloadScanner | null, extra = ''): Promise<AblyConn> {
  if (!target.key) throw new Error('an Ably target needs a key');
  const ws = new WebSocket(ablyUrl(base, target.key, extra), { perMessageDeflate: false, skipUTF8Validation: true });
  const c = new AblyConn(ws, events, scanner);
  await c.expect('ably connect', (m) => m.action === Action.CONNECTED);
  c.startKeepalive();
  return c;
}

function attach(c: AblyConn, channel: string, flags?: number): Promise<void> {
  return c.expect(
    'ably attach',
    (m) => m.action === Action.ATTACHED && m.channel === channel,
    JSON.stringify({ action: Action.ATTACH, channel, ...(flags !== undefined ? { flags } : {}) }),
  );
}

class AblyPublisher extends AblyConn implements Publisher {
  readonly acknowledges = true;
  accepted = 0;
  rejected = 0;
  private msgSerial = 0;
  private readonly prefix: string;

  constructor(ws: WebSocket, events: ClientEvents, channel: string) {
    super(ws, events, null);
    this.prefix = `{"action":${Action.MESSAGE},"channel":${JSON.stringify(channel)},"msgSerial":`;
  }

  publish(payload: string): void {
    // The payload is digits, "~" and "x": nothing to escape in JSON.
    this.ws.send(`${this.prefix}${this.msgSerial++},"messages":[{"name":"m","data":"${payload}"}]}`);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  protected override control(m: ControlFrame): void {
    if (m.action === Action.ACK) {
      this.accepted += m.count ?? 1;
      return;
    }
    if (m.action === Action.NACK) {
      this.rejected += m.count ?? 1;
      this.events.note(`ably: NACK ${m.error?.code} ${m.error?.message}`);
      return;
    }
    super.control(m);
  }
}

export const ablyAdapter: ClientAdapter = {
  protocol: 'ably',

  async subscribe(base, target, scanner, events) {
    const c = await connectAbly(base, target, events, scanner);
    await attach(c, target.channel);
    return c;
  },

  async publisher(target, events) {
    if (!target.key) throw new Error('an Ably target needs a key');
    // echo=false: the publisher does not receive its own messages; attached for publishing only.
    const ws = new WebSocket(ablyUrl(target.publisherUrl, target.key, '&echo=false'), { perMessageDeflate: false, skipUTF8Validation: true });
    const p = new AblyPublisher(ws, events, target.channel);
    await p.expect('ably publisher connect', (m) => m.action === Action.CONNECTED);
    p.startKeepalive();
    await attach(p, target.channel, Flag.PUBLISH);
    return p;
  },

  connect(base, target, events) {
    return connectAbly(base, target, events, null);
  },
};
