/**
 * Where this region's own entries are in a channel's history: their serials by their local
 * seq (contiguous; entry i has seq `firstSeq + i - head`). Lets another region's replay
 * request find "everything we accepted after seq N", or since a time, without scanning the
 * log. A queue with a head index, compacted now and then.
 */
import type { ChannelLog } from './log.js';
import { ForwardedEntries } from '../transport/entry-lists.js';

/** Own entries as they go to another region: `startSeq` is the seq before the first; `gap`, some it asked for are lost. */
export interface OwnAnswer {
  startSeq: number;
  gap: boolean;
  entries: ForwardedEntries;
}

export class OwnEntries {
  private idx: number[] = [];
  private head = 0;
  private firstSeq = 1;

  /** An own entry appended at `serial`, with local seq `seq`. */
  add(serial: number, seq: number): void {
    if (this.idx.length === this.head) this.firstSeq = seq;
    this.idx.push(serial);
  }

  /** Forgets those at or below serial `base` (retention dropped them). */
  trim(base: number): void {
    while (this.head < this.idx.length && this.idx[this.head]! <= base) {
      this.head++;
      this.firstSeq++;
    }
    if (this.head > 1024 && this.head * 2 > this.idx.length) {
      this.idx = this.idx.slice(this.head);
      this.head = 0;
    }
  }

  /** The first local seq still held (`next`, the seq the next one will have, when none is). */
  firstHeld(next: number): number {
    return this.idx.length > this.head ? this.firstSeq : next;
  }

  /** The serials of seqs `from` to `last`, at most `limit`, none beyond serial `upto`. */
  serialsFrom(from: number, last: number, limit: number, upto: number): number[] {
    const serials: number[] = [];
    for (let seq = from; seq <= last && serials.length < limit; seq++) {
      const serial = this.idx[this.head + (seq - this.firstSeq)];
      if (serial === undefined || serial > upto) break;
      serials.push(serial);
    }
    return serials;
  }

  /**
   * Those stored since `since` (ms; `storedAtOf` reads it), up to serial `upto`, above
   * serial `base`: the oldest `limit` of them and the first one's seq, whether others
   * follow (`more`), and whether an own entry from before `since` is still held (`bounded`).
   */
  since(since: number, upto: number, limit: number, base: number, storedAtOf: (serial: number) => number): { firstSeq: number; serials: number[]; more: boolean; bounded: boolean } {
    let first = this.idx.length; // the index of the oldest own entry since `since`
    let bounded = false;
    for (let i = this.idx.length - 1; i >= this.head; i--) {
      const serial = this.idx[i]!;
      if (serial > upto) continue;
      if (serial <= base) break;
      if (storedAtOf(serial) < since) {
        bounded = true;
        break;
      }
      first = i;
    }
    const serials: number[] = [];
    let i = first;
    for (; i < this.idx.length && serials.length < limit && this.idx[i]! <= upto; i++) serials.push(this.idx[i]!);
    const more = i < this.idx.length && this.idx[i]! <= upto;
    return { firstSeq: this.firstSeq + (first - this.head), serials, more, bounded };
  }

  /** The own seq reached at serial `serial` (`seq`, the seq so far, when none is held). */
  seqAt(serial: number, seq: number): number {
    for (let i = this.idx.length - 1; i >= this.head; i--) {
      if (this.idx[i]! <= serial) return this.firstSeq + (i - this.head);
    }
    return this.idx.length > this.head ? this.firstSeq - 1 : seq;
  }

  /**
   * Those after seq `afterSeq` in `log` (null: from the first held, an epoch not this
   * one), at most `limit` and `maxBytes`, none beyond serial `upto`; `last` is the own seq
   * so far. `gap`: history no longer reaches back that far.
   */
  after(log: ChannelLog, afterSeq: number | null, last: number, limit: number, upto: number, maxBytes: number): OwnAnswer {
    const firstHeld = this.firstHeld(last + 1);
    let from = afterSeq === null ? firstHeld : afterSeq + 1;
    const gap = afterSeq === null || from < firstHeld;
    if (from < firstHeld) from = firstHeld;
    const serials = log.prefixWithin(this.serialsFrom(from, last, limit, upto), maxBytes);
    return { startSeq: from - 1, gap, entries: forwarded(log, serials, from + serials.length - 1) };
  }

  /** Those stored since `since` (ms) in `log` (`since` above; ChannelState.localSince); `seq` is the own seq so far. */
  storedSince(log: ChannelLog, since: number, upto: number, limit: number, maxBytes: number, seq: number): OwnAnswer & { more: boolean } {
    const found = this.since(since, upto, limit, log.baseSerial, (serial) => log.storedAtOf(serial));
    const { firstSeq, bounded } = found;
    const serials = log.prefixWithin(found.serials, maxBytes);
    const more = found.more || serials.length < found.serials.length;
    const gap = !bounded && log.droppedUpTo >= since;
    if (!serials.length) return { startSeq: this.seqAt(upto, seq), gap, more: false, entries: ForwardedEntries.none };
    return { startSeq: firstSeq - 1, gap, more, entries: forwarded(log, serials, firstSeq + serials.length - 1) };
  }
}

/** Own entries of these serials (ascending), the last at local seq `lastSeq`, as they go to another region. */
function forwarded(log: ChannelLog, serials: readonly number[], lastSeq: number): ForwardedEntries {
  return serials.length ? ForwardedEntries.fromBytes(log.forwarded(serials), serials.length, lastSeq) : ForwardedEntries.none;
}
