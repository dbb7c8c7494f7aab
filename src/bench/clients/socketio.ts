/**
 * socket.io 4 through `socket.io-client` (the protocol's own client: engine.io and
 * socket.io framing), WebSocket transport only, no reconnection, one manager per
 * connection. Subscribers get each message as an `m` event; the publisher emits `p`.
 */
import { io, type Socket } from 'socket.io-client';
import { nowUs } from '../payload.js';
import { closedWithin, HANDSHAKE_TIMEOUT_MS, type ClientAdapter, type ClientEvents, type Conn, type Publisher } from './adapter.js';


class SioConn implements Conn {
  open = true;
  private closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    events: ClientEvents,
  ) {
    this.closed = new Promise<void>((r) => socket.once('disconnect', () => r()));
    socket.on('disconnect', (reason) => {
      this.open = false;
      if (!this.closing) {
        events.unexpectedCloses++;
        events.note(`socket.io: disconnected (${reason})`);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.closing = true;
    this.socket.disconnect();
    await closedWithin(this.closed);
    this.open = false;
  }
}

class SioPublisher extends SioConn implements Publisher {
  readonly acknowledges = false;
  readonly accepted = 0;
  readonly rejected = 0;

  publish(payload: string): void {
    this.socket.emit('p', payload);
  }

  bufferedBytes(): number {
    return 0;
  }
}

/** `http://host:port/?role=x` → the base URL and its query, as socket.io-client wants them. */
function split(url: string): { base: string; query: Record<string, string> } {
  const u = new URL(url);
  return { base: `${u.protocol}//${u.host}`, query: Object.fromEntries(u.searchParams) };
}

function open<T extends SioConn>(url: string, make: (s: Socket) => T): Promise<T> {
  const { base, query } = split(url);
  const socket = io(base, { transports: ['websocket'], query, reconnection: false, forceNew: true, timeout: HANDSHAKE_TIMEOUT_MS });
  return new Promise<T>((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('connect_error');
      resolve(make(socket));
    });
    socket.once('connect_error', (e) => {
      socket.close();
      reject(new Error(`socket.io connect: ${e.message}`));
    });
  });
}

export const socketIoAdapter: ClientAdapter = {
  protocol: 'socketio',

  async subscribe(url, _target, scanner, events) {
    const c = await open(url, (s) => new SioConn(s, events));
    c.socket.on('m', (data: string) => scanner.scanString(data, nowUs()));
    return c;
  },

  publisher(target, events) {
    return open(target.publisherUrl, (s) => new SioPublisher(s, events));
  },

  connect(url, _target, events) {
    return open(url, (s) => new SioConn(s, events));
  },
};
