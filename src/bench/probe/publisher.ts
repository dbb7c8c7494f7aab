/**
 * An Ably-protocol publisher over a bare `ws` client that knows, message by message,
 * what the server answered: each MESSAGE carries one message and its msgSerial, and
 * ACK/NACK `{msgSerial, count}` mark the seqs they cover in the AckBook. That is what
 * lets a scenario say "every acknowledged message arrived exactly once", and publish as
 * fast as acknowledgements come back, with a bounded number in flight.
 */
import WebSocket from 'ws';
import { Action, ActionName, Flag } from '../../protocol/actions.js';
import { KEEPALIVE_INTERVAL_MS } from '../clients/ably.js';
import { HANDSHAKE_TIMEOUT_MS, type ClientEvents } from '../clients/adapter.js';
import { makePayload, nowUs } from '../payload.js';
import { AckState, type AckBook } from './recorder.js';

interface Frame {
  action: number;
  channel?: string;
  msgSerial?: number;
  count?: number;
  error?: { code?: number; message?: string };
}

export class AckingPublisher {
  /** msgSerial → seq of the message it carried. */
  private readonly seqOf: number[] = [];
  private readonly prefix: string;
  private keepalive: NodeJS.Timeout | null = null;
  open = false;
  sent = 0;
  acked = 0;
  nacked = 0;
  lastAnswerUs = 0;
  /** Set by `stop` to end a publish under way. */
  stopRequested = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly acks: AckBook,
    private readonly events: ClientEvents,
    channel: string,
  ) {
    this.prefix = `{"action":${Action.MESSAGE},"channel":${JSON.stringify(channel)},"msgSerial":`;
  }

  static async open(url: string, key: string, channel: string, acks: AckBook, events: ClientEvents): Promise<AckingPublisher> {
    const ws = new WebSocket(`${url}/?key=${encodeURIComponent(key)}&format=json&v=6&heartbeats=true&echo=false`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    const p = new AckingPublisher(ws, acks, events, channel);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`publisher handshake took over ${HANDSHAKE_TIMEOUT_MS} ms`));
      }, HANDSHAKE_TIMEOUT_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`publisher: ${why}`));
      };
      ws.on('error', (e) => fail(e.message));
      ws.on('close', (code) => fail(`closed (ws code ${code})`));
      ws.on('message', (data: Buffer) => {
        let m: Frame;
        try {
          m = JSON.parse(data.toString('utf8')) as Frame;
        } catch {
          return;
        }
        if (m.action === Action.CONNECTED) {
          ws.send(JSON.stringify({ action: Action.ATTACH, channel, flags: Flag.PUBLISH }));
        } else if (m.action === Action.ATTACHED && m.channel === channel) {
          clearTimeout(timer);
          for (const ev of ['message', 'error', 'close']) ws.removeAllListeners(ev);
          p.ready();
          resolve();
        } else if (m.action === Action.ERROR || m.action === Action.DISCONNECTED || m.action === Action.DETACHED) {
          fail(`${ActionName[m.action]} ${m.error?.code} ${m.error?.message}`);
        }
      });
    });
    return p;
  }

  private ready(): void {
    this.open = true;
    this.ws.on('message', (data: Buffer) => {
      try {
        this.onFrame(JSON.parse(data.toString('utf8')) as Frame);
      } catch {
        this.events.note('publisher: undecodable frame');
      }
    });
    this.ws.on('error', (e) => this.events.note(`publisher: socket error ${e.message}`));
    this.ws.on('close', (code) => {
      this.open = false;
      if (this.keepalive) clearInterval(this.keepalive);
      this.events.unexpectedCloses++;
      this.events.note(`publisher: connection closed by server (ws code ${code})`);
    });
    this.keepalive = setInterval(() => this.ws.send(`{"action":${Action.HEARTBEAT}}`), KEEPALIVE_INTERVAL_MS);
    this.keepalive.unref();
  }

  private onFrame(m: Frame): void {
    if (m.action !== Action.ACK && m.action !== Action.NACK) {
      if (m.action !== Action.HEARTBEAT && m.action !== Action.CLOSED) this.events.note(`publisher: ${ActionName[m.action] ?? m.action}${m.error ? ` ${m.error.code} ${m.error.message}` : ''}`);
      return;
    }
    const state = m.action === Action.ACK ? AckState.ACKED : AckState.NACKED;
    const first = m.msgSerial ?? 0;
    const count = m.count ?? 1;
    for (let s = first; s < first + count; s++) {
      const seq = this.seqOf[s];
      if (seq !== undefined) this.acks.set(seq, state);
    }
    if (state === AckState.ACKED) this.acked += count;
    else {
      this.nacked += count;
      this.events.note(`publisher: NACK ${m.error?.code} ${m.error?.message}`);
    }
    this.lastAnswerUs = nowUs();
  }

  get inFlight(): number {
    return this.sent - this.acked - this.nacked;
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** Sends one message carrying `seq` (payload `~B~seq~sendTime~…`). */
  publish(seq: number): void {
    const serial = this.sent++;
    this.seqOf[serial] = seq;
    // The payload is digits, "~" and "x": nothing to escape in JSON.
    this.ws.send(`${this.prefix}${serial},"messages":[{"name":"m","data":"${makePayload(seq, nowUs())}"}]}`);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.ws.removeAllListeners('close');
    if (this.keepalive) clearInterval(this.keepalive);
    this.ws.send(`{"action":${Action.CLOSE}}`);
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        this.ws.terminate();
        r();
      }, 2000);
      this.ws.once('close', () => {
        clearTimeout(t);
        r();
      });
    });
  }
}
