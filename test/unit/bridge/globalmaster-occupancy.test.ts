/**
 * Another region's occupancy word goes to the channel's master here and to its replica:
 * where this node's ring still has a master that just died, the replica is the master
 * now, and the word (an answer to its ask) is not lost (occupancy-board.ts).
 */
import { describe, expect, it } from 'vitest';
import { Ring } from '../../../src/cluster/ring.js';
import { FakeCall, PEER_HELLO as hello, testGlobalmaster } from '../../helpers/fake-link.js';
import { waitFor } from '../../helpers/wait.js';

describe('Globalmaster and occupancy words', () => {
  it("sends another region's word to the channel's master and its replica here, once each", async () => {
    const ring = new Ring(['n1', 'n2', 'n3']);
    const channel = 'app:o0';
    expect([ring.owner('__globalmaster'), ring.owner(channel), ring.replica(channel)]).toEqual(['n1', 'n2', 'n3']);
    const g = testGlobalmaster({} as never, { ring: () => ring });
    await g.open();
    const call = new FakeCall();
    g.accept(call);
    call.from(hello);
    g.sent.length = 0;
    call.from({ type: 'occupancy', channel, counts: { connections: 2, publishers: 1, subscribers: 2, presenceConnections: 0, presenceMembers: 0, presenceSubscribers: 0, objectPublishers: 0, objectSubscribers: 0 }, ask: true, watching: true, at: 7 });
    await waitFor(() => g.sent.length >= 2, { what: 'the word sent on', timeoutMs: 2_000 });
    expect(g.sent.map((s) => [s.to, s.msg.type, (s.msg as { region?: string }).region])).toEqual([
      ['n2', 'occupancyRegion', 'r0'],
      ['n3', 'occupancyRegion', 'r0'],
    ]);
    await g.gm.stop();
  });
});
