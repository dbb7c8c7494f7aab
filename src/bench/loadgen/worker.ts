/**
 * The load generator: its own process (pinned to the load generator's CPU), driven over
 * IPC by the run. It holds the subscribers, the publisher and idle connections of one
 * server at a time, publishes at a paced rate, and counts what arrives.
 * Started by `Loadgen.start` (driver.ts); exits when the run goes away.
 */
import { adapterFor } from '../clients/index.js';
import { ClientEvents, type Conn, type Publisher } from '../clients/adapter.js';
import { DEFAULT_LATENCY_CAPACITY, LatencySamples } from '../latency.js';
import { DeliveryStats, makePayload, nowUs, PayloadScanner } from '../payload.js';
import { cpuSecondsOf } from '../proc.js';
import { cpuWindow, drain, pace, PUBLISHER_BUFFER_LIMIT_BYTES, stepFigures } from './step-window.js';
import type { Target } from '../servers/server.js';
import { mapBounded, sleep } from '../util.js';
import type { LoadgenMessage, OpenResult, StepResult, Totals } from './protocol.js';
import { serveRequests } from '../worker-serve.js';

/** How often the drain checks whether everything arrived. */
const DRAIN_POLL_MS = 10;

interface Sub {
  url: string;
  scanner: PayloadScanner;
  conn: Conn | null;
}

// Send times kept only for steps that ask (a kernel watch: their deliveries are summarised again without those a burst overlapped).
const latencies = new LatencySamples(DEFAULT_LATENCY_CAPACITY);
const stats = new DeliveryStats(latencies);
const events = new ClientEvents();
let target: Target | null = null;
let subs: Sub[] = [];
let publisher: Publisher | null = null;
let idle: Conn[] = [];
let seq = 0;
/** Over every step: messages sent, and deliveries expected. */
let totalSent = 0;
let totalExpected = 0;

/** Opens with bounded concurrency; failures are counted by reason. */
async function openAll<T>(items: T[], concurrency: number, open: (item: T) => Promise<unknown>): Promise<OpenResult> {
  const errors = new ClientEvents();
  let opened = 0;
  const t0 = nowUs();
  await mapBounded(items, concurrency, async (item) => {
    try {
      await open(item);
      opened++;
    } catch (e) {
      errors.note((e as Error).message);
    }
  });
  const ms = (nowUs() - t0) / 1000;
  return { opened, failed: items.length - opened, ms: Math.round(ms), perS: Math.round(opened / (ms / 1000)), errors: errors.list() };
}

async function subscribe(t: Target, count: number, concurrency: number): Promise<OpenResult> {
  target = t;
  const adapter = adapterFor(t.protocol);
  const fresh: Sub[] = Array.from({ length: count }, (_, i) => ({
    url: t.subscriberUrls[(subs.length + i) % t.subscriberUrls.length]!,
    scanner: new PayloadScanner(stats, t.protocol === 'nats'),
    conn: null,
  }));
  subs.push(...fresh);
  return openAll(fresh, concurrency, async (s) => {
    s.conn = await adapter.subscribe(s.url, t, s.scanner, events);
  });
}

async function refill(concurrency: number): Promise<OpenResult> {
  if (!target) throw new Error('refill before subscribe');
  const t = target;
  const adapter = adapterFor(t.protocol);
  const closed = subs.filter((s) => !s.conn?.open);
  return openAll(closed, concurrency, async (s) => {
    s.conn = await adapter.subscribe(s.url, t, s.scanner, events);
  });
}

async function openPublisher(t: Target): Promise<void> {
  publisher = await adapterFor(t.protocol).publisher(t, events);
}

async function connectIdle(t: Target, count: number, concurrency: number, serverPids: number[]): Promise<OpenResult> {
  const adapter = adapterFor(t.protocol);
  const urls = Array.from({ length: count }, (_, i) => t.subscriberUrls[i % t.subscriberUrls.length]!);
  const cpu0 = cpuSecondsOf(serverPids);
  const self0 = process.cpuUsage();
  const r = await openAll(urls, concurrency, async (url) => {
    idle.push(await adapter.connect(url, t, events));
  });
  const self = process.cpuUsage(self0);
  const s = r.ms / 1000;
  const serverCpu = cpuSecondsOf(serverPids) - cpu0;
  return {
    ...r,
    serverCpuPct: Math.round((100 * serverCpu) / s),
    serverCpuMsPerConnection: r.opened ? Math.round((serverCpu * 1e6) / r.opened) / 1000 : NaN,
    loadgenCpuPct: Math.round((self.user + self.system) / 1e4 / s),
  };
}

