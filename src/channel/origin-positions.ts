/**
 * How far a channel's stream has got in each other region's order (the origin seq of the
 * last entry from there), and which of those positions moved with no entry the replica
 * has seen (a start or an answer with none, entries dropped as already held): those go
 * to the replica in the next replication, so a master it becomes does not ask again.
 */
import type { OriginPosition } from '../protocol/serial.js';

export class OriginPositions {
  private readonly byRegion = new Map<string, OriginPosition>();
  private readonly moved = new Set<string>();

  get(region: string): OriginPosition | undefined {
    return this.byRegion.get(region);
  }

  set(region: string, o: OriginPosition): void {
    this.byRegion.set(region, o);
  }

  get size(): number {
    return this.byRegion.size;
  }

  values(): IterableIterator<OriginPosition> {
    return this.byRegion.values();
  }

  /** `region`'s position moved with no entry to show it. */
  markMoved(region: string): void {
    this.moved.add(region);
  }

  /** Whether some position moved with no entry the replica has seen. */
  get hasMoved(): boolean {
    return this.moved.size > 0;
  }

  /** Those positions, for the next replication (and forgets them). */
  takeMoved(): OriginPosition[] {
    const out: OriginPosition[] = [];
    for (const region of this.moved) {
      const o = this.byRegion.get(region);
      if (o) out.push(o);
    }
    this.moved.clear();
    return out;
  }

  /** The replica's side: positions the master's stream moved to with no entry. */
  apply(origins: readonly OriginPosition[]): void {
    for (const o of origins) this.byRegion.set(o.region, o);
  }

  /**
   * Whether this stream lacks messages that `region` says its stream of the channel has
   * (`head`: its last message): where to ask it to resend from (a new epoch of it: from
   * its beginning), 'start' if no stream from it has begun here, or null.
   */
  behind(region: string, head: { epoch: string; seq: number }): { epoch: string; afterSeq: number } | 'start' | null {
    if (head.seq === 0) return null;
    const pos = this.byRegion.get(region);
    if (!pos) return 'start';
    if (pos.epoch !== head.epoch) return { epoch: head.epoch, afterSeq: 0 };
    return pos.seq < head.seq ? { epoch: pos.epoch, afterSeq: pos.seq } : null;
  }
}
