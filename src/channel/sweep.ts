/**
 * Periodic housekeeping over many keys in slices: every key is visited once per round,
 * a slice per call, so no single event-loop turn walks them all. With 10,000 channels
 * a node's whole-registry pass took several milliseconds at once each second, and
 * every message that arrived meanwhile waited for it. Pure: the caller's timer drives it.
 */
export class SliceSweep<K> {
  private keys: K[] = [];
  private next = 0;

  constructor(
    /** The keys as they are when a round starts. */
    private readonly source: () => Iterable<K>,
    /** Slices per round. */
    readonly slices: number,
  ) {}

  /** The next slice; a round starts over from a fresh list of keys when the last one ended. */
  slice(): K[] {
    if (this.next >= this.keys.length) {
      this.keys = [...this.source()];
      this.next = 0;
    }
    const n = Math.ceil(this.keys.length / this.slices);
    const out = this.keys.slice(this.next, this.next + n);
    this.next += n;
    return out;
  }
}

/** Drops the oldest entries (insertion order) of `map` beyond `max`. */
export function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  let drop = map.size - max;
  for (const k of map.keys()) {
    if (drop-- <= 0) break;
    map.delete(k);
  }
}
