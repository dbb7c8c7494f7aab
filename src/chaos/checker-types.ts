/**
 * The chaos checker's report: what `check` returns (see `checker.ts` for the definitions
 * of each figure).
 */
import type { LifecycleFigures } from './lifecycle-check.js';
import type { RecordError } from './record.js';
import type { FilterFigures } from './filter-check.js';
import type { SerialFigures } from './serial-check.js';
import type { VersionFigures } from './versions-check.js';

export interface MessageRef {
  publisher: string;
  seq: number;
}

export type Violation =
  | { kind: 'lost'; channel: string; region: string; client: string; publisher: string; seq: number; publishedAt: number }
  | { kind: 'duplicate'; channel: string; region: string; client: string; publisher: string; seq: number; deliveries: number }
  | {
      kind: 'order';
      channel: string;
      region: string;
      client: string;
      publisher: string;
      seq: number;
      /** The larger seq of the same publisher this subscriber had already received. */
      afterSeq: number;
      at: number;
    }
  | {
      kind: 'regionOrder';
      channel: string;
      region: string;
      /** `clients[0]` received `first` before `second`; `clients[1]` the other way round. */
      clients: [string, string];
      first: MessageRef;
      second: MessageRef;
    };

export type ViolationKind = Violation['kind'];

export type Anomaly =
  | { kind: 'deliveredButNacked'; channel: string; publisher: string; seq: number; deliveries: number; error?: RecordError }
  | { kind: 'deliveredButNeverPublished'; channel: string; publisher: string; seq: number; deliveries: number };

export interface ViolationCounts {
  lost: number;
  duplicates: number;
  order: number;
  regionOrder: number;
}

export interface PublishCounts {
  sent: number;
  acked: number;
  nacked: number;
  unknown: number;
}

export interface Availability extends PublishCounts {
  region: string;
  /** acked / sent; null when nothing was sent. */
  share: number | null;
}

