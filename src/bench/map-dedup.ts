/**
 * The deduplication window as it was before it moved off the JS heap (channel/dedup.ts):
 * ids, serials and times in three JS arrays, indexed by a Map on the first lookup. Kept
 * as the baseline of `dedup-window.ts` (the same operations, in the same run) and as the
 * model that test/unit/channel/dedup-model.test.ts checks the current window against.
 */
export class MapDedupWindow {
  /** id → the serial of its first slot in the window; covers the slots before `indexed`. */
  private readonly seen = new Map<string, string>();
  /** Slots in time order (three arrays: no object per id); those before `head` have expired. */
  private ids: string[] = [];
  private serials: string[] = [];
  private ats: number[] = [];
  private head = 0;
  /** Slots before this one are in `seen` (or were repeats of an id already there). */
  private indexed = 0;

  /** Ids in the window (indexes what is pending first). */
  get size(): number {
    this.index();
    return this.seen.size;
  }

  /** No id in the window (without indexing). */
  get empty(): boolean {
    return this.head === this.ids.length;
  }

  lookup(id: string): string | undefined {
    this.index();
    return this.seen.get(id);
  }

  /** Remembers an id (if it is already known, the first serial stays). Indexed on the next lookup. */
  add(id: string, channelSerial: string, at: number): void {
    this.ids.push(id);
    this.serials.push(channelSerial);
    this.ats.push(at);
  }

  /** Remembers an id the caller has just looked up and not found. */
  addNew(id: string, channelSerial: string, at: number): void {
    this.index();
    this.seen.set(id, channelSerial);
    this.add(id, channelSerial, at);
    this.indexed = this.ids.length;
  }

  expire(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    while (this.head < this.ids.length && this.ats[this.head]! < cutoff) {
      // Only the slot an id's entry came from removes it: a repeat of the id (same
      // serial) or a newer publish of it (another serial) may still be in the window.
      if (this.head < this.indexed) {
        const id = this.ids[this.head]!;
        if (this.seen.get(id) === this.serials[this.head]) this.seen.delete(id);
      }
      this.head++;
    }
    if (this.indexed < this.head) this.indexed = this.head;
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.serials = this.serials.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.indexed -= this.head;
      this.head = 0;
    }
  }

  /** Entries in time order, one per id (its first slot), for replication and handoff. */
  entries(): { id: string; channelSerial: string; at: number }[] {
    this.index();
    const out: { id: string; channelSerial: string; at: number }[] = [];
    const listed = new Set<string>();
    for (let i = this.head; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      if (listed.has(id) || this.seen.get(id) !== this.serials[i]) continue;
      listed.add(id);
      out.push({ id, channelSerial: this.serials[i]!, at: this.ats[i]! });
    }
    return out;
  }

  private index(): void {
    for (let i = this.indexed; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      if (!this.seen.has(id)) this.seen.set(id, this.serials[i]!);
    }
    this.indexed = this.ids.length;
  }
}
