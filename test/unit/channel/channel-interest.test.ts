import { describe, expect, it } from 'vitest';
import { ChannelInterest } from '../../../src/channel/channel-interest.js';

describe('a channel\'s interest, as replication carries it', () => {
  it("gives other regions' interest to the replica whole, once per change, and not for the same word again", () => {
    const i = new ChannelInterest();
    expect(i.setRemote(new Map([['us', 5], ['ap', 7]]))).toBe(true);
    expect(i.takeMoved()).toEqual({ remoteInterest: [{ region: 'us', since: 5 }, { region: 'ap', since: 7 }] });
    expect(i.takeMoved()).toEqual({});
    // The same regions and starts, in another order: nothing to tell.
    expect(i.setRemote(new Map([['ap', 7], ['us', 5]]))).toBe(false);
    expect(i.hasMoved).toBe(false);
    // A start that changed (interest begun again), or a region gone, is a change.
    expect(i.setRemote(new Map([['ap', 9], ['us', 5]]))).toBe(true);
    i.takeMoved();
    expect(i.setRemote(new Map([['ap', 9]]))).toBe(true);
    expect(i.takeMoved()).toEqual({ remoteInterest: [{ region: 'ap', since: 9 }] });
    expect(i.setRemote(new Map())).toBe(true);
    expect(i.takeMoved()).toEqual({ remoteInterest: [] });
  });

  it("gives this region's interest start and other regions' together, and the replica takes both", () => {
    const master = new ChannelInterest();
    master.set(100);
    master.setRemote(new Map([['us', 5]]));
    const replica = new ChannelInterest();
    replica.apply(master.takeMoved());
    expect([replica.since, replica.remoteList]).toEqual([100, [{ region: 'us', since: 5 }]]);
    // Only this region's start changed: the other regions' interest the replica holds stays.
    master.set(0);
    replica.apply(master.takeMoved());
    expect([replica.since, replica.remoteList]).toEqual([0, [{ region: 'us', since: 5 }]]);
  });

  it("remembers for ten minutes when another region's ended or restarted interest had begun: the earliest", () => {
    const i = new ChannelInterest();
    expect(i.earliestSince('us', 0)).toBeUndefined();
    i.setRemote(new Map([['us', 1000]]), 1000);
    expect(i.earliestSince('us', 1000)).toBe(1000);
    i.setRemote(new Map(), 5000); // ended
    expect(i.earliestSince('us', 5000)).toBe(1000);
    i.setRemote(new Map([['us', 9000]]), 9000); // began again
    expect(i.earliestSince('us', 9000)).toBe(1000);
    i.setRemote(new Map([['us', 12_000]]), 12_000); // a later word on when (the earlier is kept)
    expect(i.earliestSince('us', 12_000)).toBe(1000);
    // Ten minutes after it last changed, only the interest now counts.
    expect(i.earliestSince('us', 12_000 + 10 * 60_000 + 1)).toBe(12_000);
    i.setRemote(new Map(), 12_000 + 10 * 60_000 + 1);
    expect(i.earliestSince('us', 12_000 + 20 * 60_000 + 2)).toBeUndefined();
  });

  it("keeps other regions' clock offsets, reads their times on this region's clock, and gives both to the replica", () => {
    const master = new ChannelInterest();
    master.setRemote(new Map([['us', 10_000], ['ap', 20_000]]));
    master.takeMoved();
    // us's clock is 6 s ahead of ours; ap's not measured (an older build): taken as 0.
    expect(master.setClocks([{ region: 'us', since: 10_000, offsetMs: 6000 }, { region: 'ap', since: 20_000 }])).toBe(true);
    expect(master.onOurClock('us', 10_000)).toBe(4000);
    expect(master.onOurClock('ap', 20_000)).toBe(20_000);
    expect(master.earliestSince('us')).toBe(4000);
    expect(master.takeMoved()).toEqual({ remoteInterest: [{ region: 'us', since: 10_000, offsetMs: 6000 }, { region: 'ap', since: 20_000 }] });
    // A measure that wavers within 250 ms is not a change; one beyond it is.
    expect(master.setClocks([{ region: 'us', since: 10_000, offsetMs: 6200 }])).toBe(false);
    expect(master.hasMoved).toBe(false);
    expect(master.setClocks([{ region: 'us', since: 10_000, offsetMs: 5700 }])).toBe(true);
    const replica = new ChannelInterest();
    replica.apply(master.takeMoved());
    expect(replica.remoteList).toEqual([{ region: 'us', since: 10_000, offsetMs: 5700 }, { region: 'ap', since: 20_000 }]);
    expect(replica.earliestSince('us')).toBe(4300);
    // Kept past the interest's end: the ended interest's start is still read on our clock.
    master.setRemote(new Map([['ap', 20_000]]), 50_000);
    expect(master.earliestSince('us', 60_000)).toBe(4300);
  });
});
