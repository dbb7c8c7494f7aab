/**
 * How much memory this process may hold before it refuses what would make it keep more:
 * its channel masters new publishes, and it new channels (42910, nonfatal: the client may
 * retry) and new connections (50004: the SDK retries, or another node), so that what a node keeps (history and dedup
 * windows, which each channel bounds, but not all of them together) cannot grow until the
 * process is killed or V8 stops it. A review's reproduction (fifty-fifth session): batch
 * publishes of 1,000 channels each, 20 in 10 s, took one node from 99 MB to 1.56 GB; kept
 * up for history's two minutes, about 17 GB.
 *
 * Memory is the process's, so the gauge is too: one per process, set up by the node
 * (`limits.maxNodeMemoryBytes`), read at each publish a master takes (and at each new
 * connection and channel: gateway/server.ts, node/hub.ts), sampled at most every
 * SAMPLE_MS. What counts is what a collection can free, V8's heap in use and the buffers
 * outside it (history's bytes are there), not the RSS, which the allocator keeps. The
 * heap alone is also held under HEAP_SHARE of V8's own limit, past which V8 stops the
 * process whatever the machine has.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

/** How often the gauge reads the process's memory, at most (ms). */
const SAMPLE_MS = 250;
/** Of V8's heap limit, the share the heap in use may reach. */
const HEAP_SHARE = 0.85;
/** Without `limits.maxNodeMemoryBytes`: this share of the machine's memory. */
export const DEFAULT_MEMORY_SHARE = 0.5;

class MemoryBudget {
  private limit = Infinity;
  private heapLimit = Infinity;
  private sampledAt = -Infinity;
  private full = false;
  /** What the last sample found (bytes), for the error's text. */
  private held = 0;

  /** Sets the budget (0: DEFAULT_MEMORY_SHARE of the machine's memory). */
  configure(maxBytes: number): void {
    this.limit = maxBytes > 0 ? maxBytes : Math.floor(totalmem() * DEFAULT_MEMORY_SHARE);
    this.heapLimit = getHeapStatistics().heap_size_limit * HEAP_SHARE;
    this.sampledAt = -Infinity;
  }

  /** Whether the process holds its budget or more (sampled: at most SAMPLE_MS old). */
  isFull(): boolean {
    if (this.limit === Infinity) return false;
    const now = performance.now();
    if (now - this.sampledAt >= SAMPLE_MS) {
      this.sampledAt = now;
      // V8's figures, not process.memoryUsage(): that reads /proc for the RSS, which fails
      // (EMFILE) in a process out of file descriptors, and so would every publish.
      const h = getHeapStatistics();
      this.held = h.used_heap_size + h.external_memory;
      this.full = this.held >= this.limit || h.used_heap_size >= this.heapLimit;
    }
    return this.full;
  }

  /** What the node holds against its budget, for the errors of what it refuses. */
  describe(): string {
    const mib = (n: number) => `${Math.round(n / 1048576)} MiB`;
    return `this node holds ${mib(this.held)}, its budget is ${mib(this.limit)} (limits.maxNodeMemoryBytes), or its heap is near V8's limit (${mib(this.heapLimit)})`;
  }
}

/** The process's budget (unset, as in unit tests: never full). */
export const memoryBudget = new MemoryBudget();

/**
 * The process's resident and heap memory for health: the RSS read from /proc, which fails
 * (EMFILE) in a process out of descriptors, then null, and the heap from V8.
 */
export function memoryFigures(): { rssBytes: number | null; heapUsedBytes: number } {
  let rss: number | null;
  try {
    rss = process.memoryUsage.rss();
  } catch {
    rss = null;
  }
  return { rssBytes: rss, heapUsedBytes: getHeapStatistics().used_heap_size };
}