export interface LatencyStats {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LatencySplit {
  outsideFaults: LatencyStats;
  insideFaults: LatencyStats;
}

export interface LatencyFigures {
  inRegion: LatencySplit;
  crossRegion: LatencySplit;
}

export interface ChannelRegionFigures extends ViolationCounts {
  channel: string;
  region: string;
  subscribers: number;
  /** (subscriber, acknowledged message) pairs the subscriber was expected to receive. */
  expected: number;
  excused: number;
}

export interface RegionFigures extends ViolationCounts {
  region: string;
  subscribers: number;
  expected: number;
  excused: number;
  publishes: PublishCounts;
  latency: LatencyFigures;
}

export interface FaultFigures {
  action: string;
  target: string;
  start: number;
  end: number;
  /** No `end` line: the window is closed at the end of the record. */
  open: boolean;
  /** ms from `end` until convergence; null when an expected message never arrived. */
  convergenceMs: number | null;
  /** Expected, not excused (subscriber, message) pairs published before `end` never delivered. */
  unconverged: number;
  availability: Availability[];
}

export interface RegionSeries {
  region: string;
  /** First deliveries to subscribers of this region per second, one entry per bucket. */
  deliveriesPerS: number[];
  /** Median publish→deliver latency of those deliveries; null in an empty bucket. */
  p50Ms: (number | null)[];
}

export interface Timeline {
  start: number;
  bucketMs: number;
  buckets: number;
  series: RegionSeries[];
}

/** The occupancy check at the end of a run (`occupancy` lines of the record). */
export interface OccupancyFigures {
  /** Views read: each member's events and each region's REST status, per channel. */
  views: number;
  /** Views that did not show the counts of the clients attached when the check ended. */
  mismatched: number;
  /** From the check's start until the slowest view showed them; null when one never did. */
  convergedAfterMs: number | null;
  /** Up to `maxExamples` views that were off, with each count that differed. */
  examples: { region: string; observer: string; channel: string; differing: string[] }[];
}

/** The presence check at the end of a run (`presence` lines of the record). */
export interface PresenceFigures {
  /** Views read: each region's REST endpoint and each subscriber's SDK, per channel. */
  views: number;
  /** Member clients expected in every set. */
  members: number;
  /** Views that did not show exactly the members when the check ended. */
  mismatched: number;
  /** From the check's start until the slowest view showed them; null when one never did. */
  convergedAfterMs: number | null;
  /** Up to `maxExamples` views that were off: members missing, and extra (`clientId connectionId`). */
  examples: { region: string; observer: string; channel: string; missing: string[]; extra: string[] }[];
}

/** One thing the history check found (`missing`, `duplicate`, `order`: a message; `unread`: a history that could not be read). */
export interface HistoryExample {
  kind: 'missing' | 'duplicate' | 'order' | 'unread';
  region: string;
  channel: string;
  publisher?: string;
  seq?: number;
  detail?: string;
}

/** The history check (history-check.ts): each region's stored history of each channel against what was acknowledged. */
export interface HistoryFigures {
  /** Histories read: one per channel and region. */
  reads: number;
  /** The workload's messages in them, in all. */
  items: number;
  /** Acknowledged messages expected in a history, and those excused (published before a continuity signal there). */
  expected: number;
  excused: number;
  /** Expected and not in it; in it twice; after a later message of its publisher; histories that could not be read. */
  missing: number;
  duplicates: number;
  order: number;
  unread: number;
  /** Up to `maxExamples` of each kind. */
  examples: HistoryExample[];
}

/** One thing the token check found (token-check.ts). */
export interface TokenExample {
  /** `freshRefused`: a client's own request refused as replayed (40105); `replayTaken`: a replay issued a token outside every fault. */
  kind: 'freshRefused' | 'replayTaken';
  t: number;
  region: string;
  client: string;
  detail?: string;
}

/** The token check (token-check.ts): clients' signed TokenRequests, and each sent again once it was issued. */
export interface TokenFigures {
  /** Clients' own requests: issued a token, refused (an Ably error), failed (no answer). */
  requests: { issued: number; refused: number; failed: number };
  /** The replays: refused (40105 expected), taken (a second token), failed (no answer). */
  replays: { refused: number; taken: number; failed: number };
  /** Own requests refused as replays (a violation). */
  freshRefused: number;
  /** Replays taken inside a fault window or within its grace after (counted only). */
  takenInFaults: number;
  /** Replays taken outside every fault window (a violation). */
  takenOutsideFaults: number;
  /** Up to `maxExamples` of each kind. */
  examples: TokenExample[];
}

/** The revocation check (revocation-check.ts): each revocation probe's token refused by every node. */
export interface RevocationFigures {
  revocations: number;
  /** (revocation, node) pairs checked, and those refused before the end. */
  checks: number;
  refused: number;
  /** Pairs whose node still took the token at the end (a violation), and up to `maxExamples` of them. */
  unseenCount: number;
  unseen: { clientId: string; node: string; revokedAt: number; through: string }[];
  /** From the revocation until each node refused its token (ms): all, and those with no fault window open meanwhile. */
  allMs: { p50: number | null; max: number | null };
  outsideFaultsMs: { p50: number | null; max: number | null; count: number };
}

/** What the subscribers in delta mode decoded (`deltas` lines): checked only through their deliveries, as any other's. */
export interface DeltaFigures {
  subscribers: number;
  received: number;
  decoded: number;
  /** Subscribers given DELTA_CHECK_MIN messages or more that decoded fewer than half of them as deltas (the service sent most whole): each FAILs the run. */
  starved: string[];
  /** Attaches again after a delta that could not be applied (40018). */
  reattached: number;
}

export interface Report {
  verdict: 'PASS' | 'FAIL';
  span: { start: number; end: number; endRecorded: boolean };
  totals: {
    events: number;
    channels: number;
    regions: number;
    subscribers: number;
    publishes: PublishCounts;
    /** Every deliver line, duplicates included. */
    deliveries: number;
    continuity: number;
    expected: number;
    excused: number;
  };
  violations: ViolationCounts;
  /** Up to `maxExamples` of each kind. */
  examples: Violation[];
  anomalies: { deliveredButNacked: number; deliveredButNeverPublished: number; examples: Anomaly[] };
  byRegion: RegionFigures[];
  byChannel: ChannelRegionFigures[];
  faults: FaultFigures[];
  latency: LatencyFigures;
  availability: { outsideFaults: Availability[] };
  timeline: Timeline;
  /** null: the workload had no presence members. */
  presence: PresenceFigures | null;
  /** null: the workload had no members to watch occupancy. */
  occupancy: OccupancyFigures | null;
  /** null: no history of [meta]channel.lifecycle was read. Optional: reports written before it have none. */
  lifecycle?: LifecycleFigures | null;
  /** null: no subscriber was in delta mode. */
  deltas: DeltaFigures | null;
  /** null: no subscriber had a subscription filter. Optional: reports written before filters have none. */
  filters?: FilterFigures | null;
  /** null: no message was seen with or without a serial. Optional: reports written before serials have none. */
  serials?: SerialFigures | null;
  /** null: the workload had no version probes. Optional: reports written before them have none. */
  versions?: VersionFigures | null;
  history: HistoryFigures | null;
  /** null: the workload authenticated with the key. */
  tokens: TokenFigures | null;
  /** null: the workload made no revocations. */
  revocations: RevocationFigures | null;
  notes: string[];
}

export interface CheckOptions {
  /** Examples kept per violation kind and for anomalies (default 10). */
  maxExamples?: number;
  /** Timeline resolution (default 1000 ms, widened so that a run has at most 1800 buckets). */
  bucketMs?: number;
}
