/**
 * Presence across regions when a region's stream from another begins late or begins
 * again: members came only as events in the stream, so a region whose interest began
 * after a member entered elsewhere never showed it, and one whose channel state was lost
 * (restarted in a new epoch) showed none of the other region's members again. A stream's
 * start now carries the origin's own members (ForwardedBatch.members). Found by the chaos
 * presence check (seeds 1220, 1221 with `--pairs`).
 */
import { describe, expect, it } from 'vitest';
import { INTEREST_START_MARGIN_MS } from '../../src/channel/channel-interest.js';
import { regionsDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A start reaches back this far before the interest began (INTEREST_START_MARGIN_MS), so an
 * ENTER younger than that would come with it as an event: the member's must be older.
 */
const olderThanAStart = () => new Promise((r) => setTimeout(r, INTEREST_START_MARGIN_MS + 1000));

const deployment = regionsDeployment([
  { name: 'r1', nodes: 1 },
  { name: 'r2', nodes: 1 },
]);

/** The clientIds of a channel's presence set as r2's REST endpoint answers. */
async function r2Members(channel: string): Promise<string[]> {
  const page = await rest(deployment().port('r2-n1')).channels.get(channel).presence.get();
  return page.items.map((m) => m.clientId).sort();
}

describe("presence of another region's members", () => {
  it('shows a member who entered before this region took an interest in the channel', { timeout: 60_000 }, async () => {
    const d = deployment();
    const member = realtime(d.port('r1-n1'), { clientId: 'early' });
    const sub = realtime(d.port('r2-n1'));
    try {
      await member.channels.get('rp-late').presence.enter('here');
      await olderThanAStart();
      // r2 has no interest in the channel until now.
      const channel = sub.channels.get('rp-late');
      await channel.attach();
      await waitFor(async () => (await channel.presence.get()).some((m) => m.clientId === 'early'), { what: "r2's subscriber to see r1's member", timeoutMs: 15_000 });
      expect(await r2Members('rp-late')).toEqual(['early']);
    } finally {
      closeAll(member, sub);
    }
  });

  it("shows them again after this region's channel state was lost, and the stream goes on", { timeout: 90_000 }, async () => {
    const d = deployment();
    const member = realtime(d.port('r1-n1'), { clientId: 'stays' });
    const pub = realtime(d.port('r1-n1'));
    let sub = realtime(d.port('r2-n1'));
    try {
      await sub.channels.get('rp-lost').attach();
      await member.channels.get('rp-lost').presence.enter('here');
      await waitFor(async () => (await r2Members('rp-lost')).includes('stays'), { what: "r1's member in r2", timeoutMs: 15_000 });
      await olderThanAStart();
      // r2's only node dies with the channel's state and comes back without it.
      closeAll(sub);
      await d.sup.kill('r2-n1');
      await d.sup.restart('r2-n1');
      sub = realtime(d.port('r2-n1'));
      const channel = sub.channels.get('rp-lost');
      const got: unknown[] = [];
      await channel.subscribe((m) => void got.push(m.data));
      await waitFor(async () => (await r2Members('rp-lost')).includes('stays'), { what: "r1's member in r2 again", timeoutMs: 20_000 });
      expect((await channel.presence.get()).map((m) => m.clientId)).toEqual(['stays']);
      // The channel's masters in both regions still take and forward messages.
      await connected(pub);
      await pub.channels.get('rp-lost').publish('after', 'after');
      await waitFor(() => got.includes('after'), { what: 'a message from r1 after the restart', timeoutMs: 15_000 });
    } finally {
      closeAll(member, pub, sub);
    }
  });
});
