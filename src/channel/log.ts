/**
 * A channel's retained stream: entries with contiguous serials, dropped from the front
 * when older than the retention period or past the count cap. Pure: time is passed in.
 */
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
}

export class ChannelLog {
  private entries: LogEntry[] = [];
  private head = 0;
  /** Every serial ≤ this one is gone (or never existed). */
  private base: number;

  constructor(base = 0) {
    this.base = base;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Serial of the newest entry ever appended (the base when none survive). */
  get lastSerial(): number {
    return this.size > 0 ? this.entries[this.entries.length - 1]!.serial : this.base;
  }

  /** The highest serial that has been dropped; resuming from below it leaves a gap. */
  get baseSerial(): number {
    return this.base;
  }

  get lastStoredAt(): number | undefined {
    return this.size > 0 ? this.entries[this.entries.length - 1]!.storedAt : undefined;
  }

  append(e: LogEntry): void {
    if (e.serial !== this.lastSerial + 1) {
      throw new Error(`log append out of order: ${e.serial} after ${this.lastSerial}`);
    }
    this.entries.push(e);
  }

  /** Whether every entry after `serial` is still held. */
  covers(serial: number): boolean {
    return serial >= this.base && serial <= this.lastSerial;
  }

  /** Entries with serial in (after, upto]; null when some of them are gone. */
  range(after: number, upto = this.lastSerial): LogEntry[] | null {
    if (!this.covers(after)) return null;
    const hi = Math.min(upto, this.lastSerial);
    if (hi <= after) return [];
    const first = this.head + (after + 1 - (this.base + 1));
    const last = this.head + (hi - (this.base + 1));
    return this.entries.slice(first, last + 1);
  }

  /** Drops entries stored before `now - retentionMs`, and the oldest beyond `maxEntries`. */
  expire(now: number, retentionMs: number, maxEntries: number): number {
    const cutoff = now - retentionMs;
    let dropped = 0;
    while (this.size > 0) {
      const e = this.entries[this.head]!;
      if (e.storedAt >= cutoff && this.size <= maxEntries) break;
      this.base = e.serial;
      this.entries[this.head] = undefined as unknown as LogEntry;
      this.head++;
      dropped++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** All retained entries, oldest first. */
  all(): LogEntry[] {
    return this.entries.slice(this.head);
  }

  /**
   * REST history: entries of one kind within [start, end], in `direction`, at most
   * `limit`, after the cursor. Returns the page and whether more match.
   */
  query(q: HistoryQuery): { items: LogEntry[]; more: boolean } {
    const items: LogEntry[] = [];
    const fwd = q.direction === 'forwards';
    const lo = this.head;
    const hi = this.entries.length - 1;
    let i = fwd ? lo : hi;
    // Jump to the cursor: serials are contiguous, so the index follows from the serial.
    if (q.cursor !== undefined) {
      const idx = this.head + (q.cursor - (this.base + 1));
      i = fwd ? Math.max(lo, idx + 1) : Math.min(hi, idx - 1);
    }
    if (q.untilSerial !== undefined && !fwd) {
      i = Math.min(i, this.head + (q.untilSerial - (this.base + 1)));
    }
    for (; fwd ? i <= hi : i >= lo; fwd ? i++ : i--) {
      const e = this.entries[i]!;
      if (q.untilSerial !== undefined && e.serial > q.untilSerial) {
        if (fwd) break;
        continue;
      }
      if (q.end !== undefined && e.storedAt > q.end) {
        if (fwd) break;
        continue;
      }
      if (q.start !== undefined && e.storedAt < q.start) {
        if (fwd) continue;
        break;
      }
      if (e.kind !== q.kind) continue;
      if (items.length === q.limit) return { items, more: true };
      items.push(e);
    }
    return { items, more: false };
  }
}
