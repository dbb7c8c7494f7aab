/**
 * Occupancy events across regions: each region's master adds up its own nodes'
 * attachments and the counts the other regions that want the channel send it through
 * the globalmasters; a master that takes a channel over asks them for theirs, so its
 * first totals are whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalmaster, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { watchOccupancy } from '../helpers/occupancy.js';

const R1 = ['r1-n1', 'r1-n2', 'r1-n3'];
let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({
    regions: [
      { name: 'r1', nodes: 3 },
      { name: 'r2', nodes: 1 },
    ],
    // Regions send their counts again at a refresh: set past the file's length, so that no
    // refresh lands in a wait below and each change must be told as it happens.
    limits: { occupancyIntervalMs: 250, occupancyRefreshMs: 600_000 },
  });
  await regionLinksUp(d, ['r1', 'r2']);
}, 90_000);

afterAll(async () => {
  await d?.stop();
});

/** Whether every live node of r1 has a ring of `n`. */
async function r1Ring(n: number): Promise<boolean> {
  const hs = await Promise.all(R1.filter((x) => d.sup.nodes.has(x)).map((x) => d.health(x)));
  return hs.length === n && hs.every((h) => h.ring.length === n && h.quorum);
}

describe('occupancy across regions', () => {
  it("counts every region's attachments, in each region", { timeout: 60_000 }, async () => {
    const channel = channelMasteredBy(R1, 'r1-n3', 'occr-both');
    const a = realtime(d.port('r1-n1'));
    const b = realtime(d.port('r2-n1'));
    const c = realtime(d.port('r2-n1'));
    try {
      // No refresh between regions in this file (set past its length): a change must be told as it happens.
      const inR1 = await watchOccupancy(a, channel);
      await b.channels.get(channel, { modes: ['SUBSCRIBE'] }).attach();
      await waitFor(() => inR1.last()?.connections === 2 && inR1.last()?.subscribers === 2 && inR1.last()?.publishers === 1, {
        what: "r2's subscriber counted in r1",
        timeoutMs: 3_000,
      });
      const inR2 = await watchOccupancy(c, channel);
      await waitFor(() => inR2.last()?.connections === 3 && inR1.last()?.connections === 3, { what: 'three connections told in both regions', timeoutMs: 3_000 });
      // The REST status counts each region's own (its nodes asked).
      expect((await rest(d.port('r1-n2')).channels.get(channel).status()).status.occupancy.metrics).toMatchObject({ connections: 1, subscribers: 1 });
      expect((await rest(d.port('r2-n1')).channels.get(channel).status()).status.occupancy.metrics).toMatchObject({ connections: 2, subscribers: 2 });
      b.close();
      await waitFor(() => inR1.last()?.connections === 2 && inR2.last()?.connections === 2, { what: "r2's subscriber gone in both", timeoutMs: 3_000 });
      c.close();
      await waitFor(() => inR1.last()?.connections === 1, { what: "r1's watcher alone", timeoutMs: 3_000 });
    } finally {
      closeAll(a, b, c);
    }
  });

  it("has the other region's counts at once at a master that took the channel over", { timeout: 90_000 }, async () => {
    const channel = channelMasteredBy(R1, 'r1-n3', 'occr-kill');
    const a = realtime(d.port('r1-n1'));
    const b = realtime(d.port('r2-n1'));
    let s: Realtime | undefined;
    try {
      const inR1 = await watchOccupancy(a, channel);
      await b.channels.get(channel).attach();
      await waitFor(() => inR1.last()?.connections === 2, { what: "r2's attachment counted in r1", timeoutMs: 15_000 });
      const before = inR1.events.length;
      await d.sup.kill('r1-n3');
      await waitFor(() => r1Ring(2), { what: "r1's ring of two", timeoutMs: 20_000 });
      s = realtime(d.port('r1-n2'));
      await s.channels.get(channel).attach();
      // r2's count comes as the new master asks r2 for it (asked again where the answer was lost: occupancy-board.ts).
      await waitFor(
        () => {
          if (inR1.last()?.connections === 3) return true;
          throw new Error(`connections told: ${inR1.events.map((e) => e.connections).join(', ')}`);
        },
        { what: 'three connections at the new master', timeoutMs: 15_000 },
      );
      const since = inR1.events.slice(before).map((e) => e.connections);
      expect(since.every((n) => n >= 2), `connections told after the kill: ${since.join(', ')}`).toBe(true);
    } finally {
      closeAll(a, b, s);
      await d.sup.restart('r1-n3');
    }
  });

  it('has each region count the other as it is now once a partition heals', { timeout: 90_000 }, async () => {
    const channel = channelMasteredBy(R1, 'r1-n2', 'occr-cut');
    const proxy = d.sup.regionProxies.get('r1|r2')!;
    const a = realtime(d.port('r1-n1'));
    const b = realtime(d.port('r2-n1'));
    const c = realtime(d.port('r2-n1'));
    const e = realtime(d.port('r2-n1'));
    try {
      const inR1 = await watchOccupancy(a, channel);
      const inR2 = await watchOccupancy(b, channel);
      await waitFor(() => inR1.last()?.connections === 2 && inR2.last()?.connections === 2, { what: 'two connections in both regions', timeoutMs: 15_000 });
      proxy.set('both', { blackhole: true });
      await waitFor(async () => !(await globalmaster(d, 'r1')).health.regionLinks.links.find((l: { region: string }) => l.region === 'r2').up, {
        what: 'the r1–r2 link seen down',
        timeoutMs: 15_000,
      });
      // r2 changes while cut off: r1 cannot hear of it.
      await c.channels.get(channel).attach();
      await e.channels.get(channel).attach();
      await waitFor(() => inR2.last()?.connections === 4, { what: "r2's own attachments counted there", timeoutMs: 10_000 });
      expect(inR1.last()?.connections).toBe(2);
      proxy.heal();
      await regionLinksUp(d, ['r1', 'r2']);
      // Told as the link comes back (no refresh comes in this file).
      await waitFor(() => inR1.last()?.connections === 4, { what: "r2's attachments counted in r1 after the heal", timeoutMs: 2_000 });
    } finally {
      proxy.heal();
      closeAll(a, b, c, e);
    }
  });
});
