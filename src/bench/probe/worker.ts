/**
 * The probe process: its own process (pinned to the load generator's CPU), driven over
 * IPC by the run (driver.ts). It holds groups of Ably subscribers and acknowledged
 * publishers on any nodes of any regions and records every delivery (recorder.ts).
 * Exits when the run goes away.
 */
import { ablyAdapter } from '../clients/ably.js';
import { ClientEvents, type Conn } from '../clients/adapter.js';
import { nowUs, PayloadScanner } from '../payload.js';
import { mapBounded, sleep } from '../util.js';
import type { ProbeMessage, PublishResult, SubscribeResult, WaitResult } from './protocol.js';
import { serveRequests } from '../worker-serve.js';
import { AckingPublisher } from './publisher.js';
import { AckBook, AckState, GroupRecorder } from './recorder.js';

/** The publisher stops writing while this much is queued on its socket. */
const PUBLISHER_BUFFER_LIMIT_BYTES = 4 * 1024 * 1024;
/** At most this many messages are written per event-loop turn, so answers get read between. */
const MAX_BURST = 500;
/** How often waits look again (ms). */
const POLL_MS = 20;

const acks = new AckBook();
const events = new ClientEvents();
const groups = new Map<string, { recorder: GroupRecorder; conns: Conn[] }>();
const publishers = new Map<string, AckingPublisher>();
let nextSeq = 0;

function group(name: string): { recorder: GroupRecorder; conns: Conn[] } {
  let g = groups.get(name);
  if (!g) groups.set(name, (g = { recorder: new GroupRecorder(), conns: [] }));
  return g;
}

async function subscribe(m: Extract<ProbeMessage, { cmd: 'subscribe' }>): Promise<SubscribeResult> {
  const g = group(m.group);
  const target = { protocol: 'ably' as const, subscriberUrls: m.urls, publisherUrl: m.urls[0]!, channel: m.channel, key: m.key };
  const errors = new ClientEvents();
  const t0 = nowUs();
  let opened = 0;
  const urls = Array.from({ length: m.count }, (_, i) => m.urls[i % m.urls.length]!);
  await mapBounded(urls, m.concurrency, async (url) => {
    const scanner = new PayloadScanner(g.recorder);
    g.recorder.register(scanner);
    try {
      g.conns.push(await ablyAdapter.subscribe(url, target, scanner, events));
      opened++;
    } catch (e) {
      g.recorder.failed(scanner);
      errors.note((e as Error).message);
    }
  });
  return { opened, failed: m.count - opened, ms: Math.round((nowUs() - t0) / 1000), errors: errors.list() };
}

function ackedIn(fromSeq: number, toSeq: number): { acked: number; pending: number } {
  let acked = 0;
  let pending = 0;
  for (let s = fromSeq; s < toSeq; s++) {
    const st = acks.get(s);
    if (st === AckState.ACKED) acked++;
    else if (st === AckState.PENDING) pending++;
  }
  return { acked, pending };
}

async function publish(m: Extract<ProbeMessage, { cmd: 'publish' }>): Promise<PublishResult> {
  const p = publishers.get(m.name);
  if (!p) throw new Error(`no publisher ${m.name}`);
  p.stopRequested = false;
  const fromSeq = nextSeq;
  const base = { sent: p.sent, acked: p.acked, nacked: p.nacked };
  const count = m.count > 0 ? m.count : Number.POSITIVE_INFINITY;
  const durationUs = m.durationMs > 0 ? m.durationMs * 1000 : Number.POSITIVE_INFINITY;
  const startUs = nowUs();
  let sent = 0;
  // Paced from the start time, not per tick: a late timer sends what is due at once.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsedUs = nowUs() - startUs;
      const due = m.ratePerS > 0 ? Math.min(count, Math.floor((m.ratePerS * elapsedUs) / 1e6) + 1) : count;
      let burst = 0;
      while (sent < due && burst < MAX_BURST && p.open && p.inFlight < m.maxInFlight && p.bufferedBytes < PUBLISHER_BUFFER_LIMIT_BYTES) {
        p.publish(nextSeq++);
        sent++;
        burst++;
      }
      if (sent >= count || !p.open || p.stopRequested || elapsedUs >= durationUs) resolve();
      else if (burst === MAX_BURST) setImmediate(tick);
      else setTimeout(tick, 1);
    };
    tick();
  });
  const endUs = nowUs();
  const waitUntil = endUs + m.ackWaitMs * 1000;
  while (p.open && p.inFlight > 0 && nowUs() < waitUntil) await sleep(POLL_MS);
  return {
    fromSeq,
    toSeq: nextSeq,
    sent,
    acked: p.acked - base.acked,
    nacked: p.nacked - base.nacked,
    unanswered: ackedIn(fromSeq, nextSeq).pending,
    startUs,
    endUs,
    answeredUs: p.lastAnswerUs,
    nackReasons: events.list().filter((n) => n.startsWith('publisher: NACK')),
  };
}

async function waitFor(m: Extract<ProbeMessage, { cmd: 'waitFor' }>): Promise<WaitResult> {
  const g = group(m.group);
  const t0 = nowUs();
  const cursor = { next: 0, seen: new Uint8Array(Math.max(0, m.toSeq - m.fromSeq) * g.recorder.slots), have: 0 };
  for (;;) {
    const have = g.recorder.countDistinct(m.fromSeq, m.toSeq, acks, cursor);
    const { acked, pending } = ackedIn(m.fromSeq, m.toSeq);
    const want = acked * g.recorder.subscribers;
    const now = nowUs();
    const ms = Math.round((now - t0) / 1000);
    if (have >= want && pending === 0) return { done: true, have, want, ms, why: 'complete' };
    if (now - t0 >= m.timeoutMs * 1000) return { done: false, have, want, ms, why: 'timeout' };
    if (now - Math.max(g.recorder.lastDeliveryUs, t0) >= m.quietMs * 1000) return { done: false, have, want, ms, why: 'quiet' };
    await sleep(POLL_MS);
  }
}

async function closeAll(): Promise<{ notes: string[] }> {
  const conns = [...groups.values()].flatMap((g) => g.conns);
  await mapBounded(conns, 200, (c) => c.close().catch(() => undefined));
  for (const p of publishers.values()) await p.close().catch(() => undefined);
  publishers.clear();
  return { notes: events.list() };
}

async function handle(m: ProbeMessage): Promise<unknown> {
  switch (m.cmd) {
    case 'subscribe':
      return subscribe(m);
    case 'publisher':
      publishers.set(m.name, await AckingPublisher.open(m.url, m.key, m.channel, acks, events));
      return {};
    case 'publish':
      return publish(m);
    case 'stop': {
      const p = publishers.get(m.name);
      if (p) p.stopRequested = true;
      return {};
    }
    case 'waitFor':
      return waitFor(m);
    case 'summary':
      return group(m.group).recorder.summary(m.query, acks);
    case 'closeAll':
      return closeAll();
  }
}

serveRequests(handle);
