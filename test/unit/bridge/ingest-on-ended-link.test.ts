/**
 * A peer's batch that the channel's master here cannot yet take is tried again (the
 * router's retries, up to 10 s), but only while the link session it came over lasts.
 * Chaos random seed 1120: a globalmaster cut off from its region kept trying a batch of
 * eu's old epoch; when it came back 7 s later, the channel's new master here took it,
 * after eu's newer messages had come over the new globalmaster's link, and delivered
 * them out of order. The Globalmaster and the router are real; the master is a stub
 * that refuses (retry) until told to take.
 */
import { describe, expect, it } from 'vitest';
import { ChannelRouter } from '../../../src/channel/router.js';
import { Ring } from '../../../src/cluster/ring.js';
import { ForwardedEntries } from '../../../src/transport/entry-lists.js';
import type { ForwardedBatch } from '../../../src/transport/messages.js';
import { FakeCall, PEER_HELLO, testGlobalmaster } from '../../helpers/fake-link.js';
import { replayEntry } from '../../helpers/replay-router.js';
import { waitFor } from '../../helpers/wait.js';

const batch = (epoch: string, ...seqs: number[]): ForwardedBatch => ({
  channel: 'app:c',
  region: 'r0',
  epoch,
  gapBefore: false,
  entries: ForwardedEntries.of(seqs.map((s) => ({ ...replayEntry(s), origin: { region: 'r0', epoch, seq: s } }))),
});

describe("a peer's batch being stored when its link ends", () => {
  it('is not tried again after the link session it came over has ended', async () => {
    let taking = false;
    const tried: string[] = [];
    const taken: string[] = [];
    const router = new ChannelRouter({
      ring: () => new Ring(['n1']),
      now: () => Date.now(),
      rpc: {
        request: async (_to: string, req: { type: string; batch?: ForwardedBatch }) => {
          if (req.type !== 'ingest' || !req.batch) throw new Error(`unexpected ${req.type}`);
          const name = `${req.batch.epoch}#${req.batch.entries.lastSeq}`;
          tried.push(name);
          if (!taking) return { kind: 'retry', reason: 'the replica does not answer' };
          taken.push(name);
          return { kind: 'ingested', seq: req.batch.entries.lastSeq, replayAfter: null };
        },
      } as never,
    });
    const g = testGlobalmaster(router);
    await g.open();
    const first = new FakeCall();
    g.accept(first);
    first.from(PEER_HELLO);
    // A batch of the old epoch, which the master here cannot take yet: tried again and again.
    first.from({ type: 'forward', batch: batch('old', 4, 5), replyTo: 0, toRegion: null });
    await waitFor(() => tried.length >= 3, { what: 'the old batch tried again' });

    // The link is replaced (or the role given up): that session has ended.
    const second = new FakeCall();
    g.accept(second);
    second.from(PEER_HELLO);
    await waitFor(() => first.closed, { what: 'the first link closed' });
    // The master can take batches now; the new session brings the stream's new epoch.
    taking = true;
    second.from({ type: 'forward', batch: batch('new', 1, 2), replyTo: 0, toRegion: null });
    await waitFor(() => taken.length > 0, { what: 'a batch taken' });
    // Only the new session's batch reached the master; the old one was given up.
    expect(taken).toEqual(['new#2']);
    expect(tried.filter((t) => t === 'new#2')).toHaveLength(1);
    await g.gm.stop();
  }, 15_000);
});
