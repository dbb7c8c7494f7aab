/**
 * The region's time: the furthest-on wall clock of the region's nodes, as a hybrid
 * logical clock keeps it. Times one node stamps are read by others: when this region's
 * interest in a channel began (stamped by the channel's master, read in another region
 * against this one's offset, which the globalmasters measure), when a message was stored
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
 * as the heartbeat came. So the region's nodes agree to within the mesh's one-way delay (a
 * heartbeat's time is behind by its way across, so heartbeats going round do not push the
 * time on by themselves), and it never goes back: a node whose wall clock is stepped back
 * goes on from where the region was. While it is ahead of the node's own wall clock it
 * goes at `1 - SLEW` of the rate, as NTP slews a clock, until it meets it: once the clock
 * that was furthest on is set right (or its node is gone), the region's time comes back to
 * its clocks (10 s in 100 s), where holding the furthest it ever was would keep a step
 * forward for good. A peer more than `MAX_AHEAD_MS` ahead is followed only where more than
 * half of the region's nodes are that far ahead (this node's clock is then the wrong one);
 * `status()` names the others.
 */
import type { Clock } from '../clock.js';
import { LogThrottle, type Logger } from '../log.js';

/**
 * How far ahead (ms) of this node's region time a peer's may be for it to follow. What a
 * client sees moves with the region's time (message timestamps, `/time`, the ±2 minutes a
 * signed TokenRequest's timestamp may be from it, a JWT's expiry), so one node's clock
 * set minutes wrong must not take the region with it; past this it goes its own way, as
 * every node did before the forty-second session.
 */
export const MAX_AHEAD_MS = 30_000;

/** A move of the region's time this large (ms) or more is logged: a peer's clock is that far on. */
const MOVE_LOGGED_MS = 1000;
/** A peer too far ahead to follow is warned of at most this often (ms, per peer). */
const WARN_EVERY_MS = 60_000;
/** A peer's time counts (for the majority rule) this long after its last heartbeat (ms, monotonic). */
const PEER_FRESH_MS = 10_000;
/** How much slower the region's time goes while it is ahead of this node's wall clock. */
export const SLEW = 0.1;

export class RegionClock implements Clock {
  /** The region's time (ms, not rounded), as of `at` on the monotonic clock. */
  private t: number;
  private at: number;
  /** Each peer's region time less our monotonic clock, as its last heartbeat came, and when (monotonic). */
  private readonly peers = new Map<string, { base: number; at: number }>();
  private readonly wall: () => number;
  private readonly mono: () => number;
  /** How many nodes the region has, this one counted (the majority rule). */
  private readonly regionSize: () => number;
  private readonly log: Pick<Logger, 'info' | 'warn'> | null;
  private readonly warnings = new LogThrottle(WARN_EVERY_MS);

  constructor(o: { wall?: () => number; mono?: () => number; regionSize: () => number; log?: Pick<Logger, 'info' | 'warn'> }) {
    this.wall = o.wall ?? Date.now;
    this.mono = o.mono ?? (() => performance.now());
    this.regionSize = o.regionSize;
    this.log = o.log ?? null;
    this.t = this.wall();
    this.at = this.mono();
  }

  now(): number {
    const m = this.mono();
    const w = this.wall();
    const dt = m - this.at;
    this.at = m;
    // At `1 - SLEW` of the rate, but never behind the wall clock: while they meet, the wall clock's.
    this.t = Math.max(this.t + dt * (1 - SLEW), w);
    // Whole ms, as the wall clock's are (timestamps, terms and the wire want integers).
    return Math.floor(this.t);
  }

  /**
   * A heartbeat from `node` said its region time was `theirs` (0: a build before this
   * one, which says none). Returns how far it moved ours on (ms; 0: not at all; negative:
   * how far it is ahead, too far to follow).
   *
   * A peer up to MAX_AHEAD_MS ahead is followed. One further ahead is followed only where
   * more than half of the region's nodes, heard in the last 10 s, are that far ahead of
   * this one, whose clock is then the wrong one (started with it far back, say): it goes on
   * from the nearest of that majority.
   */
  heard(node: string, theirs: number): number {
    if (theirs <= 0) return 0;
    this.now();
    const m = this.at;
    this.peers.set(node, { base: theirs - m, at: m });
    for (const [n, p] of this.peers) if (m - p.at > PEER_FRESH_MS) this.peers.delete(n);
    const aheads = this.aheads();
    const near = aheads.find((a) => a <= MAX_AHEAD_MS) ?? 0;
    const majority = aheads[Math.floor(this.regionSize() / 2)];
    const to = majority !== undefined && majority > MAX_AHEAD_MS ? majority : near;
    if (to > 0) {
      this.t += to;
      if (to >= MOVE_LOGGED_MS) this.log?.info({ peer: node, movedMs: Math.round(to) }, "region time moved on: a peer's clock is further on than this node's");
      return to;
    }
    const mine = theirs - this.t;
    if (mine <= MAX_AHEAD_MS) return 0;
    if (this.log && this.warnings.due(node)) this.log.warn({ peer: node, aheadMs: Math.round(mine), maxMs: MAX_AHEAD_MS }, "a peer's clock is too far ahead to follow: check its NTP");
    return -mine;
  }

  /** How far the region's time is ahead of this node's wall clock, and the peers too far ahead to follow. */
  status(): { aheadMs: number; notFollowed: { node: string; aheadMs: number }[] } {
    const now = this.now();
    const notFollowed = [...this.peers]
      .map(([node, p]) => ({ node, aheadMs: Math.round(p.base + this.at - this.t) }))
      .filter((p) => p.aheadMs > MAX_AHEAD_MS)
      .sort((a, b) => a.node.localeCompare(b.node));
    return { aheadMs: Math.round(now - this.wall()), notFollowed };
  }

  /** How far each fresh peer's time is ahead of ours (ms), furthest first. */
  private aheads(): number[] {
    return [...this.peers.values()].map((p) => p.base + this.at - this.t).sort((a, b) => b - a);
  }
}
