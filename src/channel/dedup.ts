/**
 * The deduplication window of one channel: message ids seen in the last `windowMs`,
 * each with its message's serial (`message-serial.ts`; a presence event's: the
 * channelSerial it was stored under), so that a repeated publish is acknowledged with
 * the original serial and never stored twice. Pure: time is passed in.
 *
 * Nothing of it lives on the JavaScript heap per id. A busy channel keeps its last two
 * minutes of ids (over a million at 10,000 messages a second); held as strings in a Map
 * they were the bulk of what the young-generation collector promoted, and so what made
 * full collections come every few seconds, each marking all of them and stalling the
 * node for tens of milliseconds (BENCHMARKS.md). Here:
 *
 * - each id and its serial are UTF-8 bytes in a `StringArena` (large off-heap buffers),
 * - each slot (time, hash, where its bytes are) is six numbers in a Float64Array
 *   segment of 4,096 slots, in time order, expired from the front a segment at a time,
 * - the index is open addressing (Int32Array, linear probing, deletion by backward
 *   shift) from the id's hash to its slot, built only when someone asks: a channel's
 *   replica adds every id the master stores, but looks one up only once it has become
 *   the master.
 *
 * Growing and expiring do no work in proportion to the whole window. A window that
 * grew by doubling one ring of slots and one table copied and rehashed everything at
 * each doubling: at a million ids, a 100–150 ms stall of the channel's master and
 * replica, with a 100 MB allocation (BENCHMARKS.md). Now only the newest segment grows
 * (up to its 4,096 slots), past 4,096 ids the index is 256 tables, chosen by the id's
 * hash, that grow and shrink one at a time, and a window that expires whole is dropped
 * at once. Two calls still do: `forEachBytes()` (everything, for a snapshot: a handoff or
 * a sync, as bytes; `entries()` makes strings of it, for tests), and
 * the first lookup on a replica that has become the master, which indexes every id it
 * added meanwhile (about 0.4 s for 1.2 M ids).
 */
import { hashString, StringArena, utf8Bytes } from './string-arena.js';

/** A slot's fields, in its segment (stride STRIDE). */
const AT = 0;
const HASH = 1;
const CHUNK = 2;
const OFF = 3;
const ID_LEN = 4;
const SERIAL_LEN = 5;
const STRIDE = 6;

/** The first allocation of a segment (slots); it doubles up to the segment's size. */
const MIN_SEGMENT_SLOTS = 8;
const MIN_TABLE = 16;


/** An id in the window, with the serial it was stored under and when it was seen (ms). */
export interface DedupItem {
  id: string;
  channelSerial: string;
  at: number;
}

export interface DedupWindowOptions {
  /** Slots per segment: 2^segmentBits (default 12). */
  segmentBits?: number;
  /** Past this many ids the index is split into 2^splitBits tables (default 4,096 and 8). */
  splitAt?: number;
  splitBits?: number;
  /**
   * A table cell holds a slot's position, its number modulo 2^positionBits (default 30),
   * plus one: slot numbers only grow (less a lap of 2^positionBits now and then, which
   * changes no position), and a window never holds 2^30 slots (48 GB of them), so a
   * position names one slot of the window. Smaller only in tests, with small windows.
   */
  positionBits?: number;
}

export class DedupWindow {
  private arena = new StringArena();
  private readonly segmentBits: number;
  private readonly segmentSlots: number;
  private readonly splitAt: number;
  private readonly splitBits: number;
  private readonly lap: number;
  private readonly posMask: number;
  /** segments[k] holds slot numbers from (firstSegment + k) << segmentBits on. */
  private segments: Float64Array[] = [];
  private firstSegment = 0;
  /**
   * Slots [head, tail) are in the window; those before `indexed` are in the index (or
   * repeat an id that is).
   */
  private head = 0;
  private tail = 0;
  private indexed = 0;
  /** The index: one table, or 2^splitBits of them (`bits`); null until the first lookup. Cells: position + 1, 0 when empty. */
  private tables: (Int32Array | null)[] | null = null;
  private tableCounts: number[] = [];
  private bits = 0;
  private count = 0;
  /** Bytes of the ids and serials of the slots in the window (`bytes` counts whole buffers). */
  private held = 0;
  /** No slot in the window is later than this (a bound: it does not fall as slots expire). */
  private latest = -Infinity;

  constructor(o: DedupWindowOptions = {}) {
    this.segmentBits = o.segmentBits ?? 12;
    this.segmentSlots = 2 ** this.segmentBits;
    this.splitAt = o.splitAt ?? 4096;
    this.splitBits = o.splitBits ?? 8;
    if (!(this.splitBits >= 1 && this.splitBits <= 16)) throw new Error('DedupWindow: 1 <= splitBits <= 16');
    const positionBits = o.positionBits ?? 30;
    if (this.segmentBits > positionBits || positionBits > 30) throw new Error('DedupWindow: segmentBits <= positionBits <= 30');
    this.lap = 2 ** positionBits;
    this.posMask = this.lap - 1;
  }

