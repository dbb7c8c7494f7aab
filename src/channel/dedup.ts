/**
 * The deduplication window of one channel: message ids seen in the last `windowMs`,
 * each with the channelSerial it was stored under, so that a repeated publish is
 * acknowledged with the original serial and never stored twice. Pure: time is passed in.
 *
 * Nothing of it lives on the JavaScript heap per id. A busy channel keeps its last two
 * minutes of ids (over a million at 10,000 messages a second); held as strings in a Map
 * they were the bulk of what the young-generation collector promoted, and so what made
 * full collections come every few seconds, each marking all of them and stalling the
 * node for tens of milliseconds (BENCHMARKS.md). Here:
 *
 * - each id and its serial are UTF-8 bytes in a `StringArena` (large off-heap buffers),
 * - each slot (time, hash, where its bytes are) is six numbers in one Float64Array, in
 *   time order, expired from the front,
 * - the index is an open-addressing table (Int32Array, linear probing, deletion by
 *   backward shift) from the id's hash to its slot, built only when someone asks: a
 *   channel's replica adds every id the master stores, but looks one up only once it has
 *   become the master.
 */
import { hashString, StringArena, utf8Bytes } from './string-arena.js';

/** A slot's fields, in `slots` (stride STRIDE). */
const AT = 0;
const HASH = 1;
const CHUNK = 2;
const OFF = 3;
const ID_LEN = 4;
const SERIAL_LEN = 5;
const STRIDE = 6;

const MIN_SLOTS = 8;
const MIN_TABLE = 16;

export class DedupWindow {
  private arena = new StringArena();
  private slots = new Float64Array(0);
  /**
   * Slots are a ring: slot number n (counted from the first ever, kept below twice the
   * capacity) is at position n & (capacity - 1). Slots [head, tail) are in the window;
   * those before `indexed` are in the table (or repeat an id that is).
   */
  private head = 0;
  private tail = 0;
  private indexed = 0;
  private mask = -1;
  /** slot + 1 per cell, 0 when empty; null until the first lookup. */
  private table: Int32Array | null = null;
  private count = 0;

  /** Ids in the window (indexes what is pending first). */
  get size(): number {
    this.index();
    return this.count;
  }

  /** No id in the window (without indexing). */
  get empty(): boolean {
    return this.head === this.tail;
  }

  /** Bytes held outside the JS heap (the arena's buffers, the slots and the table). */
  get bytes(): number {
    return this.arena.bytes + this.slots.byteLength + (this.table?.byteLength ?? 0);
  }

