/**
 * How much each mode measures. Quick takes about eleven minutes on a 2-core machine
 * (short steps, a coarse ladder, one repetition where the figure is stable); full takes
 * up to an hour (longer steps, a finer ladder with bisection, more repetitions).
 */
import type { ChannelsOptions } from './channels-load.js';
import type { FanoutOptions } from './fanout.js';
import type { CrossRegionOptions } from './scenarios/cross-region.js';
import type { FailoverOptions } from './scenarios/failover.js';
import type { RegionOptions } from './scenarios/region.js';

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
  /** Scenario 3: one channel across a 3-node region, each layout at the same loads. */
  region: RegionOptions;
  /** Scenario 4: many channels on a 3-node region (channels-load.ts). */
  channels: ChannelsOptions;
  /** Scenario 8, channels and nodes: points measured as scenario 4 (same options, these counts). */
  scaleRegion: { channels: number[]; nodes: number[]; nodesChannels: number };
  /** Scenario 6: latency across two regions, with and without delay on the region link. */
  crossRegion: CrossRegionOptions;
  /** Scenario 7: kill -9 of a channel master; catch-up after a region partition heals. */
  failover: FailoverOptions;
  /** Issue 8: mesh vs NATS (transport-hop.ts, membership-scale.ts). */
  transports: { hop: { messages: number; rtts: number; fanout: number; runs: number }; membershipSizes: number[]; membershipWindowMs: number };
}

const CHANNELS_COMMON = {
  subscribersPerChannel: 3,
  channelsPerConnection: 30,
  publishersPerNode: 1,
  concurrency: 100,
  startPublishPerS: 250,
  warmPublishPerS: 1000,
  quietMs: 400,
  p99LimitMs: 100,
  keepUpShare: 0.9,
  minGrowth: 1.05,
  retriesPerStep: 1,
  fixedPublishPerS: 250,
} as const;

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
    budgetMs:
      7 * 60_000 +
      3 * 60_000 + // scenarios 6 and 7 (cross-region, failover: ~90 s each)
      4 * 60_000 + // scenarios 3, 4 and 8 (region, channels, scale-channels, scale-nodes: ~4 minutes in all)
      2 * 60_000, // transports (mesh vs NATS)
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
    region: { subscribers: [100], lightPublishPerS: 100, lightSubscribers: 10, lightStepMs: 1000, reps: 3, hopRtts: 2000, hopMessages: 30_000 },
    channels: { ...CHANNELS_COMMON, channels: 10_000, stepFactor: 2, maxSteps: 7, stepMs: 1000, drainMs: 2000, settleMaxMs: 8000, halfReps: 3, fixedReps: 3, rssSettleMs: 1500, idleCpuMs: 3000, quietWaitMs: 2000 },
    scaleRegion: { channels: [100, 1000, 10_000], nodes: [1, 3, 5], nodesChannels: 1000 },
    crossRegion: { nodesPerRegion: 3, subscribersPerGroup: 20, ratePerS: 100, measureMs: 3000, rounds: 4, addedDelayMs: 40, settleMs: 500, quietWaitMs: 3000 },
    failover: {
      kills: 3,
      ratePerS: 200,
      subscribers: 10,
      beforeKillMs: 1000,
      afterKillMs: 2500,
      rejoinTimeoutMs: 15_000,
      // Three rounds: one catch-up varied up to 2x between runs on this shared machine; the median is quoted.
      heal: { nodesPerRegion: 3, backlog: 100_000, subscribers: 3, rounds: 3, maxInFlight: 2000, catchUpTimeoutMs: 45_000, quietWaitMs: 5000, warmupBacklog: 20_000 },
    },
    transports: { hop: { messages: 30_000, rtts: 2000, fanout: 2, runs: 1 }, membershipSizes: [10, 50], membershipWindowMs: 2000 },
  },
  full: {
    mode: 'full',
    budgetMs:
      35 * 60_000 +
      8 * 60_000 + // scenarios 6 and 7 (~3 and ~4 minutes)
      16 * 60_000 + // scenarios 3, 4 and 8 (region, channels, scale-channels, scale-nodes: ~16 minutes in all)
      6 * 60_000, // transports (mesh vs NATS)
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
    region: { subscribers: [100, 1000], lightPublishPerS: 100, lightSubscribers: 10, lightStepMs: 3000, reps: 5, hopRtts: 5000, hopMessages: 200_000 },
    channels: { ...CHANNELS_COMMON, channels: 10_000, stepFactor: 1.5, maxSteps: 10, stepMs: 3000, drainMs: 4000, settleMaxMs: 20_000, halfReps: 5, fixedReps: 5, rssSettleMs: 3000, idleCpuMs: 5000, quietWaitMs: 10_000 },
    scaleRegion: { channels: [100, 1000, 10_000], nodes: [1, 3, 5], nodesChannels: 10_000 },
    crossRegion: { nodesPerRegion: 3, subscribersPerGroup: 50, ratePerS: 100, measureMs: 10_000, rounds: 6, addedDelayMs: 40, settleMs: 1000, quietWaitMs: 10_000 },
    failover: {
      kills: 8,
      ratePerS: 200,
      subscribers: 20,
      beforeKillMs: 1500,
      afterKillMs: 3000,
      rejoinTimeoutMs: 20_000,
      heal: { nodesPerRegion: 3, backlog: 100_000, subscribers: 5, rounds: 3, maxInFlight: 2000, catchUpTimeoutMs: 120_000, quietWaitMs: 15_000, warmupBacklog: 30_000 },
    },
    transports: { hop: { messages: 100_000, rtts: 3000, fanout: 2, runs: 3 }, membershipSizes: [10, 25, 50, 100], membershipWindowMs: 3000 },
  },
};