  /** Ids in the window (indexes what is pending first). */
  get size(): number {
    this.index();
    return this.count;
  }

  /** Bytes of the ids and serials in the window (what a snapshot of it carries, less framing). */
  get entryBytes(): number {
    return this.held;
  }

  /** No id in the window (without indexing). */
  get empty(): boolean {
    return this.head === this.tail;
  }

  /** Bytes held outside the JS heap (the arena's buffers, the slots and the index). */
  get bytes(): number {
    let n = this.arena.bytes;
    for (const s of this.segments) n += s.byteLength;
    for (const t of this.tables ?? []) n += t?.byteLength ?? 0;
    return n;
  }

  lookup(id: string): string | undefined {
    this.index();
    if (this.count === 0) return undefined;
    const n = this.find(id, hashString(id));
    if (n < 0) return undefined;
    const s = this.segment(n);
    const at = this.offset(n);
    return this.arena.read(s[at + CHUNK]!, s[at + OFF]! + s[at + ID_LEN]!, s[at + SERIAL_LEN]!);
  }

  /** Remembers an id (if it is already known, the first serial stays). Indexed on the next lookup. */
  add(id: string, channelSerial: string, at: number): void {
    this.append(id, channelSerial, at, 0);
  }

  /** Remembers an id the caller has just looked up and not found. */
  addNew(id: string, channelSerial: string, at: number): void {
    this.index();
    const hash = hashString(id);
    this.insert(this.append(id, channelSerial, at, hash), hash, true);
    this.indexed = this.tail;
  }

  /** Forgets ids seen before `now - windowMs`, and the oldest while the ids and serials held take more than `maxBytes`. */
  expire(now: number, windowMs: number, maxBytes = Infinity): void {
    const cutoff = now - windowMs;
    // A channel gone quiet for a whole window: everything goes at once, without taking
    // each id out of the index (a full window of a busy channel is millions of them).
    if (this.latest < cutoff) {
      if (this.head !== this.tail) this.reset();
      return;
    }
    while (this.head < this.tail) {
      const s = this.segment(this.head);
      const i = this.offset(this.head);
      if (s[i + AT]! >= cutoff && this.held <= maxBytes) break;
      // Only the slot an id's entry came from removes it: a newer publish of the id
      // (another slot, indexed in its place) may still be in the window.
      if (this.head < this.indexed && this.tables) this.remove(this.head);
      this.held -= s[i + ID_LEN]! + s[i + SERIAL_LEN]!;
      this.head++;
    }
    if (this.indexed < this.head) this.indexed = this.head;
    if (this.head === this.tail) {
      this.reset();
      return;
    }
    // Segments wholly before the head go.
    const first = this.head >>> this.segmentBits;
    if (first > this.firstSegment) {
      this.segments.splice(0, first - this.firstSegment);
      this.firstSegment = first;
    }
    // Slot numbers stay below 2^31 (for >>>): a lap less changes no position.
    if (this.head >= this.lap) {
      this.head -= this.lap;
      this.tail -= this.lap;
      this.indexed -= this.lap;
      this.firstSegment -= this.lap / this.segmentSlots;
    }
    this.arena.dropBefore(this.segment(this.head)[this.offset(this.head) + CHUNK]!);
    if (this.bits > 0 && this.count * 8 < this.splitAt) this.merge();
  }

  /** Entries in time order, one per id (its first slot). */
  entries(): DedupItem[] {
    const out: DedupItem[] = [];
    this.forEachBytes((id, serial, at) => out.push({ id: id.toString('utf8'), channelSerial: serial.toString('utf8'), at }));
    return out;
  }

  /**
   * The same, without making strings, for a snapshot (a handoff, a new replica's sync):
   * each id's and serial's UTF-8 bytes (views, valid until the window changes) and time.
   */
  forEachBytes(f: (id: Buffer, channelSerial: Buffer, at: number) => void): void {
    this.index();
    for (let n = this.head; n < this.tail; n++) {
      const s = this.segment(n);
      const at = this.offset(n);
      if (this.cellOf(n, s[at + HASH]!) < 0) continue;
      const chunk = s[at + CHUNK]!;
      const off = s[at + OFF]!;
      const idLen = s[at + ID_LEN]!;
      f(this.arena.bytesAt(chunk, off, idLen), this.arena.bytesAt(chunk, off + idLen, s[at + SERIAL_LEN]!), s[at + AT]!);
    }
  }

