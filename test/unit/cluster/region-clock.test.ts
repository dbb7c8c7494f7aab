/**
 * RegionClock: the region's time, the furthest-on wall clock of its nodes as heartbeats
 * tell it, going on with the monotonic clock and never back (src/cluster/region-clock.ts).
 */
import { describe, expect, it } from 'vitest';
import { MAX_AHEAD_MS, RegionClock } from '../../../src/cluster/region-clock.js';

/** A node's clocks, moved by hand (its wall clock and its monotonic one), in a region of `size` nodes. */
function clocks(wall = 1_000_000, size = 3) {
  const c = { wall, mono: 50 };
  return {
    c,
    tick: (ms: number) => {
      c.wall += ms;
      c.mono += ms;
    },
    clock: new RegionClock({ wall: () => c.wall, mono: () => c.mono, regionSize: () => size }),
  };
}

describe('RegionClock', () => {
  it("is the node's own wall clock until a peer's is further on, then follows that one", () => {
    const { c, tick, clock } = clocks();
    expect(clock.now()).toBe(1_000_000);
    // A peer behind, or one that says no time (an older build): nothing moves.
    expect(clock.heard('b', 995_000)).toBe(0);
    expect(clock.heard('b', 0)).toBe(0);
    expect(clock.now()).toBe(1_000_000);
    // A peer 6 s on: the region's time is its.
    expect(clock.heard('c', 1_006_000)).toBe(6000);
    expect(clock.now()).toBe(1_006_000);
    tick(1000);
    // Ahead of its own clock, it goes slower until c's next heartbeat takes it on again.
    expect(clock.now()).toBe(1_006_900);
    expect(clock.heard('c', 1_007_000)).toBeCloseTo(100);
    expect(clock.status()).toEqual({ aheadMs: 6000, notFollowed: [] });
    // Its heartbeat coming back, behind by its way across: no further.
    expect(clock.heard('c', 1_006_990)).toBe(0);
    expect(c.wall).toBe(1_001_000);
  });

  it("never goes back: after a step back of the node's wall clock it goes on, slower, until it meets it; a step forward takes it on", () => {
    const { c, tick, clock } = clocks();
    tick(500);
    expect(clock.now()).toBe(1_000_500);
    c.wall -= 10_000; // NTP steps it back
    tick(500);
    // Ahead of the wall clock: 0.9 of the rate.
    expect(clock.now()).toBe(1_000_500 + 450);
    c.wall += 30_000; // and 20 s past where it was
    expect(clock.now()).toBe(1_021_000);
    tick(1);
    expect(clock.now()).toBe(1_021_001);
  });

  it('comes back to its wall clock once the clock that was furthest on is set right: 10 s in 100 s, never back', () => {
    const { c, tick, clock } = clocks();
    expect(clock.heard('b', 1_010_000)).toBe(10_000); // b's clock 10 s on; then b is set right (or gone)
    let last = clock.now();
    for (let i = 0; i < 100; i++) {
      tick(1000);
      const t = clock.now();
      expect(t).toBeGreaterThan(last);
      last = t;
    }
    expect(clock.status().aheadMs).toBe(0);
    tick(1000);
    expect(clock.now()).toBe(c.wall);
  });

  it('does not follow a node further on than MAX_AHEAD_MS, and names it, unless more than half of the region is that far on', () => {
    const { tick, clock } = clocks();
    expect(clock.heard('d', 1_000_000 + MAX_AHEAD_MS + 1)).toBe(-(MAX_AHEAD_MS + 1));
    expect(clock.heard('d', 1_000_000 + 24 * 3600_000)).toBe(-24 * 3600_000);
    expect(clock.heard('e', 1_000_000)).toBe(0);
    expect(clock.now()).toBe(1_000_000);
    expect(clock.status()).toEqual({ aheadMs: 0, notFollowed: [{ node: 'd', aheadMs: 24 * 3600_000 }] });
    // In a region of three, this node and e against d: d is the one that is wrong. Once e
    // too is a minute on (this node was started with its clock a minute back), this node
    // is: it goes on from the nearer of the two.
    tick(100);
    expect(clock.heard('e', 1_000_100 + 60_000)).toBe(60_000);
    expect(clock.now()).toBe(1_060_100);
    expect(clock.status().notFollowed).toEqual([{ node: 'd', aheadMs: 24 * 3600_000 - 60_000 }]);
    // A peer not heard for 10 s no longer counts.
    tick(10_001);
    expect(clock.heard('f', clock.now() + 1000)).toBeCloseTo(1000, -1);
    expect(clock.status().notFollowed).toEqual([]);
  });

  it('counts the majority among all the region\'s nodes, not only those heard: two of five far on are not followed', () => {
    const { clock } = clocks(1_000_000, 5);
    expect(clock.heard('b', 1_060_000)).toBe(-60_000);
    expect(clock.heard('c', 1_060_000)).toBe(-60_000);
    expect(clock.now()).toBe(1_000_000);
    // A third of the five: now more than half of the region is a minute on.
    expect(clock.heard('d', 1_060_000)).toBe(60_000);
  });

  it('gives whole milliseconds', () => {
    const { c, clock } = clocks();
    c.mono = 50.75;
    expect(Number.isInteger(clock.now())).toBe(true);
  });
});
