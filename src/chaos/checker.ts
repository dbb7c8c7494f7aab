/**
 * The chaos checker: reads a workload record (`record.ts`) and checks it against the
 * guarantees of DESIGN.md, in the spirit of Jepsen's checkers. The core (`Checker`,
 * `check`) is pure: events in, a `Report` out (`report.ts` turns it into text, markdown
 * and a picture). The CLI at the bottom streams a record file through it:
 *
 *   node dist/chaos/checker.js RECORD.jsonl [--json OUT.json] [--report DIR [--name NAME]]
 *
 * exit 0: no violation; 1: at least one violation; 2: bad usage or an unreadable record.
 *
 * Definitions (a "subscriber" is one client on one channel):
 * - expected: an acknowledged publish is expected by every subscriber of its channel, in
 *   any region, whose first `subscribe` is at or before the publish's `t` and that did not
 *   `unsubscribe` before `end` (an unsubscribe at or after `end` is teardown).
 * - lost (violation): expected, never delivered, and no `continuity` event for that
 *   subscriber at or after the publish's `t` (and at or before `end`: signals during
 *   teardown excuse nothing). With such a signal it is `excused`, which is not a violation.
 * - duplicate (violation): each delivery of one (publisher, seq) to one subscriber after the first.
 * - order (violation): a first delivery of (publisher, seq) after a larger seq of the same
 *   publisher reached that subscriber. Order is the order of `deliver` lines in the record.
 * - region order (violation): a pair of subscribers of one channel in one region that both
 *   got messages m1 and m2, in opposite orders; counted once per subscriber pair.
 * - convergence of a fault window: from its end until every expected, not excused message
 *   published before that end had reached every subscriber expecting it (0 when all had
 *   arrived by then; null when some never did).
 * - latency: `deliver.t - deliver.sentAt` of first deliveries; in-region when the publisher's
 *   region (from its publish lines) is the subscriber's; "inside faults" when the interval
 *   [sentAt, t] overlaps a fault window. p50/p99 are nearest-rank percentiles.
 * - availability: per region, the share of publish attempts sent in a window (start <= t
 *   <= end) that were ACKed; NACKed and unknown count as not ACKed.
 */
import { writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readRecord, type PublishOutcome, type RecordError, type RecordEvent } from './record.js';
import { formatSummary, writeScenarioReport } from './report.js';

// ---------------------------------------------------------------------------------------
// Report

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
  notes: string[];
}

export interface CheckOptions {
  /** Examples kept per violation kind and for anomalies (default 10). */
  maxExamples?: number;
  /** Timeline resolution (default 1000 ms, widened so that a run has at most 1800 buckets). */
  bucketMs?: number;
}

const DEFAULT_MAX_EXAMPLES = 10;
const DEFAULT_BUCKET_MS = 1000;
const MAX_TIMELINE_BUCKETS = 1800;

// ---------------------------------------------------------------------------------------
// State built while streaming

const OUTCOME_RANK: Record<PublishOutcome, number> = { unknown: 0, nack: 1, ack: 2 };

interface Msg {
  publisher: string;
  seq: number;
  /** Earliest publish attempt's `t`; NaN when no publish line was seen. */
  publishT: number;
  /** Best outcome over its publish lines (ack > nack > unknown); null: never published. */
  outcome: PublishOutcome | null;
  error: RecordError | undefined;
  /** `sentAt` of its first delivery, else its publish `t`. */
  sentAt: number;
  deliveries: number;
}

interface Sub {
  client: string;
  region: string;
  subscribeT: number;
  unsubscribeT: number;
  continuity: number[];
  /** Message ids of first deliveries, in the order received, and when. */
  order: number[];
  times: number[];
  index: Map<number, number>;
  maxSeq: Map<string, number>;
  /** Extra deliveries per message id. */
  extra: Map<number, number>;
  duplicates: number;
  orderViolations: number;
  regionOrder: number;
  expected: number;
  excused: number;
  lost: number;
}

interface Channel {
  name: string;
  ids: Map<string, number>;
  msgs: Msg[];
  subs: Map<string, Sub>;
}

