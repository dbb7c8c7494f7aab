/**
 * A presence set's holds: when a connection's members leave, as the nodes that held or
 * hold the connection say (src/channel/presence.ts).
 */
import { describe, expect, it } from 'vitest';
import { PresenceSet } from '../../../src/channel/presence.js';
import { PresenceAction } from '../../../src/protocol/actions.js';

function entered(host: string, since = 0): PresenceSet {
  const set = new PresenceSet();
  set.apply({ id: 'c1:0:0', action: PresenceAction.ENTER, clientId: 'm', connectionId: 'c1', timestamp: 1 }, host, since);
  return set;
}

describe('PresenceSet holds', () => {
  it('keeps a member whose connection came back on another node, when the old node’s word that it dropped comes after', () => {
    // n1 lost its clients when it was cut off from its region; the client resumed on n2,
    // which said so; n1's word, held up while it was cut off, arrives after (chaos seed 1220).
    const set = entered('n1');
    expect(set.hold('c1', 'n2', null)).toBe('changed');
    expect(set.hold('c1', 'n1', 15_000)).toBe('same');
    expect(set.due(20_000)).toEqual([]);
    expect(set.snapshot()[0]).toMatchObject({ host: 'n2', leaveAt: null });
  });

  it('lets any node say a member leaves at once (its client closed or detached there)', () => {
    const set = entered('n1');
    expect(set.hold('c1', 'n2', 5_000, { now: true })).toBe('changed');
    expect(set.due(5_000).map((m) => m.message.clientId)).toEqual(['m']);
  });

  it('lets the node that holds the connection, or the death of its node, say it will leave', () => {
    const set = entered('n1');
    expect(set.hold('c1', 'n1', 15_000)).toBe('changed');
    expect(set.due(15_000).map((m) => m.message.clientId)).toEqual(['m']);
    // Back on n2: stays; then n2's node dies (no node says it: host null).
    expect(set.hold('c1', 'n2', null)).toBe('changed');
    expect(set.due(20_000)).toEqual([]);
    expect(set.hold('c1', null, 30_000)).toBe('changed');
    expect(set.due(30_000).map((m) => m.message.clientId)).toEqual(['m']);
  });

  describe('with the connection\'s version at each node (since)', () => {
    it('keeps the members with the node the connection resumed on, whatever the node it left says after it', () => {
      // Chaos seed 3841: n1 (the connection's version there: 100) was cut off from its
      // region. Before it lost quorum it said its members were here (a ring change); that
      // word waited for the link. It then dropped its clients and said they would leave.
      // The client resumed on n2 (version 200), which said so. Then n1 came back, and both
      // of its words arrived: the first took the members back, the second then applied.
      const set = entered('n1', 100);
      expect(set.hold('c1', 'n2', null, { since: 200 })).toBe('changed');
      expect(set.hold('c1', 'n1', null, { since: 100 })).toBe('stale');
      expect(set.hold('c1', 'n1', 15_000, { since: 100 })).toBe('stale');
      // Nor a leave at once (or one already due) from it.
      expect(set.hold('c1', 'n1', 15_000, { since: 100, now: true })).toBe('stale');
      expect(set.due(20_000)).toEqual([]);
      expect(set.snapshot()[0]).toMatchObject({ host: 'n2', leaveAt: null, since: 200 });
      // n2 saying it again, at its own version, changes nothing and is not stale.
      expect(set.hold('c1', 'n2', null, { since: 200 })).toBe('same');
    });

    it('takes the word of the node the connection moved to, whichever it says first', () => {
      // n2 took the connection, and lost it again before its word that the members were
      // back arrived: its leave applies, and moves the members to it.
      const set = entered('n1', 100);
      expect(set.hold('c1', 'n2', 15_000, { since: 200 })).toBe('changed');
      expect(set.snapshot()[0]).toMatchObject({ host: 'n2', leaveAt: 15_000, since: 200 });
      // At the same version, the host's own word still rules.
      expect(set.hold('c1', 'n2', null, { since: 200 })).toBe('changed');
      expect(set.due(20_000)).toEqual([]);
    });

    it('falls back to the host rule where a version is not known (a member from a build before it)', () => {
      const set = entered('n1');
      expect(set.hold('c1', 'n2', null, { since: 200 })).toBe('changed');
      expect(set.hold('c1', 'n1', 15_000, { since: 100 })).toBe('stale');
      expect(set.snapshot()[0]).toMatchObject({ host: 'n2', leaveAt: null, since: 200 });
      // From here on the version is known, so the old node's stay no longer takes the members back.
      expect(set.hold('c1', 'n1', null, { since: 100 })).toBe('stale');
    });

    it('a replica mirrors what its master did, whatever its own copy says', () => {
      const set = entered('n1', 200);
      expect(set.mirror([{ connectionId: 'c1', host: 'n1', leaveAt: 15_000, since: 100 }])).toBe(1);
      expect(set.snapshot()[0]).toMatchObject({ leaveAt: 15_000, since: 200 });
    });
  });
});

describe('PresenceSet.sizeAfter', () => {
  const op = (clientId: string, action: number) => ({ id: `c1:1:${clientId}`, action, clientId, connectionId: 'c1', timestamp: 2 });
  it('counts the members after ops in order: new enters add, leaves of members take away, repeats and leaves of no one do nothing', () => {
    const set = entered('n1'); // m
    expect(set.sizeAfter([])).toBe(1);
    expect(set.sizeAfter([op('a', PresenceAction.ENTER), op('b', PresenceAction.UPDATE)])).toBe(3);
    expect(set.sizeAfter([op('m', PresenceAction.ENTER), op('m', PresenceAction.UPDATE)])).toBe(1);
    expect(set.sizeAfter([op('a', PresenceAction.ENTER), op('a', PresenceAction.LEAVE), op('a', PresenceAction.ENTER)])).toBe(2);
    expect(set.sizeAfter([op('m', PresenceAction.LEAVE), op('x', PresenceAction.LEAVE)])).toBe(0);
  });
});
