import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import type { ProtocolMessage, WireFormat } from '../../src/protocol/types.js';
import { KEY } from './topology.js';

/** A bare protocol client: sends ProtocolMessages, records what comes back. */
export class RawClient {
  readonly received: ProtocolMessage[] = [];
  closed: { code: number } | null = null;
  private waiters: { filter: (m: ProtocolMessage) => boolean; resolve: (m: ProtocolMessage) => void }[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly format: WireFormat,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const m = decodeFrame(isBinary ? data : data.toString('utf8'), format);
      this.received.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.filter(m)) return true;
        w.resolve(m);
        return false;
      });
    });
    ws.on('close', (code) => (this.closed = { code }));
  }

  static async connect(port: number, params: Record<string, string> = {}, format: WireFormat = 'json'): Promise<RawClient> {
    const q = new URLSearchParams({ key: KEY, format, v: '6', heartbeats: 'true', ...params });
    for (const [k, v] of Object.entries(params)) if (v === '') q.delete(k);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/?${q}`);
    const c = new RawClient(ws, format);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  send(pm: ProtocolMessage): void {
    const f = encodeFrame(pm, this.format);
    this.ws.send(f, { binary: typeof f !== 'string' });
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first message (already received or still to come) that `filter` accepts. */
  next(filter: (m: ProtocolMessage) => boolean, timeoutMs = 5000): Promise<ProtocolMessage> {
    const have = this.received.find(filter);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching message; got actions ${this.received.map((m) => m.action).join(',')}`)), timeoutMs);
      this.waiters.push({
        filter,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  async waitClosed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.closed.code;
  }

  close(): void {
    this.ws.terminate();
  }
}