  /** As `add`, for an id and serial given as UTF-8 bytes: `src`'s [idOff, idOff + idLen) and [serialOff, serialOff + serialLen). */
  addBytes(src: Buffer, idOff: number, idLen: number, serialOff: number, serialLen: number, at: number): void {
    this.slot(this.arena.appendBytes(src, idOff, idLen, serialOff, serialLen), idLen, serialLen, at, 0);
  }

  // ---- slots -------------------------------------------------------------------

  /** The segment holding slot `n` (in the window, or the next to append). */
  private segment(n: number): Float64Array {
    return this.segments[(n >>> this.segmentBits) - this.firstSegment]!;
  }

  /** Where slot `n`'s fields start in its segment. */
  private offset(n: number): number {
    return (n & (this.segmentSlots - 1)) * STRIDE;
  }

  /** The slot number a table cell names. */
  private slotOf(cell: number): number {
    return this.head + ((cell - 1 - this.head) & this.posMask);
  }

  /** Adds a slot; returns its number. */
  private append(id: string, channelSerial: string, at: number, hash: number): number {
    const idLen = utf8Bytes(id);
    const serialLen = utf8Bytes(channelSerial);
    return this.slot(this.arena.append(id, idLen, channelSerial, serialLen), idLen, serialLen, at, hash);
  }

  /** Adds a slot for the id and serial the arena has just taken (at its `offset` in `chunk`); returns its number. */
  private slot(chunk: number, idLen: number, serialLen: number, at: number, hash: number): number {
    const n = this.tail;
    if (this.segments.length === 0) this.firstSegment = n >>> this.segmentBits;
    const k = (n >>> this.segmentBits) - this.firstSegment;
    const i = this.offset(n);
    let s = this.segments[k];
    if (!s) this.segments.push((s = new Float64Array(MIN_SEGMENT_SLOTS * STRIDE)));
    else if (i === s.length) {
      // Only the newest segment grows, and never past segmentSlots: a bounded copy.
      const grown = new Float64Array(Math.min(this.segmentSlots, (s.length / STRIDE) * 2) * STRIDE);
      grown.set(s);
      this.segments[k] = s = grown;
    }
    this.tail++;
    s[i + AT] = at;
    if (at > this.latest) this.latest = at;
    s[i + HASH] = hash;
    s[i + CHUNK] = chunk;
    s[i + OFF] = this.arena.offset;
    s[i + ID_LEN] = idLen;
    s[i + SERIAL_LEN] = serialLen;
    this.held += idLen + serialLen;
    return n;
  }

  private reset(): void {
    this.held = 0;
    this.arena.clear();
    this.segments = [];
    this.firstSegment = 0;
    this.head = this.tail = this.indexed = 0;
    this.tables = null;
    this.tableCounts = [];
    this.bits = 0;
    this.count = 0;
    this.latest = -Infinity;
  }

  // ---- the index -------------------------------------------------------------------

  /** Puts the slots added since the last lookup into the index (the first slot of each id). */
  private index(): void {
    if (this.indexed === this.tail) return;
    for (let n = this.indexed; n < this.tail; n++) {
      const s = this.segment(n);
      const i = this.offset(n);
      const hash = this.arena.hash(s[i + CHUNK]!, s[i + OFF]!, s[i + ID_LEN]!);
      s[i + HASH] = hash;
      this.insert(n, hash, false);
    }
    this.indexed = this.tail;
  }

