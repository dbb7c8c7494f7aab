/**
 * A step's latency samples (src/bench/latency.ts): percentiles, the bounded memory's
 * thinning, and, with send times kept, the percentiles of the samples whose flight
 * overlapped no window left out (kernel threads' bursts).
 */
import { describe, expect, it } from 'vitest';
import { mergeWindows } from '../../../src/bench/kernel-bursts.js';
import { LatencySamples } from '../../../src/bench/latency.js';

const T0 = 1_796_000_000_000_000; // µs, as nowUs() gives

describe('LatencySamples', () => {
  it('gives p50, p99 and max, and without send times refuses to leave windows out', () => {
    const l = new LatencySamples(1000);
    for (let i = 1; i <= 100; i++) l.add(i * 1000);
    expect(l.summary()).toEqual({ p50Ms: 50, p99Ms: 99, maxMs: 100, samples: 100 });
    expect(() => l.outside([])).toThrow(/needs send times/);
  });

  it('leaves out the samples whose flight overlapped a window, and keeps each sample with its own send time through thinning', () => {
    // Capacity 64, 200 samples: thinned twice (every 4th kept), so the pairing must survive halve().
    const l = new LatencySamples(64, true);
    // Sent every 10 ms; 1 ms in flight, except those sent in [500, 600) ms, 30 ms.
    for (let i = 0; i < 200; i++) {
      const sent = T0 + i * 10_000;
      const slow = i >= 50 && i < 60;
      l.add(slow ? 30_000 : 1000, sent);
    }
    const all = l.summary();
    expect(all.samples).toBeLessThanOrEqual(64);
    expect(all.maxMs).toBe(30);
    // Nothing left out: the same figures.
    expect(l.outside([])).toEqual({ share: 1, p50Ms: all.p50Ms, p99Ms: all.p99Ms });
    // A stall over [500, 600] ms: every slow sample's flight overlaps it, and of the fast
    // ones only those sent at 490 ms (whose flight ends at 491) and after 600 ms do not.
    const o = l.outside(mergeWindows([{ fromUs: T0 + 500_000, toUs: T0 + 600_000 }]));
    expect(o.p99Ms).toBe(1);
    expect(o.share).toBeGreaterThan(0.9);
    expect(o.share).toBeLessThan(1);
  });

  it('keeps a delivery sent before the step\'s first sample in its place (send times are signed)', () => {
    const l = new LatencySamples(10, true);
    l.add(1000, T0 + 50_000);
    l.add(40_000, T0); // sent 50 ms before the first, arrived 40 ms later: inside [0, 45] ms
    expect(l.outside(mergeWindows([{ fromUs: T0 + 20_000, toUs: T0 + 25_000 }]))).toEqual({ share: 0.5, p50Ms: 1, p99Ms: 1 });
  });

  it('leaves out samples that arrived after the step ended', () => {
    const l = new LatencySamples(10, true);
    l.add(1000, T0);
    l.add(1000, T0 + 10_000);
    l.add(9000, T0 + 20_000); // arrived at 29 ms, after a step that ended at 25 ms
    expect(l.outside([], T0 + 25_000)).toEqual({ share: 1, p50Ms: 1, p99Ms: 1 });
    expect(l.outside([T0 + 500, T0 + 600], T0 + 25_000)).toEqual({ share: 0.5, p50Ms: 1, p99Ms: 1 });
  });

  it('keeps send times only while asked to, starting afresh each time', () => {
    const l = new LatencySamples(10);
    l.add(1000, T0);
    expect(() => l.outside([])).toThrow(/send times/);
    l.keepSendTimes(true);
    expect(l.summary().samples).toBe(0);
    l.add(1000, T0);
    l.add(3000, T0 + 10_000);
    expect(l.outside([T0 + 500, T0 + 600])).toEqual({ share: 0.5, p50Ms: 3, p99Ms: 3 });
    // The samples stay where they were (the summary did not sort them away from their send times).
    expect(l.summary()).toMatchObject({ p50Ms: 1, p99Ms: 3, samples: 2 });
    expect(l.outside([T0 + 500, T0 + 600])).toEqual({ share: 0.5, p50Ms: 3, p99Ms: 3 });
    l.keepSendTimes(false);
    l.add(1000, T0);
    expect(() => l.outside([])).toThrow(/send times/);
  });

  it('summarises again after a reset without the last step\'s samples', () => {
    const l = new LatencySamples(10, true);
    l.add(5000, T0);
    l.reset();
    l.add(2000, T0 + 1e9);
    expect(l.outside([T0, T0 + 10_000])).toEqual({ share: 1, p50Ms: 2, p99Ms: 2 });
  });
});
