/**
 * [meta]stats:minute with the real SDK across two regions: when a minute ends, each
 * region publishes its statistics of that minute (as its `GET /stats` gives them) as one
 * `update`, which subscribers in every region get once (also past the second attempt,
 * under the same id); a new attach with rewind=1 gets the last. The nodes' wall clocks
 * are set on (libfaketime) so that they start 45 s into a minute: the test waits for
 * that minute to end, about 10 s, and 17 s more. Before, it waited for the machine's
 * minute to end, and took up to 80 s.
 */
import { describe, expect, it } from 'vitest';
import { regionsDeployment } from '../helpers/deployment.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { META_KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';
import { clockOffsetEnv } from '../../src/chaos/clocks.js';
import { STATS_CHANNEL } from '../../src/protocol/channel-name.js';
import { interval } from '../../src/node/stats.js';
import { PUBLISH_AFTER_MS } from '../../src/node/stats-minute.js';

/** How far the nodes' wall clocks are on: they start 45 s into a minute. */
const OFFSET_MS = (45_000 - (Date.now() % 60_000) + 60_000) % 60_000;
/** Now on the nodes' clocks. */
const nodeNow = () => Date.now() + OFFSET_MS;

const deployment = regionsDeployment(
  [
    { name: 'r1', nodes: 2 },
    { name: 'r2', nodes: 1 },
  ],
  { env: clockOffsetEnv(`+${(OFFSET_MS / 1000).toFixed(3)}s`) },
);

interface Update {
  id: string;
  name: string;
  appId: string;
  region: string;
  intervalId: string;
  unit: string;
  entries: Record<string, number>;
}

/** A client subscribed to the metachannel: every update it is sent, in order. */
async function watch(port: number): Promise<{ client: Realtime; updates: Update[] }> {
  const client = realtime(port, { key: META_KEY });
  const updates: Update[] = [];
  await client.channels.get(STATS_CHANNEL).subscribe((m) => {
    const d = m.data as Omit<Update, 'id' | 'name'>;
    updates.push({ id: m.id!, name: m.name!, appId: d.appId, region: d.region, intervalId: d.intervalId, unit: d.unit, entries: d.entries });
  });
  return { client, updates };
}

describe('[meta]stats:minute', () => {
  it("publishes each region's statistics of the minute that ended, once, to subscribers in every region", { timeout: 120_000 }, async () => {
    const d = deployment();
    const w1 = await watch(d.port('r1-n2'));
    const w2 = await watch(d.port('r2-n1'));
    const late = realtime(d.port('r1-n1'), { key: META_KEY });
    try {
      // Not within 3 s of a minute's end: the publishes below all count in one minute (a
      // start that took 12 s or more waits for the next).
      await waitFor(() => 60_000 - (nodeNow() % 60_000) >= 3_000, { what: "past a minute's last 3 s", timeoutMs: 5_000 });
      const { start, id: minute } = interval(nodeNow(), 'minute');
      for (let i = 0; i < 5; i++) await rest(d.port('r1-n1')).channels.get('stats-ch').publish('m', String(i));
      for (let i = 0; i < 2; i++) await rest(d.port('r2-n1')).channels.get('stats-ch').publish('m', String(i));
      expect(interval(nodeNow(), 'minute').id, 'the publishes took more than 3 s').toBe(minute);

      const of = (w: { updates: Update[] }, region: string) => w.updates.filter((u) => u.intervalId === minute && u.region === region);
      await waitFor(() => [w1, w2].every((w) => of(w, 'r1').length > 0 && of(w, 'r2').length > 0), {
        what: `both regions' statistics of ${minute} in both regions`,
        timeoutMs: 90_000,
      });
      // Past the second attempt (the same id again, which the dedup window drops).
      const after = start + 60_000 + PUBLISH_AFTER_MS[1] + 2_000;
      await waitFor(() => nodeNow() >= after, { what: "the minute's second attempt", timeoutMs: 30_000 });
      const history = await rest(d.port('r1-n1'), { key: META_KEY }).channels.get(STATS_CHANNEL).history({ limit: 100 });
      const kept = history.items.filter((m) => (m.data as Update).intervalId === minute).map((m) => m.id);
      expect(kept.sort(), `r1's history of ${minute}`).toEqual([`stats:r1:${minute}`, `stats:r2:${minute}`]);
      for (const w of [w1, w2]) {
        for (const [region, published] of [['r1', 5], ['r2', 2]] as const) {
          const [u, ...more] = of(w, region);
          expect(more, `${region}'s update of ${minute} once`).toEqual([]);
          expect(u).toMatchObject({ id: `stats:${region}:${minute}`, name: 'update', unit: 'minute', appId: 'app' });
          expect(u!.entries['messages.inbound.rest.messages.count']).toBe(published);
        }
      }
      // As the region's `GET /stats` gives that minute.
      const page = await rest(d.port('r1-n1')).stats({ unit: 'minute', start, end: start });
      expect((page.items[0] as unknown as { entries: Record<string, number> }).entries['messages.inbound.rest.messages.count']).toBe(5);
      // Paged one interval at a time (by the SDK, from the Link header): the newest, then the one before, down to `minute`.
      let p = await rest(d.port('r1-n1')).stats({ unit: 'minute', start, limit: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        expect(p.items).toHaveLength(1);
        ids.push((p.items[0] as unknown as { intervalId: string }).intervalId);
        if (!p.hasNext()) break;
        p = (await p.next())!;
      }
      expect(ids.length, `pages ${ids.join(', ')}`).toBeGreaterThan(1);
      expect(ids.at(-1)).toBe(minute);
      expect([...ids].sort().reverse()).toEqual(ids);
      // A new attach with rewind=1 gets the last update.
      const got: string[] = [];
      await late.channels.get(STATS_CHANNEL, { params: { rewind: '1' } }).subscribe((m) => void got.push(m.name!));
      await waitFor(() => got.length > 0, { what: 'the rewound update' });
      expect(got).toEqual(['update']);
    } finally {
      closeAll(w1.client, w2.client, late);
    }
  });
});
