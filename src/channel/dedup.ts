/**
 * The deduplication window of one channel: message ids seen in the last `windowMs`,
 * each with the channelSerial it was stored under, so that a repeated publish is
 * acknowledged with the original serial and never stored twice. Pure: time is passed in.
 */
export class DedupWindow {
  private readonly seen = new Map<string, string>();
  /** Insertion order = time order, so expiry pops from the front (two arrays: no object per id). */
  private ids: string[] = [];
  private ats: number[] = [];
  private head = 0;

  get size(): number {
    return this.seen.size;
  }

  lookup(id: string): string | undefined {
    return this.seen.get(id);
  }

  /** Remembers an id (if it is already known, the first serial stays). */
  add(id: string, channelSerial: string, at: number): void {
    if (this.seen.has(id)) return;
    this.addNew(id, channelSerial, at);
  }

  /** Remembers an id the caller has just looked up and not found (one hash lookup fewer). */
  addNew(id: string, channelSerial: string, at: number): void {
    this.seen.set(id, channelSerial);
    this.ids.push(id);
    this.ats.push(at);
  }

  expire(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    while (this.head < this.ids.length && this.ats[this.head]! < cutoff) {
      this.seen.delete(this.ids[this.head]!);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries in time order, for replication and handoff. */
  entries(): { id: string; channelSerial: string; at: number }[] {
    const out: { id: string; channelSerial: string; at: number }[] = [];
    for (let i = this.head; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      out.push({ id, channelSerial: this.seen.get(id)!, at: this.ats[i]! });
    }
    return out;
  }
}