  /** Which table an id's hash goes to (Fibonacci hashing of the hash: its top bits). */
  private tableOf(hash: number): number {
    return this.bits === 0 ? 0 : Math.imul(hash, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** Indexes slot `n` under its id; an id already there keeps its slot unless `replace`. */
  private insert(n: number, hash: number, replace: boolean): void {
    if (!this.tables) {
      this.tables = [null];
      this.tableCounts = [0];
    }
    if (this.bits === 0 && this.count >= this.splitAt) this.split();
    const k = this.tableOf(hash);
    const t = this.tableWithRoom(k);
    const mask = t.length - 1;
    const ns = this.segment(n);
    const ni = this.offset(n);
    let j = hash & mask;
    for (;;) {
      const cell = t[j]!;
      if (cell === 0) {
        t[j] = (n & this.posMask) + 1;
        this.tableCounts[k]!++;
        this.count++;
        return;
      }
      const o = this.slotOf(cell);
      const os = this.segment(o);
      const oi = this.offset(o);
      if (os[oi + HASH] === hash && this.sameId(os, oi, ns, ni)) {
        if (replace) t[j] = (n & this.posMask) + 1;
        return;
      }
      j = (j + 1) & mask;
    }
  }

  /** The slot indexed for `id`, or -1. */
  private find(id: string, hash: number): number {
    const t = this.tables?.[this.tableOf(hash)];
    if (!t) return -1;
    const mask = t.length - 1;
    for (let j = hash & mask; ; j = (j + 1) & mask) {
      const cell = t[j]!;
      if (cell === 0) return -1;
      const n = this.slotOf(cell);
      const s = this.segment(n);
      const i = this.offset(n);
      if (s[i + HASH] === hash && this.arena.equals(s[i + CHUNK]!, s[i + OFF]!, s[i + ID_LEN]!, id)) return n;
    }
  }

  private sameId(a: Float64Array, ai: number, b: Float64Array, bi: number): boolean {
    const len = a[ai + ID_LEN]!;
    return len === b[bi + ID_LEN] && this.arena.sameBytes(a[ai + CHUNK]!, a[ai + OFF]!, b[bi + CHUNK]!, b[bi + OFF]!, len);
  }

  /** The cell holding slot `n` (whose hash is `hash`) in its table, or -1 (its id is indexed under another slot, or not at all). */
  private cellOf(n: number, hash: number): number {
    const t = this.tables?.[this.tableOf(hash)];
    if (!t) return -1;
    const mask = t.length - 1;
    const want = (n & this.posMask) + 1;
    for (let j = hash & mask; ; j = (j + 1) & mask) {
      const cell = t[j]!;
      if (cell === 0) return -1;
      if (cell === want) return j;
    }
  }

  /** Takes slot `n` out of the index if it is there; later cells move back into the gap. */
  private remove(n: number): void {
    const hash = this.segment(n)[this.offset(n) + HASH]!;
    let hole = this.cellOf(n, hash);
    if (hole < 0) return;
    const k = this.tableOf(hash);
    const t = this.tables![k]!;
    const mask = t.length - 1;
    for (let j = (hole + 1) & mask; t[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashOf(t[j]!) & mask;
      // The cell at j stays if its home lies cyclically in (hole, j]; otherwise it moves to the hole.
      const stays = hole <= j ? hole < home && home <= j : home > hole || home <= j;
      if (!stays) {
        t[hole] = t[j]!;
        hole = j;
      }
    }
    t[hole] = 0;
    this.tableCounts[k]!--;
    this.count--;
    if (t.length > MIN_TABLE && this.tableCounts[k]! * 8 < t.length) this.resizeTable(k, Math.max(MIN_TABLE, t.length / 4));
  }

  /** Table `k`, with room for one more cell (at most half full after it). */
  private tableWithRoom(k: number): Int32Array {
    const t = this.tables![k];
    if (t && (this.tableCounts[k]! + 1) * 2 <= t.length) return t;
    return this.resizeTable(k, Math.max(MIN_TABLE, (t?.length ?? 0) * 2));
  }

  /** Puts `cell` into `t` (which has room) at the first free place from its hash's home. */
  private static place(t: Int32Array, cell: number, hash: number): void {
    const mask = t.length - 1;
    let j = hash & mask;
    while (t[j] !== 0) j = (j + 1) & mask;
    t[j] = cell;
  }

  /** Table `k` with `size` cells (a power of two), holding what it held. */
  private resizeTable(k: number, size: number): Int32Array {
    const old = this.tables![k];
    const t = new Int32Array(size);
    if (old) this.rehash(old, t);
    this.tables![k] = t;
    return t;
  }

  /** The hash of the slot a cell names. */
  private hashOf(cell: number): number {
    const n = this.slotOf(cell);
    return this.segment(n)[this.offset(n) + HASH]!;
  }

  /** Puts every cell of `from` into `to` (empty, or with room for them). */
  private rehash(from: Int32Array, to: Int32Array): void {
    for (const cell of from) if (cell !== 0) DedupWindow.place(to, cell, this.hashOf(cell));
  }

  /** One table into 2^splitBits, each id to the table its hash picks (once, past splitAt ids). */
  private split(): void {
    const whole = this.tables![0];
    this.bits = this.splitBits;
    this.tables = new Array<Int32Array | null>(2 ** this.bits).fill(null);
    this.tableCounts = new Array<number>(2 ** this.bits).fill(0);
    if (!whole) return;
    for (const cell of whole) {
      if (cell === 0) continue;
      const hash = this.hashOf(cell);
      const k = this.tableOf(hash);
      DedupWindow.place(this.tableWithRoom(k), cell, hash);
      this.tableCounts[k]!++;
    }
  }

  /** Back to one table once the window holds few ids (an eighth of splitAt). */
  private merge(): void {
    const parts = this.tables!;
    let size = MIN_TABLE;
    while (size < this.count * 2) size *= 2;
    const t = new Int32Array(size);
    for (const p of parts) if (p) this.rehash(p, t);
    this.bits = 0;
    this.tables = [t];
    this.tableCounts = [this.count];
  }
}
