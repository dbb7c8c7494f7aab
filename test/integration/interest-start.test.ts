/**
 * A region that begins to want a channel while another already does: the channel's
 * master sends it a start (what was published since shortly before the interest began),
 * while live batches keep going to the region that had it. The globalmaster holds the
 * new region's live batches until the start has gone (src/bridge/interest-start.ts).
 * Delays on the links make the race likely (four of seven runs without the hold lost
 * messages): the new interest crosses a slow region link, so batches committed
 * meanwhile go to the old region only, and the master hears of the interest over a slow
 * mesh link, so live batches reach the globalmaster before the start does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalmaster, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;

const gm = (region: string) => globalmaster(d, region);

beforeAll(async () => {
  d = await startDeployment({
    regions: [
      { name: 'r1', nodes: 2 },
      { name: 'r2', nodes: 1 },
      { name: 'r3', nodes: 1 },
    ],
    meshProxies: true,
  });
  await regionLinksUp(d, ['r1', 'r2', 'r3']);
});

afterAll(async () => {
  await d?.stop();
});

describe('a new interest while another region has the channel', () => {
  it('delivers everything published after the new region\'s subscriber attached, once and in order', async () => {
    const gmNode = (await gm('r1')).node;
    const masterNode = gmNode === 'r1-n1' ? 'r1-n2' : 'r1-n1';
    const ch = channelMasteredBy(['r1-n1', 'r1-n2'], masterNode, 'start');
    const pub = realtime(d.port(masterNode));
    const subB = realtime(d.port('r2-n1'));
    const subC = realtime(d.port('r3-n1'));
    try {
      const recB = new Recorder();
      const recC = new Recorder();
      await subB.channels.get(ch).subscribe(recB.handler);
      await connected(pub);
      const publisher = new SteadyPublisher('S', pub, ch, 2);
      publisher.start();
      await waitFor(() => recB.count('S') >= 20, { what: 'r2 to receive the channel' });
      for (const p of d.sup.meshProxies.values()) p.set('both', { latencyMs: 10 });
      d.sup.regionProxies.get('r1|r3')!.set('both', { latencyMs: 50 });
      await subC.channels.get(ch).subscribe(recC.handler);
      // Every publish from here on began after r3's subscriber was attached.
      const from = publisher.sent;
      await waitFor(() => publisher.sent >= from + 200);
      await publisher.stop();
      for (const p of [...d.sup.meshProxies.values(), ...d.sup.regionProxies.values()]) p.heal();
      const last = Math.max(...publisher.acked);
      for (const rec of [recB, recC]) {
        await waitFor(() => (rec.byPublisher.get('S') ?? []).includes(last), { what: 'the last message everywhere' });
      }
      const got = recC.byPublisher.get('S')!;
      const missing = [...publisher.acked].filter((s) => s >= from && !got.includes(s)).sort((x, y) => x - y);
      expect(missing, `acked after the attach, never delivered in r3 (of ${publisher.sent - from})`).toEqual([]);
      expect(new Set(got).size, 'duplicates in r3').toBe(got.length);
      expect(got.every((s, i) => i === 0 || s > got[i - 1]!), 'r3 in order').toBe(true);
      expect(recB.check(publisher)).toEqual([]);
      // The new interest's live batches waited for its start, and the start came.
      const starts = (await gm('r1')).health.regionLinks.interestStarts;
      expect(starts.waited).toBeGreaterThanOrEqual(1);
      expect(starts).toMatchObject({ timedOut: 0, full: 0, pending: 0 });
    } finally {
      closeAll(pub, subB, subC);
    }
  });
});
