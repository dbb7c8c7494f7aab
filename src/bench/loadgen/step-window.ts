/**
 * What both load generators (worker.ts, channels-worker.ts) do around a step: publish at
 * a paced rate, count the CPU the servers, this process, softirq and everything else
 * used in its window, wait for deliveries to drain after publishing stopped, and turn
 * all that into the step's figures.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { DeliveryStats } from '../payload.js';
import { cpuSecondsOf, machineBusySeconds, rssBytesOf, schedStatOf } from '../proc.js';
import type { StepResult } from './protocol.js';

/** A publisher stops writing while this much is queued on its socket (a stalled server). */
export const PUBLISHER_BUFFER_LIMIT_BYTES = 8 * 1024 * 1024;
/** Publishing runs at most this much longer than asked when the event loop falls behind. */
const PUBLISH_OVERRUN_MS = 1000;

/**
 * Publishes up to `total` messages at `ratePerS`, paced from `t0Us`, not per tick: a
 * late timer sends what is due at once. `sendOne()` sends one message, or says it cannot
 * now (a full socket: the rest waits for the next tick); `stopped()` ends publishing
 * early (no publisher left). Resolves with how many were sent.
 */
export function pace(o: {
  ratePerS: number;
  durationMs: number;
  total: number;
  t0Us: number;
  nowUs: () => number;
  sendOne: () => boolean;
  stopped: () => boolean;
}): Promise<number> {
  let sent = 0;
  return new Promise<number>((resolve) => {
    const tick = () => {
      const elapsedUs = o.nowUs() - o.t0Us;
      const due = Math.min(o.total, Math.floor((o.ratePerS * elapsedUs) / 1e6) + 1);
      while (sent < due && o.sendOne()) sent++;
      if (sent >= o.total || o.stopped() || elapsedUs > (o.durationMs + PUBLISH_OVERRUN_MS) * 1000) resolve(sent);
      else setTimeout(tick, 1);
    };
    tick();
  });
}

/** How often the drain wait looks again. */
const DRAIN_POLL_MS = 10;

export interface CpuUse {
  /** CPU seconds in the window. */
  serverCpu: number;
  selfCpu: number;
  softirq: number;
  otherCpu: number;
  /** How late this process's event loop ran, p99 (ms): a 1 ms timer's delay beyond its interval. */
  selfLagP99Ms: number;
  /** Seconds the servers' threads were runnable but waited for a core, and how many times they were put on one. */
  serverWaitS: number;
  serverRuns: number;
}

/** Starts counting now; `end()` says what each party used since. */
export function cpuWindow(serverPids: number[]): { end(): CpuUse } {
  const cpu0 = cpuSecondsOf(serverPids);
  const sched0 = schedStatOf(serverPids);
  const busy0 = machineBusySeconds();
  const self0 = process.cpuUsage();
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  return {
    end(): CpuUse {
      lag.disable();
      // The histogram holds the timer's whole period (1 ms and what it was late by).
      const selfLagP99Ms = lag.count ? Math.round(Math.max(0, lag.percentile(99) / 1e6 - 1) * 100) / 100 : NaN;
      const serverCpu = cpuSecondsOf(serverPids) - cpu0;
      const sched = schedStatOf(serverPids);
      const self = process.cpuUsage(self0);
      const selfCpu = (self.user + self.system) / 1e6;
      const busy1 = machineBusySeconds();
      const softirq = busy1.softirq - busy0.softirq;
      const otherCpu = Math.max(0, busy1.busy - busy0.busy - softirq - serverCpu - selfCpu);
      return { serverCpu, selfCpu, softirq, otherCpu, selfLagP99Ms, serverWaitS: sched.waitS - sched0.waitS, serverRuns: sched.runs - sched0.runs };
    },
  };
}

/**
 * After publishing ended (at `pubEndUs`, µs): waits until everything expected arrived,
 * or `drainMs` passed, or nothing arrived for `quietMs` (since the last delivery or the
 * end of publishing, whichever is later).
 */
