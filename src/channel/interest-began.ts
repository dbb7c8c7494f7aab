/**
 * When this region's interest in a channel began (ms; 0: no subscriber here), as the
 * channel's master last knew it. It travels with the channel's state, in snapshots
 * (handoff, claims, a replica's first sync) and in replication when it changes, so a
 * master that takes the channel over asks other regions for the start of their streams
 * from when interest really began here: not from its own takeover, which would skip
 * what they published in between, nor from the beginning of their history, which would
 * deliver messages older than every subscriber.
 */
export class InterestBegan {
  private at = 0;
  private moved = false;

  get since(): number {
    return this.at;
  }

  /** The master's change: the replica is told at the next replication. */
  set(at: number): void {
    if (at === this.at) return;
    this.at = at;
    this.moved = true;
  }

  get hasMoved(): boolean {
    return this.moved;
  }

  /** The value to replicate, once per change (undefined: unchanged since last taken). */
  takeMoved(): number | undefined {
    if (!this.moved) return undefined;
    this.moved = false;
    return this.at;
  }

  /** The replica's side (and a restored snapshot): the master's value, nothing to pass on. */
  apply(at: number): void {
    this.at = at;
  }
}
