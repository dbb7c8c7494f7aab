/**
 * A hole that is the last thing sent on a channel to another region, which then goes
 * quiet: no later batch shows it, so the globalmaster's heads of quiet channels must
 * (src/bridge/heads.ts). The origin's globalmaster loses every live batch of the
 * `quiet-` channels on purpose (ABLY_NG_DEBUG_DROP_FORWARDS, as if lost between its
 * master and the link); starts and replays still go. Without heads these messages
 * never arrive.
 */
import type { InboundMessage } from 'ably';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({
    regions: [
      { name: 'r1', nodes: 1 },
      { name: 'r2', nodes: 1 },
    ],
    env: { ABLY_NG_DEBUG_DROP_FORWARDS: 'quiet-' },
  });
  await regionLinksUp(d, ['r1', 'r2']);
});

afterAll(async () => {
  await d?.stop();
});

/** r1's link to r2, from r1's /health. */
async function linkToR2(): Promise<{ remoteInterest: number; entriesOut: number; headsOut: number }> {
  const h = await d.health('r1-n1');
  return h.regionLinks.links.find((l: { region: string }) => l.region === 'r2');
}

describe("heads of quiet channels (another region's stream lost its last batches)", () => {
  it('delivers the lost messages once the channel has gone quiet, once and in order, and again after more', async () => {
    const sub: Realtime = realtime(d.port('r2-n1'));
    const pub = rest(d.port('r1-n1'));
    try {
      const got: string[] = [];
      const control: string[] = [];
      await sub.channels.get('quiet-1').subscribe((m: InboundMessage) => got.push(String(m.data)));
      await sub.channels.get('plain-1').subscribe((m: InboundMessage) => control.push(String(m.data)));
      // r1 knows r2 wants both before anything is published.
      await waitFor(async () => (await linkToR2()).remoteInterest >= 2, { what: "r2's interest at r1", timeoutMs: 20_000 });
      const before = (await linkToR2()).entriesOut;
      for (const data of ['a', 'b', 'c']) await pub.channels.get('quiet-1').publish('m', data);
      await pub.channels.get('plain-1').publish('m', 'x');
      // The control channel's live batch goes at once; the quiet channel's were lost.
      await waitFor(() => control.length === 1, { what: 'the control message in r2', timeoutMs: 10_000 });
      expect(got).toEqual([]);
      // Two interest audits (5 s apart) see the head unmoved; r2's master asks for the rest.
      await waitFor(() => got.length >= 3, { what: 'the lost messages in r2', timeoutMs: 30_000 });
      expect(got).toEqual(['a', 'b', 'c']);
      // Sent once: the replay, not the lost live batches (plus the control message).
      const link = await linkToR2();
      expect(link.entriesOut - before).toBe(4);
      expect(link.headsOut).toBeGreaterThanOrEqual(1);
      // More, lost too: the head moved, and is told again once it stays put.
      for (const data of ['d', 'e']) await pub.channels.get('quiet-1').publish('m', data);
      await waitFor(() => got.length >= 5, { what: 'the second lost messages in r2', timeoutMs: 30_000 });
      expect(got).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(control).toEqual(['x']);
    } finally {
      closeAll(sub);
    }
  });
});
