/**
 * Kernel threads' bursts from reads of their run time, and the windows a scenario leaves
 * out of its latency (src/bench/kernel-bursts.ts), pure: reads are given, not taken.
 */
import { describe, expect, it } from 'vitest';
import { addBurstFigures, burstFigures, burstsIn, BurstTracker, mergeWindows, Windows } from '../../../src/bench/kernel-bursts.js';

/** Reads of one thread every `stepUs` from `t0`, its run time growing by runUs[i] before read i. */
function feed(t: BurstTracker, pid: number, t0: number, stepUs: number, runUs: number[]): void {
  let ns = 1e9;
  t.watch(pid, `k${pid}`, t0, ns);
  runUs.forEach((r, i) => {
    ns += r * 1000;
    t.read(pid, t0 + (i + 1) * stepUs, ns);
  });
}

describe('BurstTracker', () => {
  it('makes a burst of the reads in which a thread kept running, its window from before the first step\'s run to the last step', () => {
    const t = new BurstTracker(2000, 1);
    // reads at 1000, 2000, …: it ran 900 µs before each of reads 3–7, then nothing. The
    // first step's 900 µs ended by the read at 3000 and began after 2000 - 900.
    feed(t, 7, 0, 1000, [0, 0, 900, 900, 900, 900, 900, 0, 0, 0, 0]);
    expect(t.bursts).toEqual([{ pid: 7, thread: 'k7', fromUs: 1100, toUs: 7000, runMs: 4.5 }]);
  });

  it('by default keeps a thread that runs on as one burst, though its figure steps only at each 4 ms tick', () => {
    const t = new BurstTracker();
    // Read every ms for 30 ms; it runs for the first 20, its figure updated every 4th read.
    feed(t, 5, 0, 1000, Array.from({ length: 30 }, (_, i) => (i < 20 && i % 4 === 3 ? 4000 : 0)));
    expect(t.bursts).toEqual([]);
    expect(t.withUnderWay(30_500).map((b) => [b.fromUs, b.toUs, b.runMs])).toEqual([[-1000, 30_500, 20]]);
    t.read(5, 41_000, 1e9 + 20e6);
    expect(t.bursts.map((b) => b.runMs)).toEqual([20]);
  });

  it('keeps a burst open through a pause shorter than the quiet time, and splits at a longer one', () => {
    const t = new BurstTracker(2000, 1);
    // runs, pauses one read (1 ms < 2 ms), runs, then pauses three reads (3 ms), runs again
    feed(t, 1, 0, 1000, [800, 0, 800, 800, 0, 0, 0, 800, 800, 0, 0, 0]);
    expect(t.bursts.map((b) => [b.fromUs, b.toUs, b.runMs])).toEqual([
      [-800, 4000, 2.4],
      [6200, 9000, 1.6],
    ]);
  });

  it('drops bursts of less run time than the least that counts', () => {
    const t = new BurstTracker(2000, 1);
    feed(t, 1, 0, 1000, [300, 300, 0, 0, 0, 600, 600, 0, 0, 0]);
    expect(t.bursts.map((b) => b.runMs)).toEqual([1.2]);
  });

  it('counts nothing from before a thread was first read', () => {
    const t = new BurstTracker(2000, 1);
    t.watch(3, 'k3', 0, 5e9); // 5 s of run time already
    t.read(3, 1000, 5e9);
    t.read(3, 5000, 5e9);
    expect(t.bursts).toEqual([]);
  });

  it('gives the bursts under way as running to the moment asked (they may run on), and ends a forgotten thread\'s at its last growth', () => {
    const t = new BurstTracker(2000, 1);
    feed(t, 1, 0, 1000, [1000, 1000]);
    feed(t, 2, 0, 1000, [2000, 2000, 2000]);
    expect(t.bursts).toEqual([]);
    expect(t.withUnderWay(3500).map((b) => [b.pid, b.fromUs, b.toUs, b.runMs])).toEqual([
      [1, -1000, 3500, 2],
      [2, -2000, 3500, 6],
    ]);
    t.forget(2);
    expect(t.bursts.map((b) => [b.pid, b.toUs, b.runMs])).toEqual([[2, 3000, 6]]);
    expect(t.watched).toEqual([{ pid: 1, thread: 'k1' }]);
    expect([...t.pids()]).toEqual([1]);
  });

  it('starts a window from the stamp taken before a read, and ends it at the stamp taken after one', () => {
    const t = new BurstTracker(2000, 1);
    t.watch(4, 'k4', 0, 0);
    // The reader was kept from its core 700 µs in the middle of each read.
    t.read(4, 1000, 0, 1700);
    t.read(4, 2000, 1_500_000, 2700); // ran 1.5 ms since the figure read at 1000 was current
    t.read(4, 3000, 2_000_000, 3700); // and 0.5 ms more
    t.read(4, 4000, 2_000_000, 4700);
    t.read(4, 6000, 2_000_000, 6700);
    expect(t.bursts).toEqual([{ pid: 4, thread: 'k4', fromUs: 1000 - 1500, toUs: 3700, runMs: 2 }]);
  });
});

describe('windows left out', () => {
  const b = (fromUs: number, toUs: number, runMs = 1) => ({ pid: 1, thread: 'k', fromUs, toUs, runMs });

  it('merges overlapping and touching windows, in order', () => {
    expect(mergeWindows([b(50, 60), b(10, 20), b(15, 30), b(30, 40), b(70, 70)])).toEqual([10, 40, 50, 60, 70, 70]);
    expect(mergeWindows([])).toEqual([]);
  });

  it('counts a flight that touches a window at either end as overlapping it', () => {
    const w = new Windows([10, 20, 30, 40]);
    expect([w.overlaps(0, 9), w.overlaps(0, 10), w.overlaps(20, 25), w.overlaps(21, 29), w.overlaps(25, 30), w.overlaps(40, 50), w.overlaps(41, 50)]).toEqual([
      false, true, true, false, true, true, false,
    ]);
    expect(new Windows([]).overlaps(0, 100)).toBe(false);
  });

  it('finds whether a flight overlaps a window, as a scan of every window would', () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let trial = 0; trial < 50; trial++) {
      const bursts = Array.from({ length: rnd(12) }, () => {
        const from = rnd(1000);
        return b(from, from + rnd(40));
      });
      const w = new Windows(mergeWindows(bursts));
      for (let q = 0; q < 200; q++) {
        const from = rnd(1100) - 50;
        const to = from + rnd(60);
        const scan = bursts.some((x) => x.toUs >= from && x.fromUs <= to);
        expect(w.overlaps(from, to), `[${from}, ${to}] against ${JSON.stringify(bursts)}`).toBe(scan);
      }
    }
  });

  it('picks the bursts that overlap a measurement, and sums their figures', () => {
    const all = [b(0, 10, 2), b(100, 130, 5.5), { ...b(200, 220, 7), thread: 'kswapd0' }];
    expect(burstsIn(all, 10, 150).map((x) => x.fromUs)).toEqual([0, 100]);
    expect(burstsIn(all, 11, 99)).toEqual([]);
    const f = burstFigures(all);
    expect(f).toEqual({ count: 3, runMs: 14.5, longestMs: 7, threads: { k: 2, kswapd0: 1 } });
    expect(addBurstFigures([f, burstFigures([b(0, 1, 9)])])).toEqual({ count: 4, runMs: 23.5, longestMs: 9, threads: { k: 3, kswapd0: 1 } });
  });
});
