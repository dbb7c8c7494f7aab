/**
 * A peer region's new interest makes the channel's live batches wait for its start
 * (bridge/interest-start.ts). When the link that the start was going over is replaced
 * by a new one before the start's rest has gone, what waited is neither sent on the old
 * link nor dropped: it waits for the link's current session, and goes there when the
 * start's wait ends. (The start's rest does not go on the new link; the peer's masters
 * ask for what they miss on every new link.) The Globalmaster is real, its peer link
 * two fake streams, its master reads a router that pages without end.
 */
import { describe, expect, it } from 'vitest';
import type { ForwardedBatch } from '../../../src/transport/messages.js';
import { ForwardedEntries } from '../../../src/transport/entry-lists.js';
import { FakeCall, PEER_HELLO, testGlobalmaster } from '../../helpers/fake-link.js';
import { pagingRouter, replayEntry } from '../../helpers/replay-router.js';
import { waitFor } from '../../helpers/wait.js';

const batch = (...seqs: number[]): ForwardedBatch => ({
  channel: 'app:c',
  region: 'r1',
  epoch: 'ep',
  gapBefore: false,
  entries: ForwardedEntries.of(seqs.map(replayEntry)),
});

const live = (call: FakeCall) => call.forwards().filter((f) => f.toRegion === null).map((f) => f.batch.entries.lastSeq);

describe('a start cut short by a new link', () => {
  it('keeps the live batches that waited for it for the new link, and sends none on the old one', async () => {
    const first = new FakeCall();
    const second = new FakeCall();
    let g: ReturnType<typeof testGlobalmaster> | null = null;
    // The peer's new link arrives as the start's second page is read.
    const { router, pages } = pagingRouter((n) => {
      if (n !== 2) return;
      g!.accept(second);
      second.from(PEER_HELLO);
    });
    g = testGlobalmaster(router, { startWaitMs: 2000 });
    await g.open();
    g.accept(first);
    first.from(PEER_HELLO);
    first.from({ type: 'snapshot', version: 1, channels: [] });
    // r0 begins to want app:c: its live batches wait for the start.
    first.from({ type: 'delta', delta: { version: 2, added: [{ channel: 'app:c', since: 5 }], removed: [] } });
    expect(g.gm.status().interestStarts.pending).toBe(1);
    g.gm.onToRegions(batch(10), null);
    g.gm.onToRegions(batch(11), null);
    expect(live(first)).toEqual([]);

    // The start's first part goes on the first link; its rest is read page by page.
    g.gm.onToRegions(batch(1, 2), 'r0', true);
    await waitFor(() => first.closed && g!.gm.status().links[0]?.up === true, { what: 'the first link replaced' });
    // The start and its first page went; the page read as the link was replaced did not.
    const sentFirst = () => first.forwards().map((f) => [f.toRegion, f.batch.entries.lastSeq]);
    expect(pages()).toBe(2);
    expect(sentFirst()).toEqual([['r0', 2], ['r0', 4]]);

    // The wait for the start ends (2 s here): what waited goes on the new link, in order.
    await waitFor(() => live(second).length === 2, { what: 'the held batches on the new link', timeoutMs: 6000 });
    expect(live(second)).toEqual([10, 11]);
    expect(g.gm.status().interestStarts).toMatchObject({ pending: 0, timedOut: 1 });
    // And nothing more on the old one.
    expect(sentFirst()).toEqual([['r0', 2], ['r0', 4]]);
    await g.gm.stop();
  }, 10_000);
});
