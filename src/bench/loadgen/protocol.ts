/**
 * What the run asks of a load generator process over IPC, and what it answers. One
 * request at a time; every answer carries the request's id.
 */
import type { BurstFigures } from '../kernel-bursts.js';
import type { LatencySummary, OutsideSummary } from '../latency.js';
import type { Target } from '../servers/server.js';

export type LoadgenRequest =
  /** Opens `count` subscribers on the target's channel (spread over its subscriber URLs). */
  | { cmd: 'subscribe'; target: Target; count: number; concurrency: number }
  /** Opens the publisher. */
  | { cmd: 'publisher'; target: Target }
  /** Publishes at `ratePerS` for `durationMs`, waits for deliveries, measures. */
  /** `sendTimes`: keep each delivery's send time, for an `outside` after it. */
  | { cmd: 'step'; ratePerS: number; durationMs: number; drainMs: number; quietMs: number; settleMaxMs: number; serverPids: number[]; sendTimes?: boolean }
  /** Waits until nothing is in flight (bounded), then counts every delivery against every expectation so far. */
  | { cmd: 'totals'; quietMs: number; settleMaxMs: number }
  /** Reopens subscribers the server closed. */
  | { cmd: 'refill'; concurrency: number }
  /** Opens `count` idle connections (handshake only), measuring how fast. */
  | { cmd: 'connect'; target: Target; count: number; concurrency: number; serverPids: number[] }
  /** Closes every connection (politely, `concurrency` at a time). */
  | { cmd: 'closeAll'; concurrency: number }
  /** The last step's latency over the deliveries, arrived by `untilUs`, whose flight overlapped none of `exclude` (merged windows, µs). */
  | { cmd: 'outside'; exclude: number[]; untilUs: number };

export type LoadgenMessage = LoadgenRequest & { id: number };

export interface OpenResult {
  opened: number;
  failed: number;
  ms: number;
  /** Connections (or subscriptions) completed per second over the whole batch. */
  perS: number;
  /** Why connections failed, counted. */
  errors: string[];
  /** CPU over the batch, % of one core: the server's (when its PIDs were given) and the load generator's. */
  serverCpuPct?: number;
  loadgenCpuPct?: number;
  /** Server CPU time per connection opened (ms). */
  serverCpuMsPerConnection?: number;
}

export interface Totals {
  /** Deliveries expected over every step so far (published and not refused × subscribers). */
  expected: number;
  /** Deliveries that arrived, however late. */
  delivered: number;
  /** Expected deliveries that never arrived (after waiting for the server to go quiet). */
  missing: number;
  /** How long the final wait took (ms). */
  settleMs: number;
}

export interface StepResult {
  /** Publish rate asked for and achieved (messages/s). */
  targetPublishPerS: number;
  publishPerS: number;
  published: number;
  /** Messages the server refused (NACK), where the protocol says so. */
  rejected: number;
  subscribers: number;
  /** Offered fan-out: publishPerS × subscribers. */
  offeredDeliveriesPerS: number;
  expected: number;
  received: number;
  /** Expected deliveries that had not arrived by the end of the drain (late or lost: see Totals). */
  lost: number;
  /** Messages per WebSocket frame (or event) that carried any: the server's batching. */
  messagesPerFrame: number;
  /** Deliveries of earlier steps' messages that came in during this one. */
  late: number;
  outOfOrder: number;
  /** Deliveries per second: this step's deliveries over the time from its start to the last one. */
  deliveriesPerS: number;
  latency: LatencySummary;
  /** When the step began publishing and when its drain ended (µs, payload.ts's nowUs clock). */
  fromUs: number;
  toUs: number;
  /**
   * With a kernel-burst watch on the load generator (Loadgen.watchKernel): the kernel
   * threads' bursts in [fromUs, toUs] and the latency of the deliveries none overlapped.
   */
  kernel?: BurstFigures & { outside: OutsideSummary };
  /** Seconds from the step's start to the end of its drain (the CPU window). */
  windowS: number;
  /** Server CPU over the window, % of one core (all server processes). */
  serverCpuPct: number;
  /** Server CPU time per delivery (µs). */
  serverCpuUsPerDelivery: number;
  serverRssBytes: number;
  /**
   * How long the servers' threads were runnable but waited for a core (the kernel's run
   * queue, /proc/…/schedstat), summed over threads, in % of the step: with several
   * processes on one core, the time a message that is ready waits for its process to run.
   */
  serverWaitPct: number;
  /** That wait per time a server thread was put on a core (µs). */
  serverWaitPerRunUs: number;
  /** The load generator's own CPU, % of one core: near 100 means it, not the server, was the limit. */
  loadgenCpuPct: number;
  /**
   * How late the load generator's event loop ran, p99 over the step (ms). A delivery read
   * at the end of such a stretch is stamped late by up to this much: the harness's own
   * share of every server's p99.
   */
  loadgenLagP99Ms: number;
  /** Kernel softirq time meanwhile (loopback TCP, mostly our own traffic), % of one core. */
  softirqCpuPct: number;
  /** CPU the rest of the machine used meanwhile (other processes), % of one core. */
  otherCpuPct: number;
  /** How long the step waited first for the previous ones' deliveries and acknowledgements (ms). */
  settleMs: number;
  /** Subscribers the server closed during the step. */
  disconnects: number;
}

/** Load generator CPU at or above this (% of its core) is the load generator's limit, not the server's. */
const LOADGEN_BOUND_PCT = 90;

/** Whether the load generator's core was (nearly) full near saturation: the server's own limit is then at least `saturation`. */
export function loadgenBound(ladder: readonly StepResult[], saturation: number): boolean {
  return ladder.some((s) => s.loadgenCpuPct >= LOADGEN_BOUND_PCT && s.deliveriesPerS >= 0.8 * saturation);
}
