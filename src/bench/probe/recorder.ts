/**
 * The probe's record of deliveries, pure (no sockets, no clock): every delivery of a
 * group's subscribers as (subscriber, seq, send time, arrival time), in arrival order,
 * and the state of every published message (acknowledged, refused, or not answered).
 * Summaries answer, for a range of messages: latency percentiles, what is missing or
 * came twice, when deliveries began and ended, the longest pause a subscriber saw, when
 * the first message published after a moment arrived (a kill), and deliveries per time
 * bin (a catch-up curve).
 */
import { DeliveryStats, type PayloadScanner } from '../payload.js';
import { LatencySamples, type OutsideSummary } from '../latency.js';
import { percentile } from '../util.js';
import { Windows } from '../kernel-bursts.js';

export const AckState = { PENDING: 0, ACKED: 1, NACKED: 2 } as const;

/** What became of each published message, by seq (seqs are the probe's, from 0). */
export class AckBook {
  private state = new Uint8Array(1024);

  set(seq: number, s: number): void {
    if (seq >= this.state.length) {
      let n = this.state.length;
      while (n <= seq) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.state);
      this.state = grown;
    }
    this.state[seq] = s;
  }

  get(seq: number): number {
    return seq < this.state.length ? this.state[seq]! : AckState.PENDING;
  }
}

export interface SummaryQuery {
  fromSeq: number;
  toSeq: number;
  /** A moment (µs, nowUs clock), e.g. a kill: when did messages published after it arrive? */
  afterUs?: number;
  /** Deliveries per bin of `binMs`, from `binFromUs`, for `bins` bins. */
  binFromUs?: number;
  binMs?: number;
  bins?: number;
  /**
   * Windows to leave out (µs, sorted and disjoint, flattened: kernel-bursts.ts's
   * mergeWindows): `outside` then gives the percentiles of the deliveries whose flight,
   * send to arrival, overlapped none of them.
   */
  exclude?: number[];
}

export interface GroupSummary {
  subscribers: number;
  messages: number;
  acked: number;
  nacked: number;
  pending: number;
  /** Acknowledged messages × subscribers. */
  expected: number;
  /** Deliveries of the range's messages, duplicates included. */
  delivered: number;
  /** Acknowledged (subscriber, message) pairs never delivered. */
  missing: number;
  /** Deliveries of a message a subscriber already had. */
  duplicates: number;
  /** Deliveries whose seq was not above the previous one on that subscriber (duplicates included). */
  outOfOrder: number;
  /** Deliveries of messages that were refused or never answered. */
  unackedDelivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** First and last delivery of the range (µs), or 0. */
  firstAtUs: number;
  lastAtUs: number;
  /** Per subscriber: when it had its last message of the range (µs), median and latest. */
  completeAtUsMedian: number;
  completeAtUsMax: number;
  /** Messages per second each subscriber received, from its first to its last delivery of the range (median over subscribers). */
  perSubscriberRateMedian: number;
  /** The longest time any subscriber went without a delivery, between its first and last of the range (ms). */
  maxGapMs: number;
  after?: {
    /** First delivery of any message after the moment, and first of a message published after it (ms after it). */
    firstDeliveryMs: number;
    firstPublishedAfterMs: number;
    /** When the last subscriber got its first message published after the moment (ms after it). */
    allSubscribersMs: number;
  };
  bins?: number[];
  /** With `exclude`: the deliveries whose flight overlapped no window, as a share of all, and their latency. */
  outside?: OutsideSummary & { maxMs: number };
}

/** Every delivery of one group, as parallel typed arrays in arrival order. */
export class GroupRecorder extends DeliveryStats {
  /** Subscribers registered, failed ones included (indices are never reused). */
  private registered = 0;
  private readonly dead = new Set<number>();
  n = 0;
  private sub = new Int32Array(4096);
  private seq = new Int32Array(4096);
  private sendUs = new Float64Array(4096);
  private atUs = new Float64Array(4096);
  private readonly indexOf = new WeakMap<PayloadScanner, number>();

