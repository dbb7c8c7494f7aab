/**
 * A globalmaster gives another region's occupancy word to the channel's master and a
 * spare copy to its replica (src/bridge/globalmaster.ts). A node takes the spare only
 * where it masters the channel and holds its counts (it took the channel over): a node
 * whose ring is behind, still mastering the channel without its counts, must not answer
 * "none" for the region (a review's reproduction: the asking region then dropped this
 * region's counts, and asked no more).
 */
import { describe, expect, it } from 'vitest';
import { noAttachments } from '../../../src/channel/occupancy.js';
import { NodeOccupancy } from '../../../src/node/occupancy.js';
import type { OccupancyRegion } from '../../../src/transport/messages.js';

const KEY = 'app:c';

function node() {
  const toRegions: OccupancyRegion[] = [];
  const n = new NodeOccupancy({
    send: () => {},
    rpc: {} as never,
    registry: { masterOf: () => null } as never,
    hub: () => ({ get: () => undefined }) as never,
    mastersHere: () => true,
    intervalMs: 100,
    now: () => 1000,
    idPrefix: 'x',
    region: 'r1',
    toGlobalmaster: (m) => void toRegions.push(m),
    globalmaster: () => null,
  });
  return { n, toRegions };
}

const ask = (spare: boolean): OccupancyRegion => ({ type: 'occupancyRegion', channel: KEY, region: 'r2', counts: { ...noAttachments(), connections: 2 }, ask: true, watching: true, at: 5, ...(spare ? { spare: true } : {}) });

describe("a spare copy of another region's occupancy word", () => {
  it('is not answered by a node without the counts, which answers the master’s own copy', () => {
    const { n, toRegions } = node();
    n.onMessage('gm', ask(true));
    expect(toRegions).toEqual([]);
    n.onMessage('gm', ask(false));
    expect(toRegions.map((w) => [w.counts.connections, w.ask])).toEqual([[0, false]]);
    n.stop();
  });

  it('is not answered by a node that holds only another region’s word of the channel (none of its own nodes’ counts)', () => {
    const { n, toRegions } = node();
    n.onMessage('gm', { ...ask(false), ask: false });
    expect(n.board.countsOf(KEY)?.total.connections).toBe(2);
    toRegions.length = 0;
    n.onMessage('gm', { ...ask(true), at: 6 });
    expect(toRegions).toEqual([]);
    n.stop();
  });

  it('is taken and answered by a master that holds the channel’s counts', () => {
    const { n, toRegions } = node();
    n.onMessage('n2', { type: 'occupancyReport', channel: KEY, counts: { ...noAttachments(), connections: 3 }, watchers: 0, fresh: false, moved: true });
    toRegions.length = 0;
    n.onMessage('gm', ask(true));
    expect(toRegions.map((w) => [w.counts.connections, w.ask])).toEqual([[3, false]]);
    expect(n.board.countsOf(KEY)?.total.connections).toBe(5);
    n.stop();
  });
});
