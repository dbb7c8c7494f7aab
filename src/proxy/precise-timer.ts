/**
 * Timers that fire within a fraction of a millisecond of their time, for the fault
 * proxy's delays (`fault-proxy.ts`).
 *
 * `setTimeout` cannot: it takes whole milliseconds and fires once the event loop's own
 * clock, in whole milliseconds and read at the start of the loop's turn, has passed the
 * time. A chunk due 0.6 ms into a millisecond left between 0 and 2 ms after it (a
 * first timer that fired just short, then one more of a whole millisecond): on an idle
 * core a 40 ms delay took 40.6 ms at the median and 41.4 at p99, and more in a busy
 * process (the bench's second fault proxy, beside the region link: p99 42.0 ms). Here
 * a thread of its own waits for the earliest time with `Atomics.wait` (a futex with a
 * timeout in microseconds) and posts a message to this thread when it has come; its
 * wait costs nothing, and the message wakes the event loop at once (0.3 ms late at the
 * median, 0.5 at p99, on an idle core, against 0.6 and 1.4 for `setTimeout`).
 *
 * Times are `performance.now()`'s. One thread per process, made at the first timer.
 * Unlike `setTimeout`, a pending timer keeps no process alive (the proxy's sockets do).
 * Callbacks run in time order, never before their time.
 */
import { Worker } from 'node:worker_threads';

/** A timer: `cancel()` it before it fires, or never. */
export interface PreciseTimer {
  cancel(): void;
}

class Entry implements PreciseTimer {
  cancelled = false;

  constructor(
    readonly at: number,
    readonly seq: number,
    readonly fn: () => void,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

/**
 * The waiting thread. Shared memory: [0] (Int32) a generation, bumped each time the
 * deadline changes; [8] (Float64) the deadline, on `process.hrtime`'s clock in ms (the
 * same in every thread), 0 for none. It posts the generation whose deadline came, then
 * waits for the next.
 */
const THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
const gen = new Int32Array(workerData, 0, 1);
const due = new Float64Array(workerData, 8, 1);
for (;;) {
  const g = Atomics.load(gen, 0);
  const at = due[0];
  if (at === 0) { Atomics.wait(gen, 0, g); continue; }
  const wait = at - Number(process.hrtime.bigint()) / 1e6;
  if (wait > 0) { Atomics.wait(gen, 0, g, wait); continue; }
  parentPort.postMessage(g);
  Atomics.wait(gen, 0, g);
}
`;

/** performance.now() of this thread → the waiting thread's clock (both count from the same monotonic source). */
function hrOffsetMs(): number {
  return Number(process.hrtime.bigint()) / 1e6 - performance.now();
}

export class PreciseTimers {
  /** A binary min-heap by (at, seq). */
  private heap: Entry[] = [];
  private seq = 0;
  private thread: Worker | null = null;
  private gen: Int32Array | null = null;
  private due: Float64Array | null = null;
  private offset = 0;
  /** Set if the thread failed: the event loop's timers instead, a millisecond coarse. */
  private coarse: NodeJS.Timeout | null | undefined;

  /** Runs `fn` at `at` (performance.now() ms) or just after; at once (in a later turn) if that has passed. */
  at(at: number, fn: () => void): PreciseTimer {
    const e = new Entry(at, this.seq++, fn);
    this.push(e);
    // The earliest now: the thread waits for a later time, or for none.
    if (this.heap[0] === e) this.arm();
    return e;
  }

  /** Whether the waiting thread keeps the time (false: it ended, and the event loop's timers do). */
  get precise(): boolean {
    return this.coarse === undefined;
  }

  /** Timers waiting (cancelled ones not yet dropped included). */
  get size(): number {
    return this.heap.length;
  }

  private fire(): void {
    try {
      for (;;) {
        const top = this.heap[0];
        if (!top) break;
        if (top.cancelled) {
          this.pop();
          continue;
        }
        if (top.at > performance.now()) break;
        this.pop();
        top.fn();
      }
    } finally {
      // Also after a callback threw: the thread waits to be told the next time.
      this.arm();
    }
  }

  /** Tells the thread the earliest deadline (or none), dropping cancelled timers ahead of it. */
  private arm(): void {
    while (this.heap[0]?.cancelled) this.pop();
    const top = this.heap[0];
    if (this.coarse !== undefined) {
      if (this.coarse) clearTimeout(this.coarse);
      this.coarse = top ? setTimeout(() => this.fire(), Math.max(0, Math.ceil(top.at - performance.now()))).unref() : null;
      return;
    }
    if (!top && !this.thread) return;
    this.start();
    // A hair after the time, so that performance.now() here has passed it too when the message comes.
    this.due![0] = top ? top.at + this.offset + 0.002 : 0;
    Atomics.add(this.gen!, 0, 1);
    Atomics.notify(this.gen!, 0);
  }

  private start(): void {
    if (this.thread) return;
    const shared = new SharedArrayBuffer(16);
    this.gen = new Int32Array(shared, 0, 1);
    this.due = new Float64Array(shared, 8, 1);
    this.offset = hrOffsetMs();
    // No flags of this process (a profiler's, `--input-type=module`, which would make the code above fail).
    this.thread = new Worker(THREAD, { eval: true, workerData: shared, execArgv: [], stdout: false, stderr: false });
    // Only the generation last armed counts: an earlier one's message is a deadline since moved.
    this.thread.on('message', (g: number) => {
      if (g === Atomics.load(this.gen!, 0)) this.fire();
    });
    // Not expected (the thread's loop cannot throw); if it ends, no timer may be lost.
    this.thread.on('error', () => undefined);
    this.thread.on('exit', () => {
      this.coarse = null;
      this.arm();
    });
    // After the listeners: adding a 'message' listener refs the thread again.
    this.thread.unref();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** The process's timers (one waiting thread for all). */
export const preciseTimers = new PreciseTimers();
