/**
 * A first-in, first-out queue on a ring buffer: `push` and `shift` in constant time
 * whatever the length.
 *
 * `Array.prototype.shift` is not that. V8 copies the elements down for arrays of up to
 * 100 (200–370 ns per shift for 50–99 elements, measured with Node 20), and above that
 * moves the array's start only when the heap allows it (not while incremental marking
 * runs, for one), copying the whole array otherwise. In a CPU profile of a publisher's
 * node that had fallen behind (queues of several hundred publishes), the two shifts each
 * publish took (its reply from the master, its ACK) were 15 % of the node's time.
 *
 * The buffer doubles when full and halves when a quarter full (down to its initial
 * size), so a burst does not keep its memory.
 */
export class Fifo<T> implements Iterable<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private size = 0;
  private readonly minCapacity: number;

  /** `capacity` is rounded up to a power of two. */
  constructor(capacity = 16) {
    let c = 4;
    while (c < capacity) c *= 2;
    this.minCapacity = c;
    this.buf = new Array<T | undefined>(c).fill(undefined);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.buf.length) this.resize(this.buf.length * 2);
    this.buf[(this.head + this.size) & (this.buf.length - 1)] = item;
    this.size++;
  }

  /** Removes and returns the first item (undefined when empty). */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.size--;
    if (this.size < this.buf.length >> 2 && this.buf.length > this.minCapacity) this.resize(this.buf.length >> 1);
    return item;
  }

  /** The i-th item from the front (undefined outside 0 … length − 1). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.size) return undefined;
    return this.buf[(this.head + i) & (this.buf.length - 1)];
  }

  /** Where `item` is, from the front, or −1. */
  indexOf(item: T): number {
    for (let i = 0; i < this.size; i++) if (this.buf[(this.head + i) & (this.buf.length - 1)] === item) return i;
    return -1;
  }

  /** Removes the i-th item, moving those behind it up: linear, for the rare removal from the middle. */
  removeAt(i: number): void {
    if (i < 0 || i >= this.size) return;
    if (i === 0) {
      this.shift();
      return;
    }
    const mask = this.buf.length - 1;
    for (let k = i; k < this.size - 1; k++) this.buf[(this.head + k) & mask] = this.buf[(this.head + k + 1) & mask];
    this.buf[(this.head + this.size - 1) & mask] = undefined;
    this.size--;
  }

  /** Items from..to−1 (as Array.prototype.slice, without negative indexes), as a new array. */
  slice(from = 0, to = this.size): T[] {
    const end = Math.min(to, this.size);
    const out: T[] = [];
    for (let i = Math.max(0, from); i < end; i++) out.push(this.buf[(this.head + i) & (this.buf.length - 1)] as T);
    return out;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.size; i++) yield this.buf[(this.head + i) & (this.buf.length - 1)] as T;
  }

  private resize(capacity: number): void {
    const next = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.size; i++) next[i] = this.buf[(this.head + i) & (this.buf.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}
