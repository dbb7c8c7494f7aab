/**
 * Where this region's own entries are in a channel's history: their serials by their local
 * seq (contiguous; entry i has seq `firstSeq + i - head`). Lets another region's replay
 * request find "everything we accepted after seq N", or since a time, without scanning the
 * log. A queue with a head index, compacted now and then.
 */
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
}
