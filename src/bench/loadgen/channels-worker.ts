/**
 * The many-channel load generator: its own process (pinned to the load generator's CPU),
 * driven over IPC by the run (channels-driver.ts). Subscriber connections speak the Ably
 * protocol over bare `ws` (as clients/ably.ts) but each attaches many channels; the
 * publishers send one MESSAGE per message, round robin over every channel, without
 * attaching. Deliveries are found by their payload marker (payload.ts) and checked for
 * order per subscription: each frame's channel is read from its `"channel":"…"` field.
 */
import WebSocket from 'ws';
import { Action, ActionName } from '../../protocol/actions.js';
import { ClientEvents, HANDSHAKE_TIMEOUT_MS } from '../clients/adapter.js';
import { ablyUrl, closeAbly } from '../clients/ably.js';
import { LatencySamples } from '../latency.js';
import { DeliveryStats, makePayload, MARK_TEXT, nowUs, PayloadScanner } from '../payload.js';
import { cpuWindow, drain, pace, PUBLISHER_BUFFER_LIMIT_BYTES, stepFigures } from './step-window.js';
import { mapBounded, sleep } from '../util.js';
import type { ChannelsMessage, ChannelsOpenResult, ChannelsPlan, StepResult, Totals } from './channels-protocol.js';
import { serveRequests } from '../worker-serve.js';

const DRAIN_POLL_MS = 10;
const MARK = Buffer.from(MARK_TEXT);
const CHANNEL_FIELD = Buffer.from('"channel":"');
const QUOTE = 0x22;

interface ControlFrame {
  action: number;
  channel?: string;
  count?: number;
  error?: { code?: number; message?: string };
}

const latencies = new LatencySamples();
const stats = new DeliveryStats(latencies);
const events = new ClientEvents();

/** One connection: CONNECTED, then (for a subscriber) ATTACH of each of its channels. */
class Conn {
  open = true;
  closing = false;
  readonly closed: Promise<void>;
  readonly ws: WebSocket;
  /** Per attached channel, its scanner (order is checked per subscription). */
  readonly scanners = new Map<string, PayloadScanner>();
  accepted = 0;
  rejected = 0;
  private waitConnected: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private waitAttached = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(base: string, key: string, extra = '') {
    this.ws = new WebSocket(ablyUrl(base, key, extra), { perMessageDeflate: false, skipUTF8Validation: true });
    this.closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.on('message', (data: Buffer) => this.onFrame(data));
    this.ws.on('error', (e) => {
      if (!this.failPending(`socket error ${e.message}`)) events.note(`ably: socket error ${e.message}`);
    });
    this.ws.on('close', (code) => {
      this.open = false;
      const pending = this.failPending(`closed (ws code ${code})`);
      if (!pending && !this.closing) {
        events.unexpectedCloses++;
        events.note(`ably: connection closed by server (ws code ${code})`);
      }
    });
  }

  private failPending(why: string): boolean {
    let any = false;
    if (this.waitConnected) {
      this.waitConnected.reject(new Error(`ably connect: ${why}`));
      this.waitConnected = null;
      any = true;
    }
    for (const [ch, w] of this.waitAttached) w.reject(new Error(`ably attach ${ch}: ${why}`));
    if (this.waitAttached.size) any = true;
    this.waitAttached.clear();
    return any;
  }

  connected(): Promise<void> {
    return new Promise<void>((resolve, reject) => (this.waitConnected = { resolve, reject }));
  }

  /** Sends ATTACH for every channel at once; resolves with those that got ATTACHED. */
  async attachAll(channels: string[]): Promise<{ ok: string[]; errors: string[] }> {
    const ok: string[] = [];
    const errors: string[] = [];
    await Promise.all(
      channels.map(
        (ch) =>
          new Promise<void>((resolve) => {
            this.waitAttached.set(ch, {
              resolve: () => {
                ok.push(ch);
                resolve();
              },
              reject: (e) => {
                errors.push(e.message);
                resolve();
              },
            });
            this.ws.send(`{"action":${Action.ATTACH},"channel":${JSON.stringify(ch)}}`);
          }),
      ),
    );
    for (const ch of ok) this.scanners.set(ch, new PayloadScanner(stats));
    return { ok, errors };
  }

  publish(channel: string, msgSerial: number, payload: string): void {
    // The payload is digits, "~" and "x": nothing to escape in JSON.
    this.ws.send(`{"action":${Action.MESSAGE},"channel":"${channel}","msgSerial":${msgSerial},"messages":[{"name":"m","data":"${payload}"}]}`);
  }