  constructor() {
    super(new LatencySamples(1));
  }

  /** Subscribers that count (registered and not failed). */
  get subscribers(): number {
    return this.registered - this.dead.size;
  }

  /** Array sizes per message: one slot per registered subscriber. */
  get slots(): number {
    return this.registered;
  }

  /** A subscriber's scanner, registered before it attaches (a delivery may follow ATTACHED at once). */
  register(scanner: PayloadScanner): void {
    this.indexOf.set(scanner, this.registered++);
  }

  /** A subscriber that failed to attach: it counts no more. */
  failed(scanner: PayloadScanner): void {
    const i = this.indexOf.get(scanner);
    if (i !== undefined) this.dead.add(i);
    this.indexOf.set(scanner, -1);
  }

  override deliver(seq: number, sendUs: number, atUs: number, scanner: PayloadScanner): void {
    this.add(this.indexOf.get(scanner) ?? -1, seq, sendUs, atUs);
  }

  add(sub: number, seq: number, sendUs: number, atUs: number): void {
    this.total++;
    if (this.n === this.sub.length) this.grow();
    this.sub[this.n] = sub;
    this.seq[this.n] = seq;
    this.sendUs[this.n] = sendUs;
    this.atUs[this.n] = atUs;
    this.n++;
    if (atUs > this.lastDeliveryUs) this.lastDeliveryUs = atUs;
  }

  private grow(): void {
    const n = this.sub.length * 2;
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    const g64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.sub = g32(this.sub);
    this.seq = g32(this.seq);
    this.sendUs = g64(this.sendUs);
    this.atUs = g64(this.atUs);
  }

  /**
   * Distinct deliveries of acknowledged messages of [fromSeq, toSeq), counted from
   * delivery `cursor.next` on into `cursor.seen` (so polling is incremental).
   */
  countDistinct(fromSeq: number, toSeq: number, acks: AckBook, cursor: { next: number; seen: Uint8Array; have: number }): number {
    const span = toSeq - fromSeq;
    for (let i = cursor.next; i < this.n; i++) {
      const s = this.seq[i]!;
      const u = this.sub[i]!;
      if (s < fromSeq || s >= toSeq || u < 0 || acks.get(s) !== AckState.ACKED) continue;
      const k = u * span + (s - fromSeq);
      if (k >= cursor.seen.length || cursor.seen[k]) continue;
      cursor.seen[k] = 1;
      cursor.have++;
    }
    cursor.next = this.n;
    return cursor.have;
  }

