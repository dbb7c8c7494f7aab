/**
 * Kernel threads that take a core for milliseconds at a time, pure (no /proc, no clock):
 * what kernel-bursts-worker.ts samples is turned into bursts here, and the scenarios ask
 * whether a delivery's flight overlapped one.
 *
 * Why: on this machine a kernel thread of the VM's memory management (`kdamond`, DAMON
 * sampling physical memory every 500 ms) runs 3–20 ms at a time, every ~540 ms, on either
 * core. Whatever waits for that core then (a node, the probe stamping arrivals) is late by
 * as much, and at 100 messages/s that is most of a p99. BENCHMARKS.md, nineteenth session.
 *
 * A thread's run time (`/proc/<pid>/schedstat`, ns) is read every millisecond or so. The
 * kernel brings a running thread's figure up to date only at its scheduler tick (every
 * 4 ms at HZ=250, 10 ms at HZ=100) and when it stops, so a thread that runs 20 ms shows
 * a step every tick, and the time of a step is not when that run time began. A burst is a
 * stretch of reads in which the figure kept stepping, no step more than `quietUs` after
 * the last. Its window starts at the read before the first step less that step's run
 * time, and ends at the read of the last step: the window holds the whole burst. (The
 * first step's run came after the figure before it was last brought up to date, and
 * that was before the read before the step; a thread that stops is brought up to date
 * then, so after the last step it had stopped.) Each read is stamped twice, before it
 * (for the start) and after it (for the end), as the reader may be kept from its core
 * between the two.
 */

/** How often kernel-bursts-worker.ts reads every kernel thread's run time (ms). */
export const SCAN_MS = 250;
/** …and, once one has run PROMOTE_MS between two such reads, that thread's (ms). */
export const READ_MS = 1;
export const PROMOTE_MS = 1;

export interface KernelBurst {
  pid: number;
  thread: string;
  /** The window that holds the burst (µs, the probe's clock: performance.timeOrigin based). */
  fromUs: number;
  toUs: number;
  /** The thread's run time within it (ms). */
  runMs: number;
}

interface Watch {
  thread: string;
  lastRunNs: number;
  /** When the last read began (µs). */
  lastAtUs: number;
  /** The burst under way: its start, and run time when it started. */
  open: { fromUs: number; runNs: number; lastGrewUs: number } | null;
}

/**
 * Turns reads of threads' run times into bursts. A burst ends at the first read that
 * finds the thread's run time unchanged `quietUs` after it last grew; bursts shorter
 * than `minRunMs` of run time are dropped (a kernel thread's wakeups of a few µs are not
 * stalls).
 */
export class BurstTracker {
  private readonly watches = new Map<number, Watch>();
  readonly bursts: KernelBurst[] = [];

  constructor(
    /** Longer than a scheduler tick at HZ=100, so that a thread running on is one burst. */
    private readonly quietUs = 12_000,
    private readonly minRunMs = 1,
  ) {}

  get watched(): { pid: number; thread: string }[] {
    return [...this.watches].map(([pid, w]) => ({ pid, thread: w.thread }));
  }

  /** The watched threads' pids (no array made: this is read every millisecond). */
  pids(): IterableIterator<number> {
    return this.watches.keys();
  }

  isWatched(pid: number): boolean {
    return this.watches.has(pid);
  }

  /** Starts following a thread from a first read (no burst before it counts). */
  watch(pid: number, thread: string, atUs: number, runNs: number): void {
    if (!this.watches.has(pid)) this.watches.set(pid, { thread, lastRunNs: runNs, lastAtUs: atUs, open: null });
  }

  /** A read of a watched thread's run time, begun at `atUs` and done at `doneUs` (default: the same). */
  read(pid: number, atUs: number, runNs: number, doneUs = atUs): void {
    const w = this.watches.get(pid);
    if (!w) return;
    if (runNs > w.lastRunNs) {
      if (!w.open) w.open = { fromUs: w.lastAtUs - (runNs - w.lastRunNs) / 1000, runNs: w.lastRunNs, lastGrewUs: doneUs };
      else w.open.lastGrewUs = doneUs;
    } else if (w.open && atUs - w.open.lastGrewUs >= this.quietUs) {
      this.close(pid, w);
    }
    w.lastRunNs = runNs;
    w.lastAtUs = atUs;
  }

