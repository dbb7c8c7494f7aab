/**
 * The region's time: the furthest-on wall clock of the region's nodes, as a hybrid
 * logical clock keeps it. Times one node stamps are read by others: when this region's
 * interest in a channel began (stamped by the channel's master, read in another region
 * against this one's offset, which the globalmaster measures), when a message was stored
 * (stamped by whichever node was master then), a member's leave time, a connection
 * record's expiry, a channel's mastership terms. Each node stamping them with its own
 * clock, nodes whose clocks disagreed read them wrong by as much: a channel master 6 s
 * ahead of its globalmaster stamped its region's interest 6 s late, the origin's master
 * read its start from 4 s after the interest began, and what was published while word of
 * the interest crossed was lost without a word (chaos, before the forty-second session:
 * 14 messages over a 150 ms link).
 *
 * Every heartbeat carries the sender's region time. A node's region time goes on with its
 * monotonic clock from the furthest it has been: its own wall clock, or a heartbeat's time
 * as the heartbeat came. So it never goes back (a node whose wall clock is stepped back
 * goes on from where the region was), the region's nodes agree to within the mesh's
 * one-way delay (a heartbeat's time is behind by its way across, so heartbeats going round
 * do not push the time on by themselves), and the region follows its furthest-on clock,
 * also one stepped forward, and stays with it. A node more than `MAX_AHEAD_MS` ahead is not
 * followed (a clock set a day wrong must not take the region's timestamps with it):
 * `status()` names it.
 */
import type { Clock } from '../clock.js';

/**
 * How far ahead (ms) of this node's region time a peer's may be for it to follow. What a
 * client sees moves with the region's time (message timestamps, `/time`, the ±2 minutes a
 * signed TokenRequest's timestamp may be from it, a JWT's expiry), so one node's clock
 * set minutes wrong must not take the region with it; past this it goes its own way, as
 * every node did before the forty-second session.
 */
export const MAX_AHEAD_MS = 30_000;

/** A peer's time counts (for the majority rule) this long after its last heartbeat (ms, monotonic). */
const PEER_FRESH_MS = 10_000;

export class RegionClock implements Clock {
  /** The region time minus the monotonic clock, at its furthest yet. */
  private base: number;
  /** Each peer's region time minus our monotonic clock, as its last heartbeat came, and when (monotonic). */
  private readonly peers = new Map<string, { base: number; at: number }>();

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
  ) {
    this.base = this.wall() - this.mono();
  }

  now(): number {
    const m = this.mono();
    const wall = this.wall();
    if (wall - m > this.base) this.base = wall - m;
    // Whole ms, as the wall clock's are (timestamps, terms and the wire want integers).
    return Math.floor(m + this.base);
  }

  /**
   * A heartbeat from `node` said its region time was `theirs` (0: a build before this
   * one, which says none). Returns how far it moved ours on (ms; 0: not at all; negative:
   * how far it is ahead, too far to follow).
   *
   * A peer up to MAX_AHEAD_MS ahead is followed. One further ahead is followed only where
   * a majority of the region (this node counted) is that far ahead of this node, which is
   * then the one whose clock is wrong (restarted with its clock far back, say): it goes on
   * from the nearest of them.
   */
  heard(node: string, theirs: number): number {
    if (theirs <= 0) return 0;
    this.now();
    const m = this.mono();
    this.peers.set(node, { base: theirs - m, at: m });
    for (const [n, p] of this.peers) if (m - p.at > PEER_FRESH_MS) this.peers.delete(n);
    const aheads = this.aheads();
    const near = aheads.find((a) => a <= MAX_AHEAD_MS) ?? 0;
    const majority = aheads[Math.floor((aheads.length + 1) / 2)];
    const to = majority !== undefined && majority > MAX_AHEAD_MS ? majority : near;
    if (to > 0) {
      this.base += to;
      return to;
    }
    const mine = this.peers.get(node)!.base - this.base;
    return mine > MAX_AHEAD_MS ? -mine : 0;
  }

  /** How far the region's time is ahead of this node's wall clock, and the peers too far ahead to follow. */
  status(): { aheadMs: number; notFollowed: { node: string; aheadMs: number }[] } {
    this.now();
    const notFollowed = [...this.peers]
      .map(([node, p]) => ({ node, aheadMs: Math.round(p.base - this.base) }))
      .filter((p) => p.aheadMs > MAX_AHEAD_MS)
      .sort((a, b) => a.node.localeCompare(b.node));
    return { aheadMs: Math.round(this.now() - this.wall()), notFollowed };
  }

  /** How far each fresh peer's time is ahead of ours (ms), furthest first. */
  private aheads(): number[] {
    return [...this.peers.values()].map((p) => p.base - this.base).sort((a, b) => b - a);
  }
}