async function closeAll(concurrency: number): Promise<{ closed: number; ms: number }> {
  const t0 = nowUs();
  const all: Conn[] = [...subs.map((s) => s.conn).filter((c): c is Conn => c !== null), ...idle, ...(publisher ? [publisher] : [])];
  await mapBounded(all, concurrency, (c) => c.close().catch(() => undefined));
  subs = [];
  idle = [];
  publisher = null;
  target = null;
  return { closed: all.length, ms: Math.round((nowUs() - t0) / 1000) };
}

/**
 * Waits (at most `maxMs`) until nothing is in flight any more: no delivery for
 * `quietMs`, nothing queued on the publisher's socket, and, where the protocol
 * acknowledges, every publish answered. Returns how long it waited (ms).
 */
async function settle(quietMs: number, maxMs: number): Promise<number> {
  const start = nowUs();
  for (;;) {
    const now = nowUs();
    const last = Math.max(stats.lastDeliveryUs, stats.lastLateUs);
    const pub = publisher;
    const idle = !pub || !pub.open || (pub.bufferedBytes() === 0 && (!pub.acknowledges || pub.accepted + pub.rejected >= totalSent));
    if ((now - last >= quietMs * 1000 && idle) || now - start >= maxMs * 1000) return Math.round((now - start) / 1000);
    await sleep(DRAIN_POLL_MS);
  }
}

async function totals(quietMs: number, maxMs: number): Promise<Totals> {
  const settleMs = await settle(quietMs, maxMs);
  return { expected: totalExpected, delivered: stats.total, missing: Math.max(0, totalExpected - stats.total), settleMs };
}

async function step(ratePerS: number, durationMs: number, drainMs: number, quietMs: number, settleMaxMs: number, serverPids: number[]): Promise<StepResult> {
  const pub = publisher;
  if (!pub) throw new Error('step before publisher');
  const settleMs = await settle(quietMs, settleMaxMs);
  const subscribers = subs.filter((s) => s.conn?.open).length;
  const closes0 = events.unexpectedCloses;
  const rejected0 = pub.rejected;
  stats.startStep(seq);
  const cpu = cpuWindow(serverPids);
  const t0 = nowUs();
  const sent = await pace({
    ratePerS,
    durationMs,
    total: Math.max(1, Math.round((ratePerS * durationMs) / 1000)),
    t0Us: t0,
    nowUs,
    sendOne: () => {
      if (!pub.open || pub.bufferedBytes() >= PUBLISHER_BUFFER_LIMIT_BYTES) return false;
      pub.publish(makePayload(seq++, nowUs()));
      totalSent++;
      return true;
    },
    stopped: () => !pub.open,
  });
  const pubEndUs = nowUs();
  const expected = () => (sent - (pub.rejected - rejected0)) * subscribers;
  await drain({ received: () => stats.received, expected, lastDeliveryUs: () => stats.lastDeliveryUs, pubEndUs, drainMs, quietMs, nowUs });
  const figures = stepFigures({ stats, cpu: cpu.end(), serverPids, t0Us: t0, pubEndUs, t1Us: nowUs(), sent, durationMs, deliveriesPerMessage: subscribers });
  const exp = expected();
  totalExpected += exp;
  return {
    ...figures,
    targetPublishPerS: ratePerS,
    rejected: pub.rejected - rejected0,
    subscribers,
    expected: exp,
    lost: Math.max(0, exp - stats.received),
    settleMs,
    disconnects: events.unexpectedCloses - closes0,
  };
}

async function handle(m: LoadgenMessage): Promise<unknown> {
  switch (m.cmd) {
    case 'subscribe':
      return subscribe(m.target, m.count, m.concurrency);
    case 'publisher':
      await openPublisher(m.target);
      return {};
    case 'step':
      latencies.keepSendTimes(m.sendTimes === true);
      return step(m.ratePerS, m.durationMs, m.drainMs, m.quietMs, m.settleMaxMs, m.serverPids);
    case 'totals':
      return totals(m.quietMs, m.settleMaxMs);
    case 'refill':
      return refill(m.concurrency);
    case 'connect':
      return connectIdle(m.target, m.count, m.concurrency, m.serverPids);
    case 'outside':
      return latencies.outside(m.exclude, m.untilUs);
    case 'closeAll':
      return { ...(await closeAll(m.concurrency)), notes: events.list() };
  }
}

serveRequests(handle);
