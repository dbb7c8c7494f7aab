/**
 * Core NATS over nats-server's WebSocket listener, spoken directly over a bare `ws`
 * client (the text protocol is four verbs): wait for INFO, send CONNECT (echo off,
 * not verbose), SUB and PING, and take the PONG as "subscribed". nats-server packs many
 * MSGs into one WebSocket frame and may cut one across two, so a subscriber's scanner
 * is streaming. The server's PINGs are answered with PONG.
 */
import WebSocket from 'ws';
import { nowUs } from '../payload.js';
import type { Target } from '../servers/server.js';
import { closedWithin, handshakeTimer, type ClientAdapter, type ClientEvents, type Conn, type Publisher } from './adapter.js';

const CONNECT = `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, echo: false, protocol: 1, name: 'ably-ng-bench', lang: 'node', version: '1' })}\r\n`;
const PING = Buffer.from('PING\r\n');
const PONG = Buffer.from('PONG\r\n');
const ERR = Buffer.from('-ERR');

let sid = 0;

class NatsConn implements Conn {
  open = true;
  closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    protected readonly events: ClientEvents,
  ) {
    this.closed = new Promise<void>((r) => ws.once('close', () => r()));
    ws.on('error', (e) => events.note(`nats: socket error ${e.message}`));
    ws.on('close', (code) => {
      this.open = false;
      if (!this.closing) {
        events.unexpectedCloses++;
        events.note(`nats: connection closed by server (ws code ${code})`);
      }
    });
  }

  /** Answers PING, notes -ERR; cheap enough to run on every frame. */
  control(data: Buffer): void {
    if (data.indexOf(PING) !== -1) this.ws.send(PONG);
    const e = data.indexOf(ERR);
    if (e !== -1) this.events.note(`nats: ${data.subarray(e, data.indexOf(0x0d, e)).toString()}`);
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

class NatsPublisher extends NatsConn implements Publisher {
  readonly acknowledges = false;
  readonly accepted = 0;
  readonly rejected = 0;
  private readonly head: string;

  constructor(ws: WebSocket, events: ClientEvents, subject: string) {
    super(ws, events);
    this.head = `PUB ${subject} `;
  }

  publish(payload: string): void {
    this.ws.send(`${this.head}${Buffer.byteLength(payload)}\r\n${payload}\r\n`);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }
}

/** Connects, sends CONNECT plus `after` and PING, and resolves on the PONG. */
function open<T extends NatsConn>(url: string, make: (ws: WebSocket) => T, after: string, onData?: (c: T, data: Buffer) => void): Promise<T> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const c = make(ws);
  return new Promise<T>((resolve, reject) => {
    let stage: 'info' | 'pong' | 'ready' = 'info';
    const fail = (e: Error) => {
      clearTimeout(timer);
      c.closing = true;
      ws.terminate();
      reject(e);
    };
    const timer = handshakeTimer('nats connect', fail, () => undefined);
    ws.once('error', fail);
    ws.on('message', (data: Buffer) => {
      if (stage === 'ready') {
        onData?.(c, data);
        c.control(data);
        return;
      }
      const text = data.toString('latin1');
      if (text.includes('-ERR')) {
        fail(new Error(`nats connect: ${text.trim()}`));
      } else if (stage === 'info' && text.startsWith('INFO')) {
        stage = 'pong';
        ws.send(`${CONNECT}${after}PING\r\n`);
      } else if (stage === 'pong' && text.includes('PONG')) {
        stage = 'ready';
        clearTimeout(timer);
        ws.removeListener('error', fail);
        resolve(c);
      }
    });
  });
}

export const natsAdapter: ClientAdapter = {
  protocol: 'nats',

  subscribe(url, target: Target, scanner, events) {
    return open(url, (ws) => new NatsConn(ws, events), `SUB ${target.channel} ${++sid}\r\n`, (_c, data) => scanner.scan(data, nowUs()));
  },

  publisher(target, events) {
    return open(target.publisherUrl, (ws) => new NatsPublisher(ws, events, target.channel), '');
  },

  connect(url, _target, events) {
    return open(url, (ws) => new NatsConn(ws, events), '');
  },
};
