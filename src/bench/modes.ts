/**
 * How much each mode measures. Quick fits in about five minutes on a 2-core machine
 * (short steps, a coarse ladder, one repetition where the figure is stable); full takes
 * up to half an hour (longer steps, a finer ladder with bisection, more repetitions).
 */
import type { FanoutOptions } from './fanout.js';

export type Mode = 'quick' | 'full';

export interface ModeProfile {
  mode: Mode;
  /** The whole run is stopped (and its processes with it) after this long. */
  budgetMs: number;
  /** Scenarios 1–2: fan-out on one server, ably-ng and every peer. */
  fanout: FanoutOptions;
  fanoutServers: string[];
  /** Scenarios 1–2 measure every server this many times, in turn; the best round counts. */
  fanoutRounds: number;
  /** Length of the overload step on ably-ng in scenario 1 (ms). */
  overloadMs: number;
  /** Scenario 5: idle connections. */
  connections: {
    count: number;
    /** Connection handshakes in flight at once. */
    concurrency: number;
    /** Wait before reading RSS, so allocation settles. */
    settleMs: number;
    /** Fresh server per repetition; medians are reported. */
    reps: number;
    servers: string[];
  };
  /** Scenario 8: fan-out as subscribers grow. */
  scale: { subscribers: number[]; servers: string[] };
}

const FANOUT_COMMON = {
  connectConcurrency: 200,
  startDeliveriesPerS: 25_000,
  p99LimitMs: 100,
  minGrowth: 1.05,
  keepUpShare: 0.9,
  quietMs: 400,
  minMessagesPerStep: 10,
  maxDeliveriesPerS: 8_000_000,
  overloadMs: 0,
  overloadFactor: 2,
  quietThresholdPct: 40,
  noisyOtherCpuPct: 40,
} as const;

const PEERS = ['ably-ng', 'ws', 'ws-corked', 'socket.io', 'nats', 'mosquitto'];

export const PROFILES: Record<Mode, ModeProfile> = {
  quick: {
    mode: 'quick',
    budgetMs: 7 * 60_000,
    fanout: {
      ...FANOUT_COMMON,
      subscribers: 1000,
      stepFactor: 2,
      maxSteps: 10,
      refineSteps: 1,
      stepMs: 1000,
      drainMs: 2000,
      halfReps: 3,
      retriesPerStep: 1,
      retries: 4,
      noisyRetries: 2,
      retryWindowMs: 15_000,
      quietWaitMs: 2000,
      settleMaxMs: 8000,
    },
    fanoutServers: PEERS,
    fanoutRounds: 1,
    overloadMs: 2000,
    connections: { count: 20_000, concurrency: 500, settleMs: 1500, reps: 1, servers: ['ably-ng', 'ws'] },
    scale: { subscribers: [100, 1000, 10_000], servers: ['ably-ng'] },
  },
  full: {
    mode: 'full',
    budgetMs: 35 * 60_000,
    fanout: {
      ...FANOUT_COMMON,
      subscribers: 1000,
      stepFactor: 1.5,
      maxSteps: 14,
      refineSteps: 2,
      stepMs: 3000,
      drainMs: 4000,
      halfReps: 5,
      retriesPerStep: 2,
      retries: 8,
      noisyRetries: 6,
      retryWindowMs: 45_000,
      quietWaitMs: 10_000,
      settleMaxMs: 20_000,
    },
    fanoutServers: PEERS,
    fanoutRounds: 2,
    overloadMs: 6000,
    connections: { count: 20_000, concurrency: 500, settleMs: 3000, reps: 2, servers: ['ably-ng', 'ws', 'nats', 'mosquitto'] },
    scale: { subscribers: [100, 1000, 3000, 10_000], servers: ['ably-ng', 'ws-corked'] },
  },
};