  private onFrame(data: Buffer): void {
    const mark = data.indexOf(MARK);
    if (mark !== -1) {
      const at = nowUs();
      const i = data.indexOf(CHANNEL_FIELD);
      const end = i === -1 ? -1 : data.indexOf(QUOTE, i + CHANNEL_FIELD.length);
      const scanner = end === -1 ? undefined : this.scanners.get(data.toString('latin1', i + CHANNEL_FIELD.length, end));
      if (scanner) scanner.scan(data, at);
      else events.note('ably: a delivery on a channel this connection did not attach');
      return;
    }
    let m: ControlFrame;
    try {
      m = JSON.parse(data.toString('utf8')) as ControlFrame;
    } catch {
      events.note('ably: undecodable frame');
      return;
    }
    const err = m.error ? ` ${m.error.code} ${m.error.message}` : '';
    switch (m.action) {
      case Action.CONNECTED:
        this.waitConnected?.resolve();
        this.waitConnected = null;
        return;
      case Action.ATTACHED: {
        const w = m.channel !== undefined ? this.waitAttached.get(m.channel) : undefined;
        if (w) {
          this.waitAttached.delete(m.channel!);
          w.resolve();
        }
        return;
      }
      case Action.ACK:
        this.accepted += m.count ?? 1;
        return;
      case Action.NACK:
        this.rejected += m.count ?? 1;
        events.note(`ably: NACK${err}`);
        return;
      case Action.HEARTBEAT:
      case Action.CLOSED:
        return;
      default: {
        const w = m.channel !== undefined ? this.waitAttached.get(m.channel) : undefined;
        if (w) {
          this.waitAttached.delete(m.channel!);
          w.reject(new Error(`ably attach: ${ActionName[m.action] ?? m.action}${err}`));
          return;
        }
        if (this.waitConnected && (m.action === Action.ERROR || m.action === Action.DISCONNECTED)) {
          this.waitConnected.reject(new Error(`ably connect: ${ActionName[m.action]}${err}`));
          this.waitConnected = null;
          return;
        }
        events.note(`ably: ${ActionName[m.action] ?? m.action}${err}`);
      }
    }
  }

  close(): Promise<void> {
    return closeAbly(this);
  }
}

