/**
 * A region of three node processes whose links n1 ↔ n3 are cut (both directions, through
 * the fault proxies), while both still reach n2: a cut inside a region that is not
 * transitive. The nodes send n1's and n3's frames to each other through n2
 * (src/transport/mesh-paths.ts), so neither declares the other down, the region's views
 * agree, and a channel mastered on n3 keeps delivering to a subscriber on n1 and
 * acknowledging its publisher there. Before, n1 and n3 each declared the other down after
 * 4 s, and the subscriber on n1 got nothing until the cut healed and the views agreed again.
 */
import type { InboundMessage } from 'ably';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framesAround, meshProxiedRegion, nodesLogLines, type TestDeployment } from '../helpers/deployment.js';
import { channelsMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { sleep, waitFor } from '../helpers/wait.js';

let d: TestDeployment;
beforeAll(async () => {
  d = await meshProxiedRegion();
});
afterAll(async () => {
  await d?.stop();
});

/** How `node` sees `other` (its /health). */
const stateOf = async (node: string, other: string): Promise<string | undefined> => (await d.health(node)).members.find((m: any) => m.node === other)?.state;

describe('a link cut inside a region, between two nodes that both reach a third', () => {
  it('goes around through the third: nobody is declared down, and a channel across the cut keeps delivering, once and in order', async () => {
    const channel = channelsMasteredBy(d.nodes('r1'), 'r1-n3', 'cut-link', 1)[0]!;
    const cut = [d.sup.meshProxies.get('r1-n1>r1-n3')!, d.sup.meshProxies.get('r1-n3>r1-n1')!];
    const sub = realtime(d.port('r1-n1'));
    const pub = realtime(d.port('r1-n1'));
    try {
      await Promise.all([connected(sub), connected(pub)]);
      const got: string[] = [];
      await sub.channels.get(channel).subscribe((m: InboundMessage) => void got.push(String(m.data)));
      const pubCh = pub.channels.get(channel);
      await pubCh.publish('m', 'before');
      await waitFor(() => got.includes('before'), { what: 'a message before the cut' });
      const downs = () => nodesLogLines(d, d.nodes('r1'), /"msg":"peer down"/);
      const downsBefore = downs().length;
      for (const p of cut) p.set('both', { blackhole: true });
      // Longer than it takes to declare a silent peer down (4 s): they must not.
      const sent: string[] = [];
      const until = Date.now() + 6000;
      for (let i = 0; Date.now() < until; i++) {
        await pubCh.publish('m', `during${i}`);
        sent.push(`during${i}`);
        await sleep(100);
      }
      await waitFor(() => got.includes(sent.at(-1)!), { what: 'the last message of the cut, to the subscriber on n1', timeoutMs: 10_000 });
      // Nobody was declared down (a node slowed by load may be suspect for a moment, and be
      // heard again: that is not what the cut would cause), and both hear each other.
      expect(downs().slice(downsBefore)).toEqual([]);
      await waitFor(async () => (await stateOf('r1-n1', 'r1-n3')) === 'up' && (await stateOf('r1-n3', 'r1-n1')) === 'up', { what: 'n1 and n3 up in each other\'s view' });
      // Operators see it: frames taken from around the cut, and carried by n2.
      expect(await framesAround(d, 'r1-n1', 'takenAround')).toBeGreaterThan(0);
      expect(await framesAround(d, 'r1-n2', 'carried')).toBeGreaterThan(0);
      for (const p of cut) p.heal();
      await pubCh.publish('m', 'after');
      await waitFor(() => got.includes('after'), { what: 'a message after the heal' });
      expect(got).toEqual(['before', ...sent, 'after']);
    } finally {
      for (const p of cut) p.heal();
      closeAll(sub, pub);
    }
  }, 60_000);
});
