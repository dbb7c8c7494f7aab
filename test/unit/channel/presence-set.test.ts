/**
 * A presence set's holds: when a connection's members leave, as the nodes that held or
 * hold the connection say (src/channel/presence.ts).
 */
import { describe, expect, it } from 'vitest';
import { PresenceSet } from '../../../src/channel/presence.js';
import { PresenceAction } from '../../../src/protocol/actions.js';

function entered(host: string): PresenceSet {
  const set = new PresenceSet();
  set.apply({ id: 'c1:0:0', action: PresenceAction.ENTER, clientId: 'm', connectionId: 'c1', timestamp: 1 }, host);
  return set;
}

describe('PresenceSet holds', () => {
  it('keeps a member whose connection came back on another node, when the old node’s word that it dropped comes after', () => {
    // n1 lost its clients when it was cut off from its region; the client resumed on n2,
    // which said so; n1's word, held up while it was cut off, arrives after (chaos seed 1220).
    const set = entered('n1');
    expect(set.hold('c1', 'n2', null)).toBe(true);
    expect(set.hold('c1', 'n1', 15_000)).toBe(false);
    expect(set.due(20_000)).toEqual([]);
    expect(set.snapshot()[0]).toMatchObject({ host: 'n2', leaveAt: null });
  });

  it('lets any node say a member leaves at once (its client closed or detached there)', () => {
    const set = entered('n1');
    expect(set.hold('c1', 'n2', 5_000, true)).toBe(true);
    expect(set.due(5_000).map((m) => m.message.clientId)).toEqual(['m']);
  });

  it('lets the node that holds the connection, or the death of its node, say it will leave', () => {
    const set = entered('n1');
    expect(set.hold('c1', 'n1', 15_000)).toBe(true);
    expect(set.due(15_000).map((m) => m.message.clientId)).toEqual(['m']);
    // Back on n2: stays; then n2's node dies (no node says it: host null).
    expect(set.hold('c1', 'n2', null)).toBe(true);
    expect(set.due(20_000)).toEqual([]);
    expect(set.hold('c1', null, 30_000)).toBe(true);
    expect(set.due(30_000).map((m) => m.message.clientId)).toEqual(['m']);
  });
});
