import { describe, expect, it } from 'vitest';
import { chunks, headsByMaster, pruneTold, QuietHeads, type HeadsTold } from '../../../src/bridge/heads.js';
import { Ring } from '../../../src/cluster/ring.js';
import type { MasteredChannel } from '../../../src/transport/messages.js';

function mastered(channel: string, seq: number, regions = ['us'], epoch = 'e1'): MasteredChannel {
  return { channel, on: false, since: 0, remote: regions.map((region) => ({ region, since: 1 })), head: { epoch, seq } };
}

/** A globalmaster's view: live sessions by region, each with what it was told. */
function sessions(...regions: string[]): { told: (r: string) => HeadsTold | null; of: Map<string, HeadsTold> } {
  const of = new Map(regions.map((r) => [r, new Map() as HeadsTold]));
  return { told: (r) => of.get(r) ?? null, of };
}

describe('QuietHeads', () => {
  it('tells a head once it has not moved over one audit, and once per session', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    expect(q.audit([mastered('app:a', 5)], s.told, false).size).toBe(0); // first seen
    expect(q.audit([mastered('app:a', 5)], s.told, false).get('us')).toEqual([{ channel: 'app:a', epoch: 'e1', seq: 5 }]);
    expect(q.audit([mastered('app:a', 5)], s.told, false).size).toBe(0); // told already
    // A new session (nothing told) hears it again at the next audit.
    const fresh = sessions('us');
    expect(q.audit([mastered('app:a', 5)], fresh.told, false).get('us')).toEqual([{ channel: 'app:a', epoch: 'e1', seq: 5 }]);
  });

  it('does not tell an active channel: only once its head stays put', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    for (const seq of [1, 4, 9, 12]) expect(q.audit([mastered('app:a', seq)], s.told, false).size).toBe(0);
    expect(q.audit([mastered('app:a', 12)], s.told, false).get('us')).toEqual([{ channel: 'app:a', epoch: 'e1', seq: 12 }]);
    // It moves on and goes quiet again: the new head is told.
    q.audit([mastered('app:a', 13)], s.told, false);
    expect(q.audit([mastered('app:a', 13)], s.told, false).get('us')).toEqual([{ channel: 'app:a', epoch: 'e1', seq: 13 }]);
    // A new epoch at the same seq is a new head.
    q.audit([mastered('app:a', 13, ['us'], 'e2')], s.told, false);
    expect(q.audit([mastered('app:a', 13, ['us'], 'e2')], s.told, false).get('us')).toEqual([{ channel: 'app:a', epoch: 'e2', seq: 13 }]);
  });

  it('tells every quiet head again at a full audit', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    q.audit([mastered('app:a', 5), mastered('app:b', 2)], s.told, false);
    expect(q.audit([mastered('app:a', 5), mastered('app:b', 2)], s.told, false).get('us')).toHaveLength(2);
    expect(q.audit([mastered('app:a', 5), mastered('app:b', 3)], s.told, false).size).toBe(0);
    expect(q.audit([mastered('app:a', 5), mastered('app:b', 4)], s.told, true).get('us')).toEqual([{ channel: 'app:a', epoch: 'e1', seq: 5 }]);
  });

  it('tells only the regions that want the channel and have a live session; the others hear it once they do', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    q.audit([mastered('app:a', 5, ['us', 'ap']), mastered('app:b', 1, ['ap'])], s.told, false);
    const out = q.audit([mastered('app:a', 5, ['us', 'ap']), mastered('app:b', 1, ['ap'])], s.told, false);
    expect([...out.keys()]).toEqual(['us']);
    expect(out.get('us')!.map((h) => h.channel)).toEqual(['app:a']);
    // ap's link comes up: it is told both at the next audit.
    const both = sessions('us', 'ap');
    both.of.set('us', s.of.get('us')!);
    const next = q.audit([mastered('app:a', 5, ['us', 'ap']), mastered('app:b', 1, ['ap'])], both.told, false);
    expect([...next.keys()]).toEqual(['ap']);
    expect(next.get('ap')!.map((h) => h.channel)).toEqual(['app:a', 'app:b']);
  });

  it('leaves out channels no region wants and streams with no message yet', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    const list = [mastered('app:none', 5, []), mastered('app:empty', 0), { channel: 'app:nohead', on: true, since: 1, remote: [{ region: 'us', since: 1 }] }];
    q.audit(list, s.told, false);
    expect(q.audit(list, s.told, false).size).toBe(0);
    expect([...q.listed]).toEqual([]);
  });

  it('starts afresh after forget (the role moved away)', () => {
    const q = new QuietHeads();
    const s = sessions('us');
    q.audit([mastered('app:a', 5)], s.told, false);
    q.forget();
    expect(q.audit([mastered('app:a', 5)], s.told, false).size).toBe(0);
  });
});

describe('pruneTold', () => {
  it('forgets what was told of channels the last audit did not list', () => {
    const told: HeadsTold = new Map([
      ['app:a', 'e1 5'],
      ['app:gone', 'e1 2'],
    ]);
    pruneTold(told, new Set(['app:a']));
    expect([...told.keys()]).toEqual(['app:a']);
  });
});

describe('headsByMaster', () => {
  it('groups heads by the master of their channel, leaving out channels with a batch being stored', () => {
    const ring = new Ring(['n1', 'n2', 'n3']);
    const heads = Array.from({ length: 30 }, (_, i) => ({ channel: `app:c${i}`, epoch: 'e1', seq: i + 1 }));
    const byNode = headsByMaster(ring, heads, (c) => c === 'app:c7');
    const all = [...byNode.values()].flat();
    expect(all.map((h) => h.channel).sort()).toEqual(heads.filter((h) => h.channel !== 'app:c7').map((h) => h.channel).sort());
    for (const [node, list] of byNode) for (const h of list) expect(ring.owner(h.channel)).toBe(node);
    expect(byNode.size).toBeGreaterThan(1);
  });
});

describe('chunks', () => {
  it('splits a list into frames of at most the given size, none for an empty list', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 2)).toEqual([]);
  });
});
