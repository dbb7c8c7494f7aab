/**
 * Latency samples of one step, in microseconds, kept in a fixed typed array. Past its
 * capacity every other sample is dropped and then only every second (fourth, …) new
 * one is kept, so memory stays bounded and the samples stay spread evenly over the step.
 * With send times (`withSendTimes`, `keepSendTimes`), each sample's send time is kept
 * beside it (µs after the step's first), so that the samples whose flight overlapped
 * given windows (kernel threads' bursts, kernel-bursts.ts) can be left out of a second
 * summary. Without, a sample costs no more than before.
 */
import { Windows } from './kernel-bursts.js';
import { percentile } from './util.js';

export const DEFAULT_LATENCY_CAPACITY = 4_000_000; // samples (16 MB)

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

/** The samples whose flight overlapped no window left out: their share of all, and their percentiles. */
export interface OutsideSummary {
  share: number;
  p50Ms: number;
  p99Ms: number;
}

const clamp = (us: number) => (us < 0 ? 0 : us > 2_147_483_647 ? 2_147_483_647 : us);

export class LatencySamples {
  private buf: Int32Array;
  /** Send times, µs from `origin` (the first sample's), when kept. */
  private sent: Int32Array | null;
  private origin = NaN;
  private n = 0;
  private stride = 1;
  private skip = 0;

  constructor(capacity = DEFAULT_LATENCY_CAPACITY, withSendTimes = false) {
    this.buf = new Int32Array(capacity);
    this.sent = withSendTimes ? new Int32Array(capacity) : null;
  }

  /** From now on keeps send times (allocated once) or not; starts afresh (reset). */
  keepSendTimes(on: boolean): void {
    this.sent = on ? (this.sent ?? new Int32Array(this.buf.length)) : null;
    this.reset();
  }

  /** Samples kept (after thinning). */
  get size(): number {
    return this.n;
  }

  reset(): void {
    this.n = 0;
    this.stride = 1;
    this.skip = 0;
    this.origin = NaN;
  }

  add(us: number, sentUs = 0): void {
    if (this.stride > 1 && ++this.skip < this.stride) return;
    this.skip = 0;
    if (this.n === this.buf.length) this.halve();
    if (this.sent) {
      if (Number.isNaN(this.origin)) this.origin = sentUs;
      // Signed: a delivery can have been sent before the step's first sample's (±35 min fit).
      this.sent[this.n] = sentUs - this.origin;
    }
    // Clamped: a negative value can only be clock noise; 2^31 µs is 35 minutes.
    this.buf[this.n++] = clamp(us);
  }

  private halve(): void {
    const b = this.buf;
    const t = this.sent;
    let j = 0;
    for (let i = 0; i < this.n; i += 2) {
      if (t) t[j] = t[i]!;
      b[j++] = b[i]!;
    }
    this.n = j;
    this.stride *= 2;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { p50Ms: NaN, p99Ms: NaN, maxMs: NaN, samples: 0 };
    // Sorted in place, unless the send times beside the samples are still wanted.
    const sorted = this.sent ? this.buf.slice(0, this.n).sort() : this.buf.subarray(0, this.n).sort();
    return { p50Ms: pct(sorted, 50), p99Ms: pct(sorted, 99), maxMs: round3(sorted[this.n - 1]! / 1000), samples: this.n };
  }

  /**
   * The samples whose flight, send to arrival, overlapped none of `exclude` (sorted,
   * disjoint windows, flattened, µs on the send times' clock: kernel-bursts.ts's
   * mergeWindows), of those that had arrived by `untilUs` (a step's end: later
   * deliveries are not in its summary either). Needs send times.
   */
  outside(exclude: readonly number[], untilUs = Infinity): OutsideSummary {
    if (!this.sent) throw new Error('LatencySamples: outside() needs send times (keepSendTimes)');
    const w = new Windows(exclude);
    const kept = new Int32Array(this.n);
    let k = 0;
    let all = 0;
    for (let i = 0; i < this.n; i++) {
      const from = this.origin + this.sent[i]!;
      const to = from + this.buf[i]!;
      if (to > untilUs) continue;
      all++;
      if (!w.overlaps(from, to)) kept[k++] = this.buf[i]!;
    }
    const sorted = kept.subarray(0, k).sort();
    return { share: all ? round3(k / all) : NaN, p50Ms: pct(sorted, 50), p99Ms: pct(sorted, 99) };
  }
}

/** A percentile of sorted µs, in ms. */
function pct(sorted: Int32Array, p: number): number {
  return round3(percentile(sorted, p) / 1000);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