interface PublishAttempt {
  t: number;
  region: string;
  outcome: PublishOutcome;
}

interface FaultWindow {
  action: string;
  target: string;
  start: number;
  end: number;
  open: boolean;
}

function emptyCounts(): PublishCounts {
  return { sent: 0, acked: 0, nacked: 0, unknown: 0 };
}

function countOutcome(c: PublishCounts, o: PublishOutcome): void {
  c.sent++;
  if (o === 'ack') c.acked++;
  else if (o === 'nack') c.nacked++;
  else c.unknown++;
}

function availability(region: string, c: PublishCounts): Availability {
  return { region, ...c, share: c.sent === 0 ? null : c.acked / c.sent };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Nearest-rank percentile of sorted values (p in 0..1). */
function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

function latencyStats(values: number[]): LatencyStats {
  const s = Float64Array.from(values).sort();
  return { count: s.length, p50Ms: percentile(s, 0.5), p99Ms: percentile(s, 0.99), maxMs: s.length ? (s[s.length - 1] as number) : null };
}

/** Index of the first element of sorted `xs` greater than `v` (`strict`) or at least `v`. */
function lowerBound(xs: ArrayLike<number>, v: number, strict: boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = xs[mid] as number;
    if (strict ? x <= v : x < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted, disjoint [start, end] intervals covering every fault window. */
interface Merged {
  starts: number[];
  ends: number[];
}

function mergeWindows(ws: FaultWindow[]): Merged {
  const sorted = [...ws].sort((a, b) => a.start - b.start);
  const starts: number[] = [];
  const ends: number[] = [];
  for (const w of sorted) {
    const last = ends.length - 1;
    if (last >= 0 && w.start <= (ends[last] as number)) ends[last] = Math.max(ends[last] as number, w.end);
    else {
      starts.push(w.start);
      ends.push(w.end);
    }
  }
  return { starts, ends };
}

/** Does [from, to] overlap any merged window? */
function overlaps(m: Merged, from: number, to: number): boolean {
  const i = lowerBound(m.ends, from, false);
  return i < m.starts.length && (m.starts[i] as number) <= to;
}

class LatencyBins {
  readonly inRegion = { outsideFaults: [] as number[], insideFaults: [] as number[] };
  readonly crossRegion = { outsideFaults: [] as number[], insideFaults: [] as number[] };

  add(sameRegion: boolean, inFault: boolean, ms: number): void {
    const side = sameRegion ? this.inRegion : this.crossRegion;
    (inFault ? side.insideFaults : side.outsideFaults).push(ms);
  }

  figures(): LatencyFigures {
    return {
      inRegion: { outsideFaults: latencyStats(this.inRegion.outsideFaults), insideFaults: latencyStats(this.inRegion.insideFaults) },
      crossRegion: {
        outsideFaults: latencyStats(this.crossRegion.outsideFaults),
        insideFaults: latencyStats(this.crossRegion.insideFaults),
      },
    };
  }
}

/** A fingerprint of a delivery order (length and FNV-1a of the ids), to group identical orders. */
function orderHash(order: number[]): string {
  let h = 0x811c9dc5;
  for (const m of order) h = Math.imul(h ^ m, 16777619) >>> 0;
  return `${order.length}:${h}`;
}

function sameOrder(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Two messages that `a` and `b` both received in opposite orders, as [m1, m2] with `a`
 * getting m1 first; null if they agree. O(|a| + |b|): `pos` (all -1, as long as the
 * channel's message count) indexes `a`'s order and is reset before returning.
 */
function disagreement(a: number[], b: number[], pos: Int32Array): [number, number] | null {
  for (let i = 0; i < a.length; i++) pos[a[i] as number] = i;
  let maxPos = -1;
  let found: [number, number] | null = null;
  for (const m of b) {
    const p = pos[m] as number;
    if (p < 0) continue;
    if (p < maxPos) {
      found = [m, a[maxPos] as number];
      break;
    }
    maxPos = p;
  }
  for (const m of a) pos[m] = -1;
  return found;
}

// ---------------------------------------------------------------------------------------
// Checker

/** Streaming checker: `add` every event of a record (in file order), then `finish` once. */
export class Checker {
  private readonly channels = new Map<string, Channel>();
  private readonly attempts: PublishAttempt[] = [];
  private readonly publisherRegion = new Map<string, string>();
  private readonly faultEvents: Array<{ t: number; action: string; target: string; phase: 'start' | 'end' }> = [];
  private readonly orderExamples: Violation[] = [];
  private readonly maxExamples: number;
  private events = 0;
  private deliveries = 0;
  private continuity = 0;
  private minT = Infinity;
  private maxT = -Infinity;
  private endT = NaN;

  constructor(private readonly options: CheckOptions = {}) {
    this.maxExamples = options.maxExamples ?? DEFAULT_MAX_EXAMPLES;
  }

  add(e: RecordEvent): void {
    this.events++;
    if (e.t < this.minT) this.minT = e.t;
    if (e.t > this.maxT) this.maxT = e.t;
    switch (e.type) {
      case 'publish': {
        this.attempts.push({ t: e.t, region: e.region, outcome: e.outcome });
        if (!this.publisherRegion.has(e.publisher)) this.publisherRegion.set(e.publisher, e.region);
        const m = this.msg(this.channel(e.channel), e.publisher, e.seq);
        if (!(m.publishT <= e.t)) m.publishT = e.t;
        if (Number.isNaN(m.sentAt)) m.sentAt = e.t;
        if (m.outcome === null || OUTCOME_RANK[e.outcome] > OUTCOME_RANK[m.outcome]) {
          m.outcome = e.outcome;
          m.error = e.error;
        }
        break;
      }
      case 'deliver':
        this.deliver(e.channel, e.region, e.client, e.publisher, e.seq, e.sentAt, e.t);
        break;
      case 'subscribe': {
        const s = this.sub(this.channel(e.channel), e.client, e.region);
        if (!(s.subscribeT <= e.t)) s.subscribeT = e.t;
        break;
      }
      case 'unsubscribe': {
        const s = this.sub(this.channel(e.channel), e.client, e.region);
        if (!(s.unsubscribeT <= e.t)) s.unsubscribeT = e.t;
        break;
      }
      case 'continuity':
        this.continuity++;
        this.sub(this.channel(e.channel), e.client, e.region).continuity.push(e.t);
        break;
      case 'fault':
        this.faultEvents.push({ t: e.t, action: e.action, target: e.target, phase: e.phase });
        break;
      case 'end':
        if (!(this.endT >= e.t)) this.endT = e.t;
        break;
    }
  }

  private channel(name: string): Channel {
    let c = this.channels.get(name);
    if (!c) this.channels.set(name, (c = { name, ids: new Map(), msgs: [], subs: new Map() }));
    return c;
  }

  private msgId(c: Channel, publisher: string, seq: number): number {
    const key = `${publisher}\u0000${seq}`;
    let id = c.ids.get(key);
    if (id === undefined) {
      id = c.msgs.length;
      c.ids.set(key, id);
      c.msgs.push({ publisher, seq, publishT: NaN, outcome: null, error: undefined, sentAt: NaN, deliveries: 0 });
    }
    return id;
  }

  private msg(c: Channel, publisher: string, seq: number): Msg {
    return c.msgs[this.msgId(c, publisher, seq)] as Msg;
  }

  private sub(c: Channel, client: string, region: string): Sub {
    let s = c.subs.get(client);
    if (!s) {
      s = {
        client,
        region,
        subscribeT: NaN,
        unsubscribeT: NaN,
        continuity: [],
        order: [],
        times: [],
        index: new Map(),
        maxSeq: new Map(),
        extra: new Map(),
        duplicates: 0,
        orderViolations: 0,
        regionOrder: 0,
        expected: 0,
        excused: 0,
        lost: 0,
      };
      c.subs.set(client, s);
    }
    return s;
  }

  private deliver(channel: string, region: string, client: string, publisher: string, seq: number, sentAt: number, t: number): void {
    this.deliveries++;
    const c = this.channel(channel);
    const id = this.msgId(c, publisher, seq);
    const m = c.msgs[id] as Msg;
    m.deliveries++;
    if (Number.isNaN(m.sentAt) || m.deliveries === 1) m.sentAt = sentAt;
    const s = this.sub(c, client, region);
    if (s.index.has(id)) {
      s.duplicates++;
      s.extra.set(id, (s.extra.get(id) ?? 0) + 1);
      return;
    }
    s.index.set(id, s.order.length);
    s.order.push(id);
    s.times.push(t);
    const max = s.maxSeq.get(publisher);
    if (max === undefined || seq > max) s.maxSeq.set(publisher, seq);
    else {
      s.orderViolations++;
      if (this.orderExamples.length < this.maxExamples) {
        this.orderExamples.push({ kind: 'order', channel, region: s.region, client, publisher, seq, afterSeq: max, at: t });
      }
    }
  }

  finish(): Report {
    const notes: string[] = [];
    const start = Number.isFinite(this.minT) ? this.minT : 0;
    const endRecorded = !Number.isNaN(this.endT);
    const end = endRecorded ? this.endT : Number.isFinite(this.maxT) ? this.maxT : 0;
    if (!endRecorded) notes.push('no end line: the record was closed at its last event, so stragglers may count as lost');

    const windows = this.windows(end, notes);
    const merged = mergeWindows(windows);
    const found = new Findings(this.maxExamples);
    const convergence = new Convergence(windows);
    const last = Math.max(end, this.maxT);
    const timeline = new TimelineBuilder(start, this.bucketMs(start, last), last);
    const latency = new LatencyBins();
    const regionLatency = new Map<string, LatencyBins>();
    const byChannel: ChannelRegionFigures[] = [];

    for (const c of [...this.channels.values()].sort((a, b) => byString(a.name, b.name))) {
      findAnomalies(c, found);
      const acked = ackedByPublishTime(c);
      const subs = [...c.subs.values()].sort((a, b) => byString(a.client, b.client));
      for (const s of subs) {
        findDuplicates(c, s, found);
        checkExpected(c, s, acked, end, convergence, found);
        let bins = regionLatency.get(s.region);
        if (!bins) regionLatency.set(s.region, (bins = new LatencyBins()));
        this.measure(c, s, merged, timeline, [latency, bins]);
      }
      byChannel.push(...checkRegionOrder(c, subs, found));
    }
    if (found.withoutSubscribe > 0) notes.push(`${found.withoutSubscribe} subscriber(s) received messages without a subscribe line: not checked for loss`);
    if (found.lateSignals > 0) notes.push(`${found.lateSignals} continuity signal(s) after the end line were ignored (teardown excuses nothing)`);

    const faults = convergence.figures();
    const publishes = this.publishFigures(faults, merged);
    const regions = [...new Set([...publishes.byRegion.keys(), ...timeline.regions()])].sort(byString);
    const byRegion = regions.map((region) => regionFigures(region, byChannel, publishes.byRegion.get(region), regionLatency.get(region)));
    const violations = sumViolations(byChannel);

    return {
      verdict: violationTotal(violations) > 0 ? 'FAIL' : 'PASS',
      span: { start, end, endRecorded },
      totals: {
        events: this.events,
        channels: this.channels.size,
        regions: regions.length,
        subscribers: byChannel.reduce((a, r) => a + r.subscribers, 0),
        publishes: publishes.total,
        deliveries: this.deliveries,
        continuity: this.continuity,
        expected: byChannel.reduce((a, r) => a + r.expected, 0),
        excused: byChannel.reduce((a, r) => a + r.excused, 0),
      },
      violations,
      examples: [...found.lost, ...found.duplicates, ...this.orderExamples, ...found.regionOrder],
      anomalies: { deliveredButNacked: found.nacked, deliveredButNeverPublished: found.neverPublished, examples: found.anomalies },
      byRegion,
      byChannel,
      faults,
      latency: latency.figures(),
      availability: { outsideFaults: publishes.outsideFaults },
      timeline: timeline.build(),
      notes,
    };
  }

  /** Latency and timeline of a subscriber's first deliveries. */
  private measure(c: Channel, s: Sub, merged: Merged, timeline: TimelineBuilder, bins: LatencyBins[]): void {
    timeline.touch(s.region);
    for (let i = 0; i < s.order.length; i++) {
      const m = c.msgs[s.order[i] as number] as Msg;
      const t = s.times[i] as number;
      const ms = t - m.sentAt;
      timeline.add(s.region, t, ms);
      const from = this.publisherRegion.get(m.publisher);
      if (from === undefined) continue;
      const inFault = overlaps(merged, m.sentAt, t);
      for (const b of bins) b.add(from === s.region, inFault, ms);
    }
  }

  /** Publish counts per region: in all, inside each fault window (filling `faults`), and outside them all. */
  private publishFigures(faults: FaultFigures[], merged: Merged): { total: PublishCounts; byRegion: Map<string, PublishCounts>; outsideFaults: Availability[] } {
    const attempts = [...this.attempts].sort((a, b) => a.t - b.t);
    const times = attempts.map((a) => a.t);
    for (const f of faults) {
      const per = new Map<string, PublishCounts>();
      for (let i = lowerBound(times, f.start, false); i < attempts.length && (times[i] as number) <= f.end; i++) {
        const a = attempts[i] as PublishAttempt;
        countOutcome(countsOf(per, a.region), a.outcome);
      }
      f.availability = availabilities(per);
    }
    const total = emptyCounts();
    const byRegion = new Map<string, PublishCounts>();
    const outside = new Map<string, PublishCounts>();
    for (const a of attempts) {
      countOutcome(total, a.outcome);
      countOutcome(countsOf(byRegion, a.region), a.outcome);
      if (!overlaps(merged, a.t, a.t)) countOutcome(countsOf(outside, a.region), a.outcome);
    }
    return { total, byRegion, outsideFaults: availabilities(outside) };
  }

  /** Pairs fault starts and ends by (action, target), oldest open start first. */
  private windows(end: number, notes: string[]): FaultWindow[] {
    const open = new Map<string, Array<{ t: number; action: string; target: string }>>();
    const out: FaultWindow[] = [];
    const events = [...this.faultEvents].sort((a, b) => a.t - b.t);
    for (const f of events) {
      const key = `${f.action}\u0000${f.target}`;
      const q = open.get(key) ?? [];
      if (f.phase === 'start') {
        q.push(f);
        open.set(key, q);
        continue;
      }
      const s = q.shift();
      if (!s) {
        notes.push(`fault end without a start ignored: ${f.action} ${f.target} at ${f.t}`);
        continue;
      }
      out.push({ action: s.action, target: s.target, start: s.t, end: f.t, open: false });
    }
    for (const q of open.values()) {
      for (const s of q) out.push({ action: s.action, target: s.target, start: s.t, end: Math.max(s.t, end), open: true });
    }
    return out.sort((a, b) => a.start - b.start || a.end - b.end);
  }

  private bucketMs(start: number, last: number): number {
    const want = this.options.bucketMs ?? DEFAULT_BUCKET_MS;
    const span = Math.max(0, last - start);
    return Math.max(want, Math.ceil(span / MAX_TIMELINE_BUCKETS / want) * want);
  }
}

// ---------------------------------------------------------------------------------------
// The phases of `finish`

/** Examples (up to `cap` per kind) and counts found while `finish` walks the channels. */
class Findings {
  readonly lost: Violation[] = [];
  readonly duplicates: Violation[] = [];
  readonly regionOrder: Violation[] = [];
  readonly anomalies: Anomaly[] = [];
  nacked = 0;
  neverPublished = 0;
  withoutSubscribe = 0;
  lateSignals = 0;

  constructor(private readonly cap: number) {}

  keep<T>(list: T[], example: T): void {
    if (list.length < this.cap) list.push(example);
  }
}

/**
 * Convergence per fault window. A (subscriber, message) pair published before a window's
 * end counts for that window and every window ending later, so each pair updates the
 * first such window (by end) and `figures` carries maxima and counts forward.
 */
class Convergence {
  private readonly byEnd: number[];
  private readonly ends: number[];
  private readonly lastDelivery: number[];
  private readonly lostBefore: number[];

  constructor(private readonly windows: FaultWindow[]) {
    this.byEnd = [...windows.keys()].sort((a, b) => (windows[a] as FaultWindow).end - (windows[b] as FaultWindow).end);
    this.ends = this.byEnd.map((i) => (windows[i] as FaultWindow).end);
    this.lastDelivery = new Array<number>(windows.length).fill(-Infinity);
    this.lostBefore = new Array<number>(windows.length).fill(0);
  }

  /** An expected message published at `publishT` reached its subscriber at `at`. */
  delivered(publishT: number, at: number): void {
    const k = lowerBound(this.ends, publishT, true);
    if (k < this.ends.length && at > (this.lastDelivery[k] as number)) this.lastDelivery[k] = at;
  }

  /** An expected message published at `publishT` never reached its subscriber. */
  lost(publishT: number): void {
    const k = lowerBound(this.ends, publishT, true);
    if (k < this.ends.length) this.lostBefore[k]!++;
  }

  /** The fault figures in window order, availability still empty. */
  figures(): FaultFigures[] {
    const out: FaultFigures[] = this.windows.map((w) => ({ ...w, convergenceMs: 0, unconverged: 0, availability: [] }));
    let last = -Infinity;
    let lost = 0;
    this.byEnd.forEach((wi, k) => {
      last = Math.max(last, this.lastDelivery[k] as number);
      lost += this.lostBefore[k] as number;
      const f = out[wi] as FaultFigures;
      f.unconverged = lost;
      f.convergenceMs = lost > 0 ? null : Math.max(0, last - f.end);
    });
    return out;
  }
}

/** First deliveries per region per bucket, and their latencies for the bucket's p50. */
class TimelineBuilder {
  readonly buckets: number;
  private readonly series = new Map<string, { counts: number[]; latencies: number[][] }>();

  constructor(
    private readonly start: number,
    private readonly bucketMs: number,
    last: number,
  ) {
    this.buckets = Math.max(1, Math.floor((last - start) / bucketMs) + 1);
  }

  private of(region: string): { counts: number[]; latencies: number[][] } {
    let s = this.series.get(region);
    if (!s) {
      s = { counts: new Array<number>(this.buckets).fill(0), latencies: Array.from({ length: this.buckets }, () => []) };
      this.series.set(region, s);
    }
    return s;
  }

  /** Creates the region's series even when it gets nothing, so every subscriber region is drawn. */
  touch(region: string): void {
    this.of(region);
  }

  add(region: string, t: number, latencyMs: number): void {
    const s = this.of(region);
    const b = Math.min(this.buckets - 1, Math.max(0, Math.floor((t - this.start) / this.bucketMs)));
    s.counts[b]!++;
    s.latencies[b]!.push(latencyMs);
  }

  regions(): string[] {
    return [...this.series.keys()];
  }

  build(): Timeline {
    return {
      start: this.start,
      bucketMs: this.bucketMs,
      buckets: this.buckets,
      series: [...this.series]
        .sort((x, y) => byString(x[0], y[0]))
        .map(([region, s]) => ({
          region,
          deliveriesPerS: s.counts.map((n) => (n * 1000) / this.bucketMs),
          p50Ms: s.latencies.map((l) => percentile(Float64Array.from(l).sort(), 0.5)),
        })),
    };
  }
}

/** Messages delivered although NACKed, or never published at all. */
function findAnomalies(c: Channel, found: Findings): void {
  for (const m of c.msgs) {
    if (m.deliveries === 0) continue;
    if (m.outcome === 'nack') {
      found.nacked++;
      const error = m.error ? { error: m.error } : {};
      found.keep(found.anomalies, { kind: 'deliveredButNacked', channel: c.name, publisher: m.publisher, seq: m.seq, deliveries: m.deliveries, ...error });
    } else if (m.outcome === null) {
      found.neverPublished++;
      found.keep(found.anomalies, { kind: 'deliveredButNeverPublished', channel: c.name, publisher: m.publisher, seq: m.seq, deliveries: m.deliveries });
    }
  }
}

/** A channel's acknowledged message ids and their publish times, by publish time. */
function ackedByPublishTime(c: Channel): { ids: number[]; times: number[] } {
  const ids: number[] = [];
  c.msgs.forEach((m, id) => {
    if (m.outcome === 'ack') ids.push(id);
  });
  ids.sort((a, b) => (c.msgs[a] as Msg).publishT - (c.msgs[b] as Msg).publishT);
  return { ids, times: ids.map((id) => (c.msgs[id] as Msg).publishT) };
}

function findDuplicates(c: Channel, s: Sub, found: Findings): void {
  for (const [id, extra] of s.extra) {
    const m = c.msgs[id] as Msg;
    found.keep(found.duplicates, { kind: 'duplicate', channel: c.name, region: s.region, client: s.client, publisher: m.publisher, seq: m.seq, deliveries: extra + 1 });
  }
}

/** Loss, excuses and convergence: every acknowledged message the subscriber was expected to get. */
function checkExpected(c: Channel, s: Sub, acked: { ids: number[]; times: number[] }, end: number, convergence: Convergence, found: Findings): void {
  if (Number.isNaN(s.subscribeT)) {
    if (s.order.length > 0) found.withoutSubscribe++;
    return;
  }
  if (s.unsubscribeT < end) return;
  let lastGap = -Infinity;
  for (const g of s.continuity) {
    if (g > end) found.lateSignals++;
    else if (g > lastGap) lastGap = g;
  }
  for (let i = lowerBound(acked.times, s.subscribeT, false); i < acked.ids.length; i++) {
    const id = acked.ids[i] as number;
    const m = c.msgs[id] as Msg;
    s.expected++;
    const at = s.index.get(id);
    if (at !== undefined) convergence.delivered(m.publishT, s.times[at] as number);
    else if (m.publishT <= lastGap) s.excused++;
    else {
      s.lost++;
      convergence.lost(m.publishT);
      found.keep(found.lost, { kind: 'lost', channel: c.name, region: s.region, client: s.client, publisher: m.publisher, seq: m.seq, publishedAt: m.publishT });
    }
  }
}

/**
 * Compares the delivery orders of the subscribers of each region of a channel, pair by
 * pair, after grouping identical orders (the usual case), and returns the per-region rows.
 */
function checkRegionOrder(c: Channel, subs: Sub[], found: Findings): ChannelRegionFigures[] {
  const pos = new Int32Array(c.msgs.length).fill(-1);
  const regions = new Map<string, Sub[]>();
  for (const s of subs) {
    let list = regions.get(s.region);
    if (!list) regions.set(s.region, (list = []));
    list.push(s);
  }
  const rows: ChannelRegionFigures[] = [];
  for (const [region, list] of [...regions].sort((a, b) => byString(a[0], b[0]))) {
    const groups: Sub[][] = [];
    const byHash = new Map<string, Sub[][]>();
    for (const s of list) {
      const h = orderHash(s.order);
      const candidates = byHash.get(h) ?? [];
      const same = candidates.find((g) => sameOrder((g[0] as Sub).order, s.order));
      if (same) same.push(s);
      else {
        candidates.push([s]);
        byHash.set(h, candidates);
        groups.push(candidates[candidates.length - 1] as Sub[]);
      }
    }
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const ga = groups[i] as Sub[];
        const gb = groups[j] as Sub[];
        const a = ga[0] as Sub;
        const b = gb[0] as Sub;
        const d = disagreement(a.order, b.order, pos);
        if (!d) continue;
        // Counted on the first member of each pair only, so that the sum counts pairs.
        for (const s of ga) s.regionOrder += gb.length;
        const m1 = c.msgs[d[0]] as Msg;
        const m2 = c.msgs[d[1]] as Msg;
        found.keep(found.regionOrder, {
          kind: 'regionOrder',
          channel: c.name,
          region,
          clients: [a.client, b.client],
          first: { publisher: m1.publisher, seq: m1.seq },
          second: { publisher: m2.publisher, seq: m2.seq },
        });
      }
    }
    rows.push(channelRegionFigures(c.name, region, list));
  }
  return rows;
}

function channelRegionFigures(channel: string, region: string, subs: Sub[]): ChannelRegionFigures {
  const f: ChannelRegionFigures = { channel, region, subscribers: subs.length, expected: 0, excused: 0, lost: 0, duplicates: 0, order: 0, regionOrder: 0 };
  for (const s of subs) {
    f.expected += s.expected;
    f.excused += s.excused;
    f.lost += s.lost;
    f.duplicates += s.duplicates;
    f.order += s.orderViolations;
    f.regionOrder += s.regionOrder;
  }
  return f;
}

function sumViolations(rows: ViolationCounts[]): ViolationCounts {
  const v: ViolationCounts = { lost: 0, duplicates: 0, order: 0, regionOrder: 0 };
  for (const r of rows) {
    v.lost += r.lost;
    v.duplicates += r.duplicates;
    v.order += r.order;
    v.regionOrder += r.regionOrder;
  }
  return v;
}

function regionFigures(region: string, byChannel: ChannelRegionFigures[], publishes: PublishCounts | undefined, bins: LatencyBins | undefined): RegionFigures {
  const rows = byChannel.filter((r) => r.region === region);
  return {
    region,
    subscribers: rows.reduce((a, r) => a + r.subscribers, 0),
    expected: rows.reduce((a, r) => a + r.expected, 0),
    excused: rows.reduce((a, r) => a + r.excused, 0),
    ...sumViolations(rows),
    publishes: publishes ?? emptyCounts(),
    latency: (bins ?? new LatencyBins()).figures(),
  };
}

function countsOf(m: Map<string, PublishCounts>, region: string): PublishCounts {
  let c = m.get(region);
  if (!c) m.set(region, (c = emptyCounts()));
  return c;
}

function availabilities(m: Map<string, PublishCounts>): Availability[] {
  return [...m].sort((x, y) => byString(x[0], y[0])).map(([region, c]) => availability(region, c));
}

/** Checks a whole history at once. */
export function check(events: Iterable<RecordEvent>, options?: CheckOptions): Report {
  const c = new Checker(options);
  for (const e of events) c.add(e);
  return c.finish();
}

/** All violations of a report's kinds together; the verdict is FAIL when this is not 0. */
export function violationTotal(v: ViolationCounts): number {
  return v.lost + v.duplicates + v.order + v.regionOrder;
}

// ---------------------------------------------------------------------------------------
// CLI

const USAGE = 'usage: node dist/chaos/checker.js RECORD.jsonl [--json OUT.json] [--report DIR [--name NAME]]';

async function main(argv: string[]): Promise<number> {
  let record: string | undefined;
  let json: string | undefined;
  let reportDir: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') json = value();
    else if (a === '--report') reportDir = value();
    else if (a === '--name') name = value();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else if (a.startsWith('-') || record !== undefined) throw new UsageError(`unexpected argument ${a}`);
    else record = a;
  }
  if (record === undefined) throw new UsageError('no record file given');

  const checker = new Checker();
  const read = await readRecord(record, (e) => checker.add(e));
  const report = checker.finish();
  if (read.truncatedTail) report.notes.push('the last line of the record was cut short (writer killed mid-line) and was skipped');
  process.stdout.write(formatSummary(report));
  if (json !== undefined) await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  if (reportDir !== undefined) {
    const files = await writeScenarioReport(reportDir, name ?? record.replace(/^.*\//, '').replace(/\.jsonl$/, ''), report);
    process.stdout.write(`report: ${files.markdown}\n`);
  }
  return report.verdict === 'PASS' ? 0 : 1;
}

class UsageError extends Error {}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof UsageError ? `${err.message}\n${USAGE}` : err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