  summary(q: SummaryQuery, acks: AckBook): GroupSummary {
    const { fromSeq, toSeq } = q;
    const span = Math.max(0, toSeq - fromSeq);
    const subs = this.registered;
    const live = (u: number) => !this.dead.has(u);
    let acked = 0;
    let nacked = 0;
    for (let s = fromSeq; s < toSeq; s++) {
      const st = acks.get(s);
      if (st === AckState.ACKED) acked++;
      else if (st === AckState.NACKED) nacked++;
    }
    const seen = new Uint8Array(span * subs);
    const lastSeq = new Int32Array(subs).fill(-1);
    const firstAt = new Float64Array(subs);
    const lastAt = new Float64Array(subs);
    const countOf = new Int32Array(subs);
    const firstAfter = new Float64Array(subs);
    const lat: number[] = [];
    const windows = q.exclude ? new Windows(q.exclude) : null;
    const outside: number[] = [];
    let delivered = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    let unackedDelivered = 0;
    let maxGapUs = 0;
    let firstDeliveryAfter = 0;
    const bins = q.binMs && q.bins ? new Array<number>(q.bins).fill(0) : undefined;
    for (let i = 0; i < this.n; i++) {
      const s = this.seq[i]!;
      const u = this.sub[i]!;
      if (s < fromSeq || s >= toSeq || u < 0) continue;
      const at = this.atUs[i]!;
      const sent = this.sendUs[i]!;
      delivered++;
      lat.push(at - sent);
      if (windows && !windows.overlaps(sent, at)) outside.push(at - sent);
      if (acks.get(s) !== AckState.ACKED) unackedDelivered++;
      const k = u * span + (s - fromSeq);
      if (seen[k]) duplicates++;
      seen[k] = 1;
      if (s <= lastSeq[u]!) outOfOrder++;
      lastSeq[u] = s;
      if (countOf[u]! > 0) maxGapUs = Math.max(maxGapUs, at - lastAt[u]!);
      else firstAt[u] = at;
      countOf[u]!++;
      lastAt[u] = at;
      if (q.afterUs !== undefined) {
        if (at >= q.afterUs && firstDeliveryAfter === 0) firstDeliveryAfter = at;
        if (sent >= q.afterUs && firstAfter[u] === 0) firstAfter[u] = at;
      }
      if (bins && q.binFromUs !== undefined) {
        const b = Math.floor((at - q.binFromUs) / (q.binMs! * 1000));
        if (b >= 0 && b < bins.length) bins[b]!++;
      }
    }
    let missing = 0;
    for (let u = 0; u < subs; u++) {
      if (!live(u)) continue;
      for (let s = fromSeq; s < toSeq; s++) if (acks.get(s) === AckState.ACKED && !seen[u * span + (s - fromSeq)]) missing++;
    }
    lat.sort((a, b) => a - b);
    const pc = (p: number, l = lat) => percentile(l, p) / 1000;
    const withAny = [...countOf.keys()].filter((u) => live(u) && countOf[u]! > 0);
    const completes = withAny.map((u) => lastAt[u]!).sort((a, b) => a - b);
    const rates = withAny
      .filter((u) => countOf[u]! > 1 && lastAt[u]! > firstAt[u]!)
      .map((u) => (countOf[u]! - 1) / ((lastAt[u]! - firstAt[u]!) / 1e6))
      .sort((a, b) => a - b);
    const mid = <T>(a: T[]) => a[Math.floor((a.length - 1) / 2)];
    const summary: GroupSummary = {
      subscribers: this.subscribers,
      messages: span,
      acked,
      nacked,
      pending: span - acked - nacked,
      expected: acked * this.subscribers,
      delivered,
      missing,
      duplicates,
      outOfOrder,
      unackedDelivered,
      p50Ms: round3(pc(50)),
      p99Ms: round3(pc(99)),
      maxMs: round3(lat.length ? lat[lat.length - 1]! / 1000 : NaN),
      firstAtUs: withAny.length ? Math.min(...withAny.map((u) => firstAt[u]!)) : 0,
      lastAtUs: completes.length ? completes[completes.length - 1]! : 0,
      completeAtUsMedian: mid(completes) ?? 0,
      completeAtUsMax: completes.length ? completes[completes.length - 1]! : 0,
      perSubscriberRateMedian: Math.round(mid(rates) ?? NaN),
      maxGapMs: round3(maxGapUs / 1000),
      ...(bins ? { bins } : {}),
    };
    if (windows) {
      outside.sort((a, b) => a - b);
      summary.outside = { share: lat.length ? round3(outside.length / lat.length) : NaN, p50Ms: round3(pc(50, outside)), p99Ms: round3(pc(99, outside)), maxMs: round3(pc(100, outside)) };
    }
    if (q.afterUs !== undefined) {
      const t = q.afterUs;
      const firsts = [...firstAfter].filter((x, u) => live(u) && x > 0);
      summary.after = {
        firstDeliveryMs: firstDeliveryAfter ? round3((firstDeliveryAfter - t) / 1000) : NaN,
        firstPublishedAfterMs: firsts.length ? round3((Math.min(...firsts) - t) / 1000) : NaN,
        allSubscribersMs: firsts.length === this.subscribers && firsts.length > 0 ? round3((Math.max(...firsts) - t) / 1000) : NaN,
      };
    }
    return summary;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