  lookup(id: string): string | undefined {
    this.index();
    if (this.count === 0) return undefined;
    const p = this.find(id, hashString(id));
    if (p < 0) return undefined;
    const s = this.slots;
    const at = p * STRIDE;
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

  expire(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    const s = this.slots;
    while (this.head < this.tail && s[(this.head & this.mask) * STRIDE + AT]! < cutoff) {
      // Only the slot an id's entry came from removes it: a newer publish of the id
      // (another slot, indexed in its place) may still be in the window.
      if (this.head < this.indexed && this.table) this.remove(this.head & this.mask);
      this.head++;
    }
    if (this.indexed < this.head) this.indexed = this.head;
    if (this.head === this.tail) {
      this.reset();
      return;
    }
    // Slot numbers stay small: a whole number of laps less changes no position.
    const cap = this.mask + 1;
    if (this.head >= cap) {
      const laps = this.head - (this.head & this.mask);
      this.head -= laps;
      this.tail -= laps;
      this.indexed -= laps;
    }
    this.arena.dropBefore(s[(this.head & this.mask) * STRIDE + CHUNK]!);
    if (this.mask + 1 > MIN_SLOTS * 8 && (this.tail - this.head) * 4 <= this.mask + 1) this.resize((this.mask + 1) / 2);
    if (this.table && this.table.length > MIN_TABLE && this.count * 8 < this.table.length) this.rebuild(Math.max(MIN_TABLE, this.table.length / 4));
  }

  /** Entries in time order, one per id (its first slot), for replication and handoff. */
  entries(): { id: string; channelSerial: string; at: number }[] {
    this.index();
    const out: { id: string; channelSerial: string; at: number }[] = [];
    const s = this.slots;
    for (let n = this.head; n < this.tail; n++) {
      const p = n & this.mask;
      if (this.cellOf(p) < 0) continue;
      const at = p * STRIDE;
      const chunk = s[at + CHUNK]!;
      const off = s[at + OFF]!;
      const idLen = s[at + ID_LEN]!;
      out.push({ id: this.arena.read(chunk, off, idLen), channelSerial: this.arena.read(chunk, off + idLen, s[at + SERIAL_LEN]!), at: s[at + AT]! });
    }
    return out;
  }

  // ---- slots -------------------------------------------------------------------

  /** Adds a slot; returns its position. */
  private append(id: string, channelSerial: string, at: number, hash: number): number {
    if (this.tail - this.head === this.mask + 1) this.resize(Math.max(MIN_SLOTS, (this.mask + 1) * 2));
    const idLen = utf8Bytes(id);
    const serialLen = utf8Bytes(channelSerial);
    const chunk = this.arena.append(id, idLen, channelSerial, serialLen);
    const p = this.tail++ & this.mask;
    const s = this.slots;
    const i = p * STRIDE;
    s[i + AT] = at;
    s[i + HASH] = hash;
    s[i + CHUNK] = chunk;
    s[i + OFF] = this.arena.offset;
    s[i + ID_LEN] = idLen;
    s[i + SERIAL_LEN] = serialLen;
    return p;
  }

  /**
   * A ring of `cap` slots (twice the size when full, half when a quarter full), each
   * slot at its position there (slot numbers do not change), and the table's cells
   * moved with them. Nothing is copied as slots come and go in between.
   */
  private resize(cap: number): void {
    const oldMask = this.mask;
    const mask = cap - 1;
    const old = this.slots;
    const grown = new Float64Array(cap * STRIDE);
    for (let n = this.head; n < this.tail; n++) {
      const from = (n & oldMask) * STRIDE;
      const to = (n & mask) * STRIDE;
      for (let k = 0; k < STRIDE; k++) grown[to + k] = old[from + k]!;
    }
    const t = this.table;
    if (t) {
      const base = this.head & oldMask;
      for (let j = 0; j < t.length; j++) {
        if (t[j] === 0) continue;
        // The slot number at that old position, then its new position.
        const n = this.head + ((t[j]! - 1 - base) & oldMask);
        t[j] = (n & mask) + 1;
      }
    }
    this.slots = grown;
    this.mask = mask;
  }

  private reset(): void {
    this.arena.clear();
    this.slots = new Float64Array(0);
    this.head = this.tail = this.indexed = 0;
    this.mask = -1;
    this.table = null;
    this.count = 0;
  }

  // ---- the index -------------------------------------------------------------------

  /** Puts the slots added since the last lookup into the table (the first slot of each id). */
  private index(): void {
    if (this.indexed === this.tail) return;
    const s = this.slots;
    for (let n = this.indexed; n < this.tail; n++) {
      const p = n & this.mask;
      const i = p * STRIDE;
      const hash = this.arena.hash(s[i + CHUNK]!, s[i + OFF]!, s[i + ID_LEN]!);
      s[i + HASH] = hash;
      this.insert(p, hash, false);
    }
    this.indexed = this.tail;
  }

  /** Indexes the slot at position `slot` under its id; an id already there keeps its slot unless `replace`. */
  private insert(slot: number, hash: number, replace: boolean): void {
    if (!this.table || (this.count + 1) * 2 > this.table.length) this.rebuild(Math.max(MIN_TABLE, (this.table?.length ?? 0) * 2));
    const t = this.table!;
    const mask = t.length - 1;
    const s = this.slots;
    const i0 = slot * STRIDE;
    let j = hash & mask;
    for (;;) {
      const cell = t[j]!;
      if (cell === 0) {
        t[j] = slot + 1;
        this.count++;
        return;
      }
      const other = (cell - 1) * STRIDE;
      if (s[other + HASH] === hash && this.sameId(other, i0)) {
        if (replace) t[j] = slot + 1;
        return;
      }
      j = (j + 1) & mask;
    }
  }

  /** The slot indexed for `id`, or -1. */
  private find(id: string, hash: number): number {
    const t = this.table!;
    const mask = t.length - 1;
    const s = this.slots;
    for (let j = hash & mask; ; j = (j + 1) & mask) {
      const cell = t[j]!;
      if (cell === 0) return -1;
      const i = (cell - 1) * STRIDE;
      if (s[i + HASH] === hash && this.arena.equals(s[i + CHUNK]!, s[i + OFF]!, s[i + ID_LEN]!, id)) return cell - 1;
    }
  }

  private sameId(a: number, b: number): boolean {
    const s = this.slots;
    const len = s[a + ID_LEN]!;
    return len === s[b + ID_LEN] && this.arena.sameBytes(s[a + CHUNK]!, s[a + OFF]!, s[b + CHUNK]!, s[b + OFF]!, len);
  }

  /** The table cell holding `slot`, or -1 (its id is indexed under another slot, or not at all). */
  private cellOf(slot: number): number {
    const t = this.table;
    if (!t) return -1;
    const mask = t.length - 1;
    for (let j = this.slots[slot * STRIDE + HASH]! & mask; ; j = (j + 1) & mask) {
      const cell = t[j]!;
      if (cell === 0) return -1;
      if (cell === slot + 1) return j;
    }
  }

  /** Takes `slot` out of the table if it is there; later cells move back into the gap. */
  private remove(slot: number): void {
    let hole = this.cellOf(slot);
    if (hole < 0) return;
    const t = this.table!;
    const mask = t.length - 1;
    const s = this.slots;
    for (let j = (hole + 1) & mask; t[j] !== 0; j = (j + 1) & mask) {
      const home = s[(t[j]! - 1) * STRIDE + HASH]! & mask;
      // The cell at j stays if its home lies cyclically in (hole, j]; otherwise it moves to the hole.
      const stays = hole <= j ? hole < home && home <= j : home > hole || home <= j;
      if (!stays) {
        t[hole] = t[j]!;
        hole = j;
      }
    }
    t[hole] = 0;
    this.count--;
  }

  /** A table of `size` cells (a power of two) holding what the current one holds. */
  private rebuild(size: number): void {
    const old = this.table;
    const t = new Int32Array(size);
    const mask = size - 1;
    const s = this.slots;
    if (old) {
      for (const cell of old) {
        if (cell === 0) continue;
        let j = s[(cell - 1) * STRIDE + HASH]! & mask;
        while (t[j] !== 0) j = (j + 1) & mask;
        t[j] = cell;
      }
    }
    this.table = t;
  }
}
