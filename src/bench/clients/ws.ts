/**
 * The raw `ws` broadcast baselines: a subscriber is an open socket whose every frame is
 * one message; the publisher sends each message as one text frame.
 */
import WebSocket from 'ws';
import { nowUs } from '../payload.js';
import { closedWithin, handshakeTimer, type ClientAdapter, type ClientEvents, type Conn, type Publisher } from './adapter.js';


class WsConn implements Conn {
  open = true;
  closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    events: ClientEvents,
  ) {
    this.closed = new Promise<void>((r) => ws.once('close', () => r()));
    ws.on('error', (e) => events.note(`ws: socket error ${e.message}`));
    ws.on('close', (code) => {
      this.open = false;
      if (!this.closing) {
        events.unexpectedCloses++;
        events.note(`ws: connection closed by server (ws code ${code})`);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.closing = true;
    this.ws.close(1000);
    await closedWithin(this.closed);
    if (this.open) this.ws.terminate();
    await this.closed;
  }
}

class WsPublisher extends WsConn implements Publisher {
  readonly acknowledges = false;
  readonly accepted = 0;
  readonly rejected = 0;

  publish(payload: string): void {
    this.ws.send(payload);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }
}

function open<T extends WsConn>(url: string, make: (ws: WebSocket) => T): Promise<T> {
  const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  const c = make(ws);
  return new Promise<T>((resolve, reject) => {
    const fail = (e: Error) => {
      clearTimeout(timer);
      c.closing = true;
      ws.terminate();
      reject(e);
    };
    const timer = handshakeTimer('ws connect', fail, () => undefined);
    ws.once('error', fail);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.removeListener('error', fail);
      resolve(c);
    });
  });
}

export const wsAdapter: ClientAdapter = {
  protocol: 'ws',

  async subscribe(url, _target, scanner, events) {
    const c = await open(url, (ws) => new WsConn(ws, events));
    c.ws.on('message', (data: Buffer) => scanner.scan(data, nowUs()));
    return c;
  },

  publisher(target, events) {
    return open(target.publisherUrl, (ws) => new WsPublisher(ws, events));
  },

  connect(url, _target, events) {
    return open(url, (ws) => new WsConn(ws, events));
  },
};
