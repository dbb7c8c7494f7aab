/**
 * A region link whose hello comes after the globalmaster role was released belongs to
 * no term: when the node takes the role again, it has not heard from that peer, so the
 * masters keep what they knew of the peer's interest until the peer's snapshot comes on a
 * link of the new term. (Seen in interest-start.test.ts: a node that held the role for a
 * moment at start-up took a late link's snapshot, and on taking the role again told a
 * master to drop the peer's interest, whose start then went again: 313 entries.)
 * The Globalmaster here is real; its peer link is a fake stream, its region one node.
 */
import { describe, expect, it } from 'vitest';
import { FakeCall, PEER_HELLO as hello, testGlobalmaster as globalmaster } from '../../helpers/fake-link.js';
import { pagingRouter } from '../../helpers/replay-router.js';
import { waitFor } from '../../helpers/wait.js';

describe('Globalmaster across terms', () => {
  // The peer's hello comes while the role is away, or once it is back (a later term).
  it.each([
    ['while the role is away', false],
    ['once the role is back', true],
  ])("closes a link begun in an earlier term whose hello comes %s, and takes no word from it", async (_when, backFirst) => {
    const g = globalmaster();
    const takeRole = async (what: string) => {
      g.setQuorum(true);
      await g.open(what);
    };
    await takeRole('links open in the first term');
    const late = new FakeCall();
    g.accept(late);
    g.setQuorum(false);
    g.gm.evaluate();
    if (backFirst) await takeRole('links open in the second term');
    late.from(hello);
    late.from({ type: 'snapshot', version: 1, channels: [] });
    expect(late.closed).toBe(true);
    expect(g.gm.status().links[0]).toMatchObject({ region: 'r0', up: false });
    if (!backFirst) await takeRole('links open in the second term');
    // A master reports interest: it is told to keep r0's word (not heard from in this
    // term), not to drop it.
    g.sent.length = 0;
    g.gm.onInterest('n1', 'app:c', true, 10);
    const told = g.sent.filter((x) => x.msg.type === 'remoteInterest');
    expect(told).toHaveLength(1);
    expect(told[0]!.msg).toMatchObject({ channel: 'app:c', regions: [], keep: ['r0'] });
    await g.gm.stop();
  });

  it("takes the peer's word from a link of the current term", async () => {
    const g = globalmaster();
    await g.open();
    const call = new FakeCall();
    g.accept(call);
    call.from(hello);
    call.from({ type: 'snapshot', version: 1, channels: [{ channel: 'app:c', since: 7 }] });
    expect(call.closed).toBe(false);
    expect(g.gm.status().links[0]).toMatchObject({ region: 'r0', up: true, remoteInterest: 1 });
    const told = g.sent.filter((s) => s.msg.type === 'remoteInterest');
    expect(told.at(-1)!.msg).toMatchObject({ channel: 'app:c', regions: [{ region: 'r0', since: 7 }], keep: [] });
    await g.gm.stop();
  });

  it('stops answering a replay over a link whose stream ended', async () => {
    const call = new FakeCall();
    // The stream ends as the third page is read.
    const { router, pages } = pagingRouter((n) => {
      if (n === 3) call.emit('close');
    });
    const g = globalmaster(router);
    await g.open();
    g.accept(call);
    call.from(hello);
    const forwards = () => call.forwards().length;
    call.from({ type: 'replay', id: 1, channel: 'app:c', epoch: 'ep', afterSeq: 0 });
    await waitFor(() => pages() >= 3, { what: 'three pages read' });
    await waitFor(() => g.gm.status().links[0]?.up === false, { what: 'the link down' });
    // Two pages went before the end; none after, though the router has more.
    expect(pages()).toBe(3);
    expect(forwards()).toBe(2);
    await g.gm.stop();
  });
});
