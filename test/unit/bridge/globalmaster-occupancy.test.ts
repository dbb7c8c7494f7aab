/**
 * Another region's occupancy word goes to the channel's master here and to its replica:
 * where this node's ring still has a master that just died, the replica is the master
 * now, and the word (an answer to its ask) is not lost (occupancy-board.ts).
 */
import { describe, expect, it } from 'vitest';
import { noAttachments } from '../../../src/channel/occupancy.js';
import { Ring } from '../../../src/cluster/ring.js';
import { FakeCall, PEER_HELLO as hello, testGlobalmaster } from '../../helpers/fake-link.js';
import { waitFor } from '../../helpers/wait.js';

describe('Globalmaster and occupancy words', () => {
  it("sends another region's word to the channel's master here, and a spare copy to its replica", async () => {
    const ring = new Ring(['n1', 'n2', 'n3']);
    const channel = 'app:o0';
    expect([ring.owner('__globalmaster'), ring.owner(channel), ring.replica(channel)]).toEqual(['n1', 'n2', 'n3']);
    const g = testGlobalmaster({} as never, { ring: () => ring });
    await g.open();
    const call = new FakeCall();
    g.accept(call);
    call.from(hello);
    g.sent.length = 0;
    call.from({ type: 'occupancy', channel, counts: { ...noAttachments(), connections: 2, subscribers: 2 }, ask: true, watching: true, at: 7 });
    await waitFor(() => g.sent.length >= 2, { what: 'the word sent on', timeoutMs: 2_000 });
    expect(g.sent.map((s) => [s.to, s.msg.type, (s.msg as { region?: string }).region, (s.msg as { spare?: boolean }).spare])).toEqual([
      ['n2', 'occupancyRegion', 'r0', undefined],
      // A spare copy: taken only by a node that masters the channel and holds its counts (src/node/occupancy.ts).
      ['n3', 'occupancyRegion', 'r0', true],
    ]);
    await g.gm.stop();
  });
});
