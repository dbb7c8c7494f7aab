/**
 * A channel's retained stream: entries with contiguous serials, dropped from the front
 * when older than the retention period or past the count cap. Pure: time is passed in.
 *
 * Entries are held encoded, each as a LogEntryList element (`entry-codec.ts`), side by
 * side in a few large buffers, with each one's stored-at time, kind and place in typed
 * arrays; they are decoded when read. Held as objects, a retained entry was about seven
 * of them (entry, origin, message, id, serial, data…), each copied twice by the young
 * generation's collector before it reached the old one, and marked by every full
 * collection for as long as it lived: in a heal catch-up, where every entry is kept, the
 * scavenges took a quarter of the nodes' time. To the collector the log is now a handful
 * of buffers and two typed arrays, whatever it holds. Reads (a client's resume, REST
 * history, another region's replay, a full copy to a replica) decode what they return;
 * the hot path (a master's batch, replicated and broadcast) never reads the log.
 */
import { HISTORY_PAGE_MAX_BYTES } from '../config/defaults.js';
import { entryListCodec } from '../transport/entry-codec.js';
import { acceptedAt } from '../transport/entry-origin.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { LogEntry } from './entry.js';

export interface HistoryQuery {
  /** Inclusive lower bound on storedAt (ms). */
  start?: number;
  /** Inclusive upper bound on storedAt (ms). */
  end?: number;
  direction: 'forwards' | 'backwards';
  limit: number;
  /** Paging cursor: only entries with serial strictly beyond this one (in `direction`). */
  cursor?: number;
  /** Only entries up to and including this serial (untilAttach). */
  untilSerial?: number;
  /** The epoch `cursor` and `untilSerial` belong to; another epoch's serials mean nothing here. */
  epoch?: string;
  kind: LogEntry['kind'];
  /**
   * Only the message of this serial (`getMessage`; its versions too where `versions`,
   * `getMessageVersions`): ChannelState.query answers it, from its versions (versions.ts).
   */
  messageSerial?: string;
  versions?: boolean;
  /** With `messageSerial`: its annotations, oldest first (annotations.ts), `limit` of them after the one of serial `after`. */
  annotations?: boolean;
  after?: string;
}

/** Buffers grow with what the log holds, from this… */
const MIN_CHUNK = 256;
/** …to this (an entry larger than that gets a buffer of its own size). */
const MAX_CHUNK = 256 * 1024;
/** Slots the typed arrays get at the first entry (none before it: many channels never hold one). */
const MIN_SLOTS = 4;
const MESSAGE = 0;
const PRESENCE = 1;
/** A message that changes or annotates another (versions.ts, annotations.ts): in the stream, not in history's list. */
const VERSION = 2;
/** An entry's kind as the log tells them apart. */
export type SlotKind = LogEntry['kind'] | 'version' | 'annotation';
/** Each slot's fields in `where` (SLOT of them per slot). */
const CHUNK = 0;
const OFFSET = 1;
const LENGTH = 2;
const KIND = 3;
const SLOT = 4;
const NO_TIMES = new Float64Array(0);
const NO_PLACES = new Int32Array(0);

export class ChannelLog {
  // One slot per retained entry, slots head..tail-1 in serial order: slot i holds serial
  // base + 1 + (i - head).
  private storedAt = NO_TIMES;
  /** Per slot: the entry's buffer (chunk number), where its bytes are in it, how many, and its kind. */
  private where = NO_PLACES;
  private head = 0;
  private tail = 0;
  /** Every serial ≤ this one is gone (or never existed). */
  private base: number;
  private chunks: Buffer[] = [];
  /** Chunk number of chunks[0] (chunk numbers only grow). */
  private chunkBase = 0;
  /** Bytes used in the newest chunk. */
  private used = 0;
  private held = 0;
  /** Bytes of the retained entries (their elements; `held` counts whole buffers). */
  private retainedBytes = 0;
  /** Retained messages (creates): what the count cap counts (expire). */
  private messages = 0;
  /**
   * When the newest entry this log dropped was stored (ms; -Infinity: none). null: a log
   * restored past its base, which never saw what went before it.
   */
  private expiredAt: number | null;

  constructor(base = 0) {
    this.base = base;
    this.expiredAt = base > 0 ? null : -Infinity;
  }

