/**
 * The chaos checker's working parts: the state it builds while streaming a record, and
 * the phases of `Checker.finish` (lost, duplicates, order, region order, convergence,
 * latency, availability, timeline). Internal to `checker.ts`.
 */
import type { PublishOutcome, RecordError } from './record.js';
import { lets, type SeqFilter } from './filter-check.js';
import type { Anomaly, Availability, ChannelRegionFigures, FaultFigures, LatencyFigures, LatencyStats, PublishCounts, RegionFigures, Timeline, Violation, ViolationCounts } from './checker-types.js';

// ---------------------------------------------------------------------------------------
// State built while streaming

export const OUTCOME_RANK: Record<PublishOutcome, number> = { unknown: 0, nack: 1, ack: 2 };

export interface Msg {
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

export interface Sub {
  client: string;
  /** The region it first subscribed in: its figures are counted there. */
  region: string;
  /**
   * Where it received its first deliveries, in order: from `order[from]` on, in
   * `region` (one stay unless the client moved to another region).
   */
  stays: Stay[];
  subscribeT: number;
  unsubscribeT: number;
  continuity: number[];
  /**
   * Where in `order` the channel restarted for it in a new epoch (a 90005 signal: its
   * state was lost). The region's order before and after such a point are two orders,
   * not one: region order compares each piece on its own.
   */
  restarts: number[];
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
  /** Its subscription filter (filter-check.ts): only the messages it lets through are expected. */
  filter?: SeqFilter;
}

export interface Stay {
  region: string;
  from: number;
}

/** `s`'s first deliveries in each of its stays, split where the channel restarted for it (`restarts`). */
export function piecesOf(s: Sub): Array<{ region: string; order: number[] }> {
  const out: Array<{ region: string; order: number[] }> = [];
  for (const stay of staysOf(s)) {
    let at = 0;
    for (const r of s.restarts) {
      const cut = r - stay.from;
      if (cut <= at || cut >= stay.order.length) continue;
      out.push({ region: stay.region, order: stay.order.slice(at, cut) });
      at = cut;
    }
    out.push({ region: stay.region, order: at ? stay.order.slice(at) : stay.order });
  }
  return out;
}

/** `s`'s first deliveries in each of its stays, with the region it was in. */
export function staysOf(s: Sub): Array<{ region: string; order: number[]; from: number }> {
  if (s.stays.length <= 1) return [{ region: s.stays[0]?.region ?? s.region, order: s.order, from: 0 }];
  return s.stays.map((st, i) => ({ region: st.region, order: s.order.slice(st.from, s.stays[i + 1]?.from ?? s.order.length), from: st.from }));
}

export interface Channel {
  name: string;
  ids: Map<string, number>;
  msgs: Msg[];
  subs: Map<string, Sub>;
}

export interface PublishAttempt {
  t: number;
  region: string;
  outcome: PublishOutcome;
}

export interface FaultWindow {
  action: string;
  target: string;
  start: number;
  end: number;
  open: boolean;
}

export function emptyCounts(): PublishCounts {
  return { sent: 0, acked: 0, nacked: 0, unknown: 0 };
}

export function countOutcome(c: PublishCounts, o: PublishOutcome): void {
  c.sent++;
  if (o === 'ack') c.acked++;
  else if (o === 'nack') c.nacked++;
  else c.unknown++;
}

export function availability(region: string, c: PublishCounts): Availability {
  return { region, ...c, share: c.sent === 0 ? null : c.acked / c.sent };
}

export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Nearest-rank percentile of sorted values (p in 0..1). */
export function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

export function latencyStats(values: number[]): LatencyStats {
  const s = Float64Array.from(values).sort();
  return { count: s.length, p50Ms: percentile(s, 0.5), p99Ms: percentile(s, 0.99), maxMs: s.length ? (s[s.length - 1] as number) : null };
}

/** Index of the first element of sorted `xs` greater than `v` (`strict`) or at least `v`. */
export function lowerBound(xs: ArrayLike<number>, v: number, strict: boolean): number {
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
export interface Merged {
  starts: number[];
  ends: number[];
}

export function mergeWindows(ws: FaultWindow[]): Merged {
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
export function overlaps(m: Merged, from: number, to: number): boolean {
  const i = lowerBound(m.ends, from, false);
  return i < m.starts.length && (m.starts[i] as number) <= to;
}

export class LatencyBins {
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
export function orderHash(order: number[]): string {
  let h = 0x811c9dc5;
  for (const m of order) h = Math.imul(h ^ m, 16777619) >>> 0;
  return `${order.length}:${h}`;
}

export function sameOrder(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Two messages that `a` and `b` both received in opposite orders, as [m1, m2] with `a`
 * getting m1 first; null if they agree. O(|a| + |b|): `pos` (all -1, as long as the
 * channel's message count) indexes `a`'s order and is reset before returning.
 */
export function disagreement(a: number[], b: number[], pos: Int32Array): [number, number] | null {
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
// The phases of `finish`

/** Examples (up to `cap` per kind) and counts found while `finish` walks the channels. */
export class Findings {
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
export class Convergence {
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
export class TimelineBuilder {
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
export function findAnomalies(c: Channel, found: Findings): void {
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
export function ackedByPublishTime(c: Channel): { ids: number[]; times: number[] } {
  const ids: number[] = [];
  c.msgs.forEach((m, id) => {
    if (m.outcome === 'ack') ids.push(id);
  });
  ids.sort((a, b) => (c.msgs[a] as Msg).publishT - (c.msgs[b] as Msg).publishT);
  return { ids, times: ids.map((id) => (c.msgs[id] as Msg).publishT) };
}

export function findDuplicates(c: Channel, s: Sub, found: Findings): void {
  for (const [id, extra] of s.extra) {
    const m = c.msgs[id] as Msg;
    found.keep(found.duplicates, { kind: 'duplicate', channel: c.name, region: s.region, client: s.client, publisher: m.publisher, seq: m.seq, deliveries: extra + 1 });
  }
}

/** Loss, excuses and convergence: every acknowledged message the subscriber was expected to get. */
export function checkExpected(c: Channel, s: Sub, acked: { ids: number[]; times: number[] }, end: number, convergence: Convergence, found: Findings): void {
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
    if (s.filter && !lets(s.filter, m.seq)) continue;
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
 * pair, after grouping identical orders (the usual case), and returns the per-region rows
 * (a subscriber's row is the region it first subscribed in).
 */
export function checkRegionOrder(c: Channel, subs: Sub[], found: Findings): ChannelRegionFigures[] {
  const pos = new Int32Array(c.msgs.length).fill(-1);
  // What each subscriber received in each region it was in (a client that moved is
  // compared with each region's subscribers over what it received there), in pieces
  // between the channel's restarts in new epochs.
  type View = { sub: Sub; order: number[] };
  const regions = new Map<string, View[]>();
  for (const s of subs) {
    for (const stay of piecesOf(s)) {
      let list = regions.get(stay.region);
      if (!list) regions.set(stay.region, (list = []));
      list.push({ sub: s, order: stay.order });
    }
  }
  for (const [region, list] of [...regions].sort((a, b) => byString(a[0], b[0]))) {
    const groups: View[][] = [];
    const byHash = new Map<string, View[][]>();
    for (const s of list) {
      const h = orderHash(s.order);
      const candidates = byHash.get(h) ?? [];
      const same = candidates.find((g) => sameOrder((g[0] as View).order, s.order));
      if (same) same.push(s);
      else {
        candidates.push([s]);
        byHash.set(h, candidates);
        groups.push(candidates[candidates.length - 1] as View[]);
      }
    }
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const ga = groups[i] as View[];
        const gb = groups[j] as View[];
        const a = ga[0] as View;
        const b = gb[0] as View;
        const d = disagreement(a.order, b.order, pos);
        if (!d) continue;
        // Counted on the first member of each pair only, so that the sum counts pairs.
        for (const s of ga) s.sub.regionOrder += gb.length;
        const m1 = c.msgs[d[0]] as Msg;
        const m2 = c.msgs[d[1]] as Msg;
        found.keep(found.regionOrder, {
          kind: 'regionOrder',
          channel: c.name,
          region,
          clients: [a.sub.client, b.sub.client],
          first: { publisher: m1.publisher, seq: m1.seq },
          second: { publisher: m2.publisher, seq: m2.seq },
        });
      }
    }
  }
  // Each subscriber's figures in the region it first subscribed in.
  const home = new Map<string, Sub[]>();
  for (const s of subs) {
    let list = home.get(s.region);
    if (!list) home.set(s.region, (list = []));
    list.push(s);
  }
  return [...home].sort((a, b) => byString(a[0], b[0])).map(([region, list]) => channelRegionFigures(c.name, region, list));
}

export function channelRegionFigures(channel: string, region: string, subs: Sub[]): ChannelRegionFigures {
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

export function sumViolations(rows: ViolationCounts[]): ViolationCounts {
  const v: ViolationCounts = { lost: 0, duplicates: 0, order: 0, regionOrder: 0 };
  for (const r of rows) {
    v.lost += r.lost;
    v.duplicates += r.duplicates;
    v.order += r.order;
    v.regionOrder += r.regionOrder;
  }
  return v;
}

export function regionFigures(region: string, byChannel: ChannelRegionFigures[], publishes: PublishCounts | undefined, bins: LatencyBins | undefined): RegionFigures {
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

export function countsOf(m: Map<string, PublishCounts>, region: string): PublishCounts {
  let c = m.get(region);
  if (!c) m.set(region, (c = emptyCounts()));
  return c;
}

export function availabilities(m: Map<string, PublishCounts>): Availability[] {
  return [...m].sort((x, y) => byString(x[0], y[0])).map(([region, c]) => availability(region, c));
}
