/**
 * Where a channel's stream told its subscribers that messages from another region were
 * lost (90003: the origin's history no longer covered them, or the origin went on from
 * an old copy). The master says so in the broadcast that follows the loss; but a node
 * that missed that broadcast (paused, cut off, subscribing again after its master moved)
 * catches up from history, where the serials run on without a hole, and a client that
 * resumes across the loss is answered from history too. So the channel keeps each such
 * point with its history (replicated, and in every snapshot), and range reads return the
 * points they cross: whoever catches up across one is told as well.
 */
import type { ErrorInfo } from '../errors.js';
import type { OriginPosition } from '../protocol/serial.js';

/** Messages were lost before the entry with this serial (or before the next one, if none has it yet). */
export interface Gap {
  serial: number;
  error: ErrorInfo;
  /**
   * Whose: that origin's messages, up to this seq of its (where its stream here had got
   * with the loss). A client that saw that origin as far elsewhere lost nothing here.
   * Absent in points an older node recorded.
   */
  origin?: OriginPosition;
}

/** More are not kept (the oldest go first): each is a rare event, and old ones matter to few. */
const MAX_GAPS = 64;

export class Gaps {
  private list: Gap[] = [];
  /** Added since the last replication (unreplicated.ts). */
  private fresh: Gap[] = [];

  add(gap: Gap): void {
    if (this.list.some((x) => x.serial === gap.serial)) return; // said once at that point
    this.keep(gap);
    this.fresh.push(gap);
  }

  /** The point just before `serial`, if there is one. */
  at(serial: number): Gap | undefined {
    return this.list.length ? this.list.find((g) => g.serial === serial) : undefined;
  }

  /** The points a read of (after, upto] crosses, oldest first. */
  within(after: number, upto: number): Gap[] {
    return this.list.filter((g) => g.serial > after && g.serial <= upto);
  }

  /** Drops the points at or below `base`: history no longer reaches them. */
  trim(base: number): void {
    if (this.list.length && this.list[0]!.serial <= base) this.list = this.list.filter((g) => g.serial > base);
  }

  get hasMoved(): boolean {
    return this.fresh.length > 0;
  }

  /** Points added since the last call, for the replica. */
  takeMoved(): Gap[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** The replica's side of takeMoved, and a snapshot's. */
  apply(gaps: readonly Gap[]): void {
    for (const g of gaps) if (!this.list.some((x) => x.serial === g.serial)) this.keep(g);
  }

  all(): Gap[] {
    return [...this.list];
  }

  private keep(gap: Gap): void {
    this.list.push(gap);
    this.list.sort((a, b) => a.serial - b.serial);
    if (this.list.length > MAX_GAPS) this.list.shift();
  }
}