/** Rejects after `ms` (the connection is dropped) unless `p` settles first. */
async function within<T>(p: Promise<T>, ms: number, what: string, c: Conn): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => {
          c.closing = true;
          c.ws.terminate();
          reject(new Error(`${what}: took over ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let plan: ChannelsPlan | null = null;
let subs: Conn[] = [];
let pubs: Conn[] = [];
let pubSerials: number[] = [];
/** Round-robin position over the channels (kept across steps, so all get published). */
let cursor = 0;
let seq = 0;
let totalSent = 0;
let totalExpected = 0;
/** NACKs a step subtracted from what it expected; the rest came after their step was counted. */
let stepRejected = 0;
/** Subscriptions per channel on average, at the last step (to discount NACKs that came late). */
let meanSubscriptions = 0;

async function openPlan(p: ChannelsPlan): Promise<ChannelsOpenResult> {
  plan = p;
  const perConn: string[][] = Array.from({ length: p.connections }, () => []);
  p.channels.forEach((ch, c) => {
    for (let j = 0; j < p.subscribersPerChannel; j++) perConn[(c * p.subscribersPerChannel + j) % p.connections]!.push(ch);
  });
  const errors = new ClientEvents();
  let opened = 0;
  let subscriptions = 0;
  let subscriptionsFailed = 0;
  const t0 = nowUs();
  await mapBounded(perConn, p.concurrency, async (channels, i) => {
    const c = new Conn(p.urls[i % p.urls.length]!, p.key);
    try {
      await within(c.connected(), HANDSHAKE_TIMEOUT_MS, 'ably connect', c);
      opened++;
      const r = await within(c.attachAll(channels), HANDSHAKE_TIMEOUT_MS + channels.length * 10, 'ably attach', c);
      subscriptions += r.ok.length;
      subscriptionsFailed += r.errors.length;
      for (const e of r.errors) errors.note(e);
      subs.push(c);
    } catch (e) {
      subscriptionsFailed += channels.length;
      errors.note((e as Error).message);
      c.closing = true;
      c.ws.terminate();
    }
  });
  for (let i = 0; i < p.publishers; i++) {
    const c = new Conn(p.urls[i % p.urls.length]!, p.key, '&echo=false');
    await within(c.connected(), HANDSHAKE_TIMEOUT_MS, 'ably publisher connect', c);
    pubs.push(c);
    pubSerials.push(0);
  }
  const ms = (nowUs() - t0) / 1000;
  return {
    opened,
    failed: p.connections - opened,
    ms: Math.round(ms),
    perS: Math.round(opened / (ms / 1000)),
    errors: errors.list(),
    subscriptions,
    subscriptionsFailed,
    attachesPerS: Math.round(subscriptions / (ms / 1000)),
  };
}

/** Attached subscriptions per channel, on connections still open. */
function subscribersPerChannel(p: ChannelsPlan): Int32Array {
  const index = new Map(p.channels.map((ch, i) => [ch, i]));
  const counts = new Int32Array(p.channels.length);
  for (const c of subs) if (c.open) for (const ch of c.scanners.keys()) counts[index.get(ch)!]!++;
  return counts;
}

const acked = () => pubs.reduce((a, p) => a + p.accepted + p.rejected, 0);
const rejectedNow = () => pubs.reduce((a, p) => a + p.rejected, 0);

/** Waits (at most `maxMs`) until no delivery came for `quietMs` and every publish is answered. */
async function settle(quietMs: number, maxMs: number): Promise<number> {
  const start = nowUs();
  for (;;) {
    const now = nowUs();
    const last = Math.max(stats.lastDeliveryUs, stats.lastLateUs);
    const idle = pubs.every((p) => !p.open || p.ws.bufferedAmount === 0) && acked() >= totalSent;
    if ((now - last >= quietMs * 1000 && idle) || now - start >= maxMs * 1000) return Math.round((now - start) / 1000);
    await sleep(DRAIN_POLL_MS);
  }
}

async function step(publishPerS: number, durationMs: number, drainMs: number, quietMs: number, settleMaxMs: number, serverPids: number[]): Promise<StepResult> {
  const p = plan;
  if (!p || !pubs.length) throw new Error('step before open');
  const settleMs = await settle(quietMs, settleMaxMs);
  const perChannel = subscribersPerChannel(p);
  const subscriptions = perChannel.reduce((a, n) => a + n, 0);
  const closes0 = events.unexpectedCloses;
  const rejected0 = rejectedNow();
  stats.startStep(seq);
  const cpu = cpuWindow(serverPids);
  const t0 = nowUs();
  const n = p.channels.length;
  let expectedSent = 0;
  const sent = await pace({
    ratePerS: publishPerS,
    durationMs,
    total: Math.max(1, Math.round((publishPerS * durationMs) / 1000)),
    t0Us: t0,
    nowUs,
    sendOne: () => {
      const c = cursor;
      const k = c % pubs.length;
      const pub = pubs[k]!;
      if (!pub.open || pub.ws.bufferedAmount >= PUBLISHER_BUFFER_LIMIT_BYTES) return false;
      cursor = (c + 1) % n;
      pub.publish(p.channels[c]!, pubSerials[k]!++, makePayload(seq++, nowUs()));
      expectedSent += perChannel[c]!;
      totalSent++;
      return true;
    },
    stopped: () => pubs.every((x) => !x.open),
  });
  const pubEndUs = nowUs();
  // A refused message is not expected anywhere; which channel it was is not tracked, so
  // it counts as the average subscriptions per channel.
  const expected = () => Math.max(0, Math.round(expectedSent - (rejectedNow() - rejected0) * (subscriptions / n)));
  await drain({ received: () => stats.received, expected, lastDeliveryUs: () => stats.lastDeliveryUs, pubEndUs, drainMs, quietMs, nowUs });
  const figures = stepFigures({
    stats,
    cpu: cpu.end(),
    serverPids,
    t0Us: t0,
    pubEndUs,
    t1Us: nowUs(),
    sent,
    durationMs,
    deliveriesPerMessage: expectedSent / Math.max(1, sent),
  });
  const exp = expected();
  totalExpected += exp;
  stepRejected += rejectedNow() - rejected0;
  meanSubscriptions = subscriptions / n;
  return {
    ...figures,
    targetPublishPerS: publishPerS,
    rejected: rejectedNow() - rejected0,
    subscribers: subscriptions,
    expected: exp,
    lost: Math.max(0, exp - stats.received),
    settleMs,
    disconnects: events.unexpectedCloses - closes0,
  };
}

async function totals(quietMs: number, maxMs: number): Promise<Totals> {
  const settleMs = await settle(quietMs, maxMs);
  // A NACK that came after its step was counted still means the message is expected nowhere.
  const expected = Math.round(totalExpected - (rejectedNow() - stepRejected) * meanSubscriptions);
  return { expected, delivered: stats.total, missing: Math.max(0, expected - stats.total), settleMs };
}

async function closeAll(concurrency: number): Promise<{ closed: number; ms: number; notes: string[] }> {
  const t0 = nowUs();
  const all = [...subs, ...pubs];
  await mapBounded(all, concurrency, (c) => c.close().catch(() => undefined));
  subs = [];
  pubs = [];
  pubSerials = [];
  plan = null;
  return { closed: all.length, ms: Math.round((nowUs() - t0) / 1000), notes: events.list() };
}

function handle(m: ChannelsMessage): Promise<unknown> {
  switch (m.cmd) {
    case 'open':
      return openPlan(m.plan);
    case 'step':
      return step(m.publishPerS, m.durationMs, m.drainMs, m.quietMs, m.settleMaxMs, m.serverPids);
    case 'totals':
      return totals(m.quietMs, m.settleMaxMs);
    case 'closeAll':
      return closeAll(m.concurrency);
  }
}

serveRequests(handle);
