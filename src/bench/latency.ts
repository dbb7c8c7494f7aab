/**
 * Latency samples of one step, in microseconds, kept in a fixed typed array. Past its
 * capacity every other sample is dropped and then only every second (fourth, …) new
 * one is kept, so memory stays bounded and the samples stay spread evenly over the step.
 */
export const DEFAULT_LATENCY_CAPACITY = 4_000_000; // samples (16 MB)

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

export class LatencySamples {
  private buf: Int32Array;
  private n = 0;
  private stride = 1;
  private skip = 0;

  constructor(capacity = DEFAULT_LATENCY_CAPACITY) {
    this.buf = new Int32Array(capacity);
  }

  reset(): void {
    this.n = 0;
    this.stride = 1;
    this.skip = 0;
  }

  add(us: number): void {
    if (this.stride > 1 && ++this.skip < this.stride) return;
    this.skip = 0;
    if (this.n === this.buf.length) this.halve();
    // Clamped: a negative value can only be clock noise; 2^31 µs is 35 minutes.
    this.buf[this.n++] = us < 0 ? 0 : us > 2_147_483_647 ? 2_147_483_647 : us;
  }

  private halve(): void {
    const b = this.buf;
    let j = 0;
    for (let i = 0; i < this.n; i += 2) b[j++] = b[i]!;
    this.n = j;
    this.stride *= 2;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { p50Ms: NaN, p99Ms: NaN, maxMs: NaN, samples: 0 };
    const sorted = this.buf.subarray(0, this.n).sort();
    const at = (p: number) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))]! / 1000;
    return { p50Ms: round3(at(50)), p99Ms: round3(at(99)), maxMs: round3(sorted[this.n - 1]! / 1000), samples: this.n };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