export async function drain(o: {
  received: () => number;
  expected: () => number;
  lastDeliveryUs: () => number;
  pubEndUs: number;
  drainMs: number;
  quietMs: number;
  nowUs: () => number;
}): Promise<void> {
  for (;;) {
    const now = o.nowUs();
    if (o.received() >= o.expected()) return;
    if (now - o.pubEndUs >= o.drainMs * 1000) return;
    if (now - Math.max(o.lastDeliveryUs(), o.pubEndUs) >= o.quietMs * 1000) return;
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}

/** The figures of a step both load generators report alike. */
export type StepFigures = Pick<
  StepResult,
  | 'publishPerS'
  | 'published'
  | 'offeredDeliveriesPerS'
  | 'received'
  | 'messagesPerFrame'
  | 'late'
  | 'outOfOrder'
  | 'deliveriesPerS'
  | 'latency'
  | 'fromUs'
  | 'toUs'
  | 'windowS'
  | 'serverCpuPct'
  | 'serverCpuUsPerDelivery'
  | 'serverRssBytes'
  | 'serverWaitPct'
  | 'serverWaitPerRunUs'
  | 'loadgenCpuPct'
  | 'loadgenLagP99Ms'
  | 'softirqCpuPct'
  | 'otherCpuPct'
>;

/**
 * A step's figures: from its start (`t0Us`) to the end of publishing (`pubEndUs`) and
 * of the drain (`t1Us`), `sent` messages each expected `deliveriesPerMessage` times.
 */
export function stepFigures(o: {
  stats: DeliveryStats;
  cpu: CpuUse;
  serverPids: number[];
  t0Us: number;
  pubEndUs: number;
  t1Us: number;
  sent: number;
  durationMs: number;
  deliveriesPerMessage: number;
}): StepFigures {
  const { stats, cpu } = o;
  const windowS = (o.t1Us - o.t0Us) / 1e6;
  const publishS = (o.pubEndUs - o.t0Us) / 1e6;
  // Deliveries over the span they took: the offered rate while the server keeps up (the
  // span is then the publishing time, shifted by the latency; n messages span n - 1
  // intervals), the server's own rate once it falls behind (the span stretches).
  const spanS = (stats.lastDeliveryUs - stats.firstDeliveryUs) / 1e6;
  const deliveriesPerS = o.sent > 1 && spanS > 0 ? (stats.received * (o.sent - 1)) / o.sent / spanS : stats.received / windowS;
  const publishPerS = o.sent / Math.max(publishS, o.durationMs / 1000);
  const pct = (seconds: number) => Math.round((1000 * seconds) / windowS) / 10;
  return {
    publishPerS: Math.round(publishPerS * 10) / 10,
    published: o.sent,
    offeredDeliveriesPerS: Math.round(publishPerS * o.deliveriesPerMessage),
    received: stats.received,
    messagesPerFrame: stats.frames ? Math.round((100 * stats.received) / stats.frames) / 100 : NaN,
    late: stats.late,
    outOfOrder: stats.outOfOrder,
    deliveriesPerS: Math.round(deliveriesPerS),
    latency: stats.latencies.summary(),
    fromUs: o.t0Us,
    toUs: o.t1Us,
    windowS: Math.round(windowS * 1000) / 1000,
    serverCpuPct: pct(cpu.serverCpu),
    serverCpuUsPerDelivery: stats.received ? Math.round((cpu.serverCpu * 1e7) / stats.received) / 10 : NaN,
    serverRssBytes: rssBytesOf(o.serverPids),
    serverWaitPct: pct(cpu.serverWaitS),
    serverWaitPerRunUs: cpu.serverRuns ? Math.round((cpu.serverWaitS * 1e6) / cpu.serverRuns) : NaN,
    loadgenCpuPct: pct(cpu.selfCpu),
    loadgenLagP99Ms: cpu.selfLagP99Ms,
    softirqCpuPct: pct(cpu.softirq),
    otherCpuPct: pct(cpu.otherCpu),
  };
}