  /** A thread that is gone: a burst under way ends at its last read. */
  forget(pid: number): void {
    const w = this.watches.get(pid);
    if (!w) return;
    if (w.open) this.close(pid, w);
    this.watches.delete(pid);
  }

  /**
   * The bursts so far, with those under way as they stand at `nowUs`: a thread whose
   * figure grew lately may be running still, so their window runs to `nowUs`.
   */
  withUnderWay(nowUs: number): KernelBurst[] {
    const open: KernelBurst[] = [];
    for (const [pid, w] of this.watches) {
      const b = this.burstOf(pid, w, nowUs);
      if (b) open.push(b);
    }
    return open.length ? [...this.bursts, ...open] : this.bursts;
  }

  private close(pid: number, w: Watch): void {
    const b = this.burstOf(pid, w, w.open!.lastGrewUs);
    w.open = null;
    if (b) this.bursts.push(b);
  }

  /** The burst under way on `w`, ending at `toUs`, if it has run long enough to count. */
  private burstOf(pid: number, w: Watch, toUs: number): KernelBurst | null {
    const o = w.open;
    const runMs = o ? (w.lastRunNs - o.runNs) / 1e6 : 0;
    return o && runMs >= this.minRunMs ? { pid, thread: w.thread, fromUs: o.fromUs, toUs, runMs } : null;
  }
}

/** The bursts that overlap [fromUs, toUs]. */
export function burstsIn(bursts: readonly KernelBurst[], fromUs: number, toUs: number): KernelBurst[] {
  return bursts.filter((b) => b.toUs >= fromUs && b.fromUs <= toUs);
}

/** Windows as sorted, disjoint [from, to] pairs, flattened: what `Windows` takes. */
export function mergeWindows(bursts: readonly { fromUs: number; toUs: number }[]): number[] {
  const sorted = [...bursts].sort((a, b) => a.fromUs - b.fromUs);
  const out: number[] = [];
  for (const b of sorted) {
    const n = out.length;
    if (n && b.fromUs <= out[n - 1]!) out[n - 1] = Math.max(out[n - 1]!, b.toUs);
    else out.push(b.fromUs, b.toUs);
  }
  return out;
}

/** Sorted, disjoint windows (mergeWindows' output): does [fromUs, toUs] overlap one? */
export class Windows {
  constructor(private readonly w: readonly number[]) {}

  overlaps(fromUs: number, toUs: number): boolean {
    // The first window that ends at or after fromUs: it overlaps if it starts by toUs.
    let lo = 0;
    let hi = this.w.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.w[2 * mid + 1]! < fromUs) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.w.length / 2 && this.w[2 * lo]! <= toUs;
  }
}

export interface BurstFigures {
  /** Bursts, their summed run time and the longest (ms). */
  count: number;
  runMs: number;
  longestMs: number;
  /** Which threads they were, by name, with their counts. */
  threads: Record<string, number>;
}

export function burstFigures(bursts: readonly KernelBurst[]): BurstFigures {
  return addBurstFigures(bursts.map((b) => ({ count: 1, runMs: b.runMs, longestMs: b.runMs, threads: { [b.thread]: 1 } })));
}

/** Several measurements' figures as one: counts and run time summed, the longest of all. */
export function addBurstFigures(list: readonly BurstFigures[]): BurstFigures {
  const threads: Record<string, number> = {};
  for (const f of list) for (const [t, n] of Object.entries(f.threads)) threads[t] = (threads[t] ?? 0) + n;
  return {
    count: list.reduce((a, f) => a + f.count, 0),
    runMs: Math.round(list.reduce((a, f) => a + f.runMs, 0) * 10) / 10,
    longestMs: Math.round(list.reduce((a, f) => Math.max(a, f.longestMs), 0) * 10) / 10,
    threads,
  };
}
