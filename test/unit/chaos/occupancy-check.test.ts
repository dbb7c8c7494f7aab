import { describe, expect, it } from 'vitest';
import { occupancyFigures } from '../../../src/chaos/occupancy-check.js';
import { expectedMetrics, type Counted } from '../../../src/chaos/workload-occupancy.js';
import type { OccupancyEvent } from '../../../src/chaos/record.js';

const client = (region: string, kind: Counted['kind'], channels: string[]): Counted => ({ region, kind, attached: (c) => channels.includes(c) });

describe('the occupancy check', () => {
  const clients = [client('eu', 'subscriber', ['a', 'b']), client('us', 'subscriber', ['a']), client('eu', 'member', ['a', 'b']), client('us', 'member', ['b'])];

  it("expects every region's attached clients in events, a region's own at its REST endpoint, and the whole presence set in both", () => {
    expect(expectedMetrics(clients, 'a', null)).toEqual({
      connections: 3,
      publishers: 2,
      subscribers: 2,
      presenceConnections: 3,
      presenceMembers: 1,
      presenceSubscribers: 3,
      objectPublishers: 0,
      objectSubscribers: 0,
    });
    expect(expectedMetrics(clients, 'b', 'us')).toMatchObject({ connections: 1, publishers: 0, subscribers: 0, presenceMembers: 2 });
  });

  it('counts a filtered subscriber (SUBSCRIBE mode alone) as a connection and a subscriber only', () => {
    const more = [...clients, client('eu', 'filtered', ['a'])];
    expect(expectedMetrics(more, 'a', null)).toMatchObject({ connections: 4, publishers: 2, subscribers: 3, presenceConnections: 3, presenceSubscribers: 3, presenceMembers: 1 });
    expect(expectedMetrics(more, 'a', 'eu')).toMatchObject({ connections: 3, publishers: 1, subscribers: 2, presenceConnections: 2, presenceSubscribers: 2 });
  });

  it('fails the views that never matched, naming each count that differed', () => {
    const view = (observer: string, seen: Record<string, number> | null, convergedAfterMs: number | null): OccupancyEvent => ({
      type: 'occupancy',
      t: 1,
      region: 'eu',
      observer,
      channel: 'a',
      expected: { connections: 3, subscribers: 2 },
      seen,
      convergedAfterMs,
    });
    const f = occupancyFigures([view('rest', { connections: 3, subscribers: 2 }, 400), view('eu-mem0', { connections: 2, subscribers: 2 }, null), view('us-mem0', null, null)], 10);
    expect(f).toMatchObject({ views: 3, mismatched: 2, convergedAfterMs: null });
    expect(f!.examples.map((x) => x.differing)).toEqual([['connections 2 (expected 3)'], ['nothing seen']]);
    expect(occupancyFigures([view('rest', { connections: 3, subscribers: 2 }, 400)], 10)).toMatchObject({ mismatched: 0, convergedAfterMs: 400 });
    expect(occupancyFigures([], 10)).toBeNull();
  });
});