  /** No entry stored after this (ms) has been dropped (an upper bound; -Infinity: none dropped). */
  get droppedUpTo(): number {
    if (this.expiredAt !== null) return this.expiredAt;
    // Restored: what went before was stored no later than the oldest entry held (unknown without one).
    return this.size > 0 ? this.storedAt[this.head]! : Infinity;
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Serial of the newest entry ever appended (the base when none survive). */
  get lastSerial(): number {
    return this.base + this.size;
  }

  /** The highest serial that has been dropped; resuming from below it leaves a gap. */
  get baseSerial(): number {
    return this.base;
  }

  get lastStoredAt(): number | undefined {
    return this.size > 0 ? this.storedAt[this.tail - 1] : undefined;
  }

  /** Bytes of the buffers holding the entries (used or not). */
  get bytes(): number {
    return this.held;
  }

  /** Bytes of the entries retained (what a snapshot of them carries). */
  get entryBytes(): number {
    return this.retainedBytes;
  }

  /**
   * `element`: the entry's bytes as a LogEntryList element, where the caller has them (a
   * replica, from the master's list); otherwise they are encoded here.
   */
  append(e: LogEntry, element?: Uint8Array): void {
    const kind = e.kind === 'message' && e.message.action !== undefined ? 'version' : e.kind;
    this.appendElement(e.serial, e.storedAt, kind, element ?? entryListCodec.logEntryElement(e));
  }

  /** Appends the entry whose LogEntryList element is `bytes` (its serial, time and kind as given). */
  appendElement(serial: number, storedAt: number, kind: SlotKind, bytes: Uint8Array): void {
    if (serial !== this.lastSerial + 1) {
      throw new Error(`log append out of order: ${serial} after ${this.lastSerial}`);
    }
    const chunk = this.place(bytes);
    if (this.tail === this.storedAt.length) this.makeRoom();
    const i = this.tail++;
    this.storedAt[i] = storedAt;
    const w = i * SLOT;
    this.where[w + CHUNK] = chunk;
    this.where[w + OFFSET] = this.used - bytes.length;
    this.where[w + LENGTH] = bytes.length;
    this.where[w + KIND] = kind === 'message' ? MESSAGE : kind === 'presence' ? PRESENCE : VERSION;
    this.retainedBytes += bytes.length;
    if (kind === 'message') this.messages++;
  }

  /** Copies `bytes` after the newest chunk's last, or into a new chunk; returns the chunk number. */
  private place(bytes: Uint8Array): number {
    let chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.length - this.used < bytes.length) {
      chunk = Buffer.allocUnsafeSlow(Math.max(bytes.length, Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.held))));
      this.chunks.push(chunk);
      this.held += chunk.length;
      this.used = 0;
    }
    chunk.set(bytes, this.used);
    this.used += bytes.length;
    return this.chunkBase + this.chunks.length - 1;
  }

  /** A free slot at the tail: moves the slots down if half are free, else doubles them. */
  private makeRoom(): void {
    const n = this.size;
    const len = this.storedAt.length;
    if (len > 0 && this.head * 2 >= len) {
      this.storedAt.copyWithin(0, this.head, this.tail);
      this.where.copyWithin(0, this.head * SLOT, this.tail * SLOT);
    } else {
      const cap = Math.max(MIN_SLOTS, len * 2);
      const times = new Float64Array(cap);
      times.set(this.storedAt.subarray(this.head, this.tail));
      const where = new Int32Array(cap * SLOT);
      where.set(this.where.subarray(this.head * SLOT, this.tail * SLOT));
      this.storedAt = times;
      this.where = where;
    }
    this.head = 0;
    this.tail = n;
  }

  /** Whether every entry after `serial` is still held. */
  covers(serial: number): boolean {
    return serial >= this.base && serial <= this.lastSerial;
  }

  private slot(serial: number): number {
    return this.head + (serial - this.base - 1);
  }

  /** Entries with serial in (after, upto]; null when some of them are gone. */
  range(after: number, upto = this.lastSerial): LogEntry[] | null {
    if (!this.covers(after)) return null;
    const hi = Math.min(upto, this.lastSerial);
    if (hi <= after) return [];
    return this.decode(this.slot(after + 1), this.slot(hi) + 1);
  }

  /** As range, or 'over' where the entries' bytes are more than `maxBytes` (counted before any is decoded). */
  rangeWithin(after: number, upto = this.lastSerial, maxBytes = Infinity): LogEntry[] | null | 'over' {
    if (maxBytes < Infinity && this.covers(after)) {
      let bytes = 0;
      for (let i = this.slot(after + 1), to = this.slot(Math.min(upto, this.lastSerial)); i <= to; i++) {
        bytes += this.where[i * SLOT + LENGTH]!;
        if (bytes > maxBytes) return 'over';
      }
    }
    return this.range(after, upto);
  }

  /**
   * The LogEntryList of the entries with serial in (after, upto], all retained: the bytes
   * as held (a view of them, when they are in one buffer; held bytes are never changed).
   */
  encoded(after: number, upto: number): Buffer {
    const parts = this.parts(this.slot(after + 1), this.slot(upto) + 1);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** The bytes of slots [from, to): one view per chunk they are in. */
  private parts(from: number, to: number): Buffer[] {
    const parts: Buffer[] = [];
    for (let i = from; i < to; ) {
      const j = this.runEnd(i, to);
      parts.push(this.bytesOf(i, j));
      i = j;
    }
    return parts;
  }

  /** The end of the run of slots from `i` (before `to`) whose bytes are in one chunk, side by side. */
  private runEnd(i: number, to: number): number {
    const chunk = this.where[i * SLOT + CHUNK];
    let j = i + 1;
    while (j < to && this.where[j * SLOT + CHUNK] === chunk) j++;
    return j;
  }

  /** The bytes of the slots [i, j), one run. */
  private bytesOf(i: number, j: number): Buffer {
    const w = this.where;
    const last = (j - 1) * SLOT;
    return this.chunks[w[i * SLOT + CHUNK]! - this.chunkBase]!.subarray(w[i * SLOT + OFFSET], w[last + OFFSET]! + w[last + LENGTH]!);
  }

  /** The ForwardedEntryList of the entries of these serials (each retained, ascending), from their bytes. */
  forwarded(serials: readonly number[]): Buffer {
    const parts: Buffer[] = [];
    for (const [from, to] of spans(serials.map((s) => this.slot(s)))) parts.push(...this.parts(from, to));
    return entryListCodec.forwardedFromLog(parts);
  }

  /** The longest start of `serials` (each retained) whose entries take at most `maxBytes`, and at least the first. */
  prefixWithin(serials: readonly number[], maxBytes: number): readonly number[] {
    let bytes = 0;
    for (let i = 0; i < serials.length; i++) {
      bytes += this.where[this.slot(serials[i]!) * SLOT + LENGTH]!;
      if (bytes > maxBytes && i > 0) return serials.slice(0, i);
    }
    return serials;
  }

  /** When the entry of `serial` (retained) was stored. */
  storedAtOf(serial: number): number {
    return this.storedAt[this.slot(serial)]!;
  }

  /**
   * Drops entries stored before `now - retentionMs`, and the oldest while more than
   * `maxMessages` messages or `maxBytes` (of entries) are retained. The count is of
   * messages (creates) only: presence events, a message's versions and annotations take
   * bytes, not count (a stream of 10,000 appends, or a busy presence room, took its
   * message out of history well inside the retention, and the next append was refused).
   */
  expire(now: number, retentionMs: number, maxMessages: number, maxBytes = Infinity): number {
    const cutoff = now - retentionMs;
    let dropped = 0;
    while (this.size > 0 && (this.storedAt[this.head]! < cutoff || this.messages > maxMessages || this.retainedBytes > maxBytes)) {
      if (this.where[this.head * SLOT + KIND] === MESSAGE) this.messages--;
      this.retainedBytes -= this.where[this.head * SLOT + LENGTH]!;
      this.head++;
      this.base++;
      dropped++;
    }
    if (dropped > 0) {
      this.expiredAt = this.storedAt[this.head - 1]!;
      this.dropChunks();
    }
    return dropped;
  }

  /** Lets go of the chunks no retained entry is in. */
  private dropChunks(): void {
    if (this.size === 0) {
      this.chunkBase += this.chunks.length;
      this.chunks = [];
      this.held = 0;
      this.used = 0;
      this.head = this.tail = 0;
      return;
    }
    const first = this.where[this.head * SLOT + CHUNK]!;
    while (this.chunkBase < first) {
      this.held -= this.chunks.shift()!.length;
      this.chunkBase++;
    }
  }

  /** All retained entries, oldest first. */
  all(): LogEntry[] {
    return this.decode(this.head, this.tail);
  }

  /** The entries of slots [from, to): one decode per run of them in one chunk. */
  private decode(from: number, to: number): LogEntry[] {
    const out: LogEntry[] = [];
    for (let i = from; i < to; ) {
      const j = this.runEnd(i, to);
      const list = entryListCodec.decodeLogEntryList(this.bytesOf(i, j));
      if (list.length !== j - i) throw new Error(`channel log: ${list.length} entries decoded where ${j - i} are held`);
      for (let k = 0; k < list.length; k++) {
        const e = list[k]!;
        e.storedAt = this.storedAt[i + k]!; // exact, where the wire has whole milliseconds
        out.push(e);
      }
      i = j;
    }
    return out;
  }

  /** The entries of these slots (ascending), one decode per run of consecutive ones. */
  private decodeSlots(slots: readonly number[]): LogEntry[] {
    const out: LogEntry[] = [];
    for (const [from, to] of spans(slots)) for (const e of this.decode(from, to)) out.push(e);
    return out;
  }

  /**
   * REST history: entries of one kind within [start, end], in `direction`, at most
   * `limit`, after the cursor (messages: creates; the versions that change them are not
   * listed, versions.ts), and no more bytes than HISTORY_PAGE_MAX_BYTES (at least one
   * entry). Returns the page and whether more match.
   */
  query(q: HistoryQuery): { items: LogEntry[]; more: boolean } {
    const picked: number[] = [];
    let bytes = 0;
    const fwd = q.direction === 'forwards';
    const kind = q.kind === 'message' ? MESSAGE : PRESENCE;
    const lo = this.head;
    const hi = this.tail - 1;
    let i = fwd ? lo : hi;
    // Jump to the cursor: serials are contiguous, so the slot follows from the serial.
    if (q.cursor !== undefined) {
      const idx = this.slot(q.cursor);
      i = fwd ? Math.max(lo, idx + 1) : Math.min(hi, idx - 1);
    }
    if (q.untilSerial !== undefined && !fwd) i = Math.min(i, this.slot(q.untilSerial));
    let more = false;
    for (; fwd ? i <= hi : i >= lo; fwd ? i++ : i--) {
      const serial = this.base + 1 + (i - this.head);
      const at = this.storedAt[i]!;
      if (q.untilSerial !== undefined && serial > q.untilSerial) {
        if (fwd) break;
        continue;
      }
      if (q.end !== undefined && at > q.end) {
        if (fwd) break;
        continue;
      }
      if (q.start !== undefined && at < q.start) {
        if (fwd) continue;
        break;
      }
      if (this.where[i * SLOT + KIND] !== kind) continue;
      const length = this.where[i * SLOT + LENGTH]!;
      if (picked.length === q.limit || (picked.length > 0 && bytes + length > HISTORY_PAGE_MAX_BYTES)) {
        more = true;
        break;
      }
      picked.push(i);
      bytes += length;
    }
    if (fwd) return { items: this.decodeSlots(picked), more };
    return { items: this.decodeSlots(picked.reverse()).reverse(), more };
  }

  /**
   * The retained message first accepted at `o` (at most serial `upto`, and after serial
   * `after`; a create, not a version), or null: read from the newest back, each entry only
   * as far as its origin.
   */
  created(o: OriginPosition, upto = this.lastSerial, after = this.base): LogEntry | null {
    const region = Buffer.from(o.region);
    const epoch = Buffer.from(o.epoch);
    const w = this.where;
    const low = Math.max(this.head, this.slot(after + 1));
    for (let i = Math.min(this.tail - 1, this.slot(upto)); i >= low; i--) {
      if (w[i * SLOT + KIND] !== MESSAGE) continue;
      const at = w[i * SLOT + OFFSET]!;
      const chunk = this.chunks[w[i * SLOT + CHUNK]! - this.chunkBase]!;
      if (acceptedAt(chunk, at, at + w[i * SLOT + LENGTH]!, o.seq, region, epoch)) return this.decode(i, i + 1)[0]!;
    }
    return null;
  }
}

/** Runs of consecutive numbers in an ascending list, as [first, last + 1). */
function* spans(xs: readonly number[]): Generator<[number, number]> {
  let k = 0;
  while (k < xs.length) {
    let m = k + 1;
    while (m < xs.length && xs[m] === xs[m - 1]! + 1) m++;
    yield [xs[k]!, xs[m - 1]! + 1];
    k = m;
  }
}
