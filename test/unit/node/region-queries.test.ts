/**
 * Region-wide questions (occupancy, stats) add up what every ring member answers, and do
 * not wait for a member that does not answer past REGION_QUERY_TIMEOUT_MS: a node cut off
 * from the asking one held `GET /channels/{name}` for the channel request timeout (10 s).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REGION_QUERY_TIMEOUT_MS, regionOccupancy, regionStats, regionStatsOf } from '../../../src/node/region-queries.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../../../src/config/defaults.js';
import type { NodeMessage, ReplyBody } from '../../../src/transport/messages.js';
import { Rpc } from '../../../src/transport/rpc.js';
import type { RegionTransport } from '../../../src/transport/transport.js';

/** An Rpc whose peers answer at once with `answer(request)`, but for those in `silent`. */
function region(silent: string[], answer: (msg: NodeMessage) => ReplyBody): Rpc {
  const transport = {
    self: 'n1',
    send: (to: string, msg: NodeMessage) => {
      if (silent.includes(to)) return;
      queueMicrotask(() => rpc.onReply(to, { type: 'reply', rid: (msg as NodeMessage & { rid: number }).rid, body: answer(msg) }));
    },
  } as unknown as RegionTransport;
  const rpc = new Rpc(transport, undefined, 1);
  return rpc;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('region-wide questions', () => {
  it('add up the occupancy of the members that answer, and say how many did, within the query timeout', async () => {
    vi.useFakeTimers();
    const rpc = region(['n3'], () => ({ kind: 'occupancy', connections: 2, publishers: 1, subscribers: 2, presenceSubscribers: 1, presenceConnections: 1 }));
    let done: Awaited<ReturnType<typeof regionOccupancy>> | null = null;
    void regionOccupancy(rpc, ['n1', 'n2', 'n3'], 'app:c').then((o) => void (done = o));
    await vi.advanceTimersByTimeAsync(REGION_QUERY_TIMEOUT_MS - 1);
    expect(done).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toEqual({ connections: 4, publishers: 2, subscribers: 4, presenceSubscribers: 2, presenceConnections: 2, nodes: { asked: 3, answered: 2 } });
    expect(REGION_QUERY_TIMEOUT_MS).toBeLessThan(CHANNEL_REQUEST_TIMEOUT_MS / 2);
  });

  it('answer at once when every member does', async () => {
    const rpc = region([], () => ({ kind: 'occupancy', connections: 1, publishers: 0, subscribers: 1, presenceSubscribers: 0, presenceConnections: 0 }));
    expect(await regionOccupancy(rpc, ['n1', 'n2'], 'app:c')).toEqual({ connections: 2, publishers: 0, subscribers: 2, presenceSubscribers: 0, presenceConnections: 0, nodes: { asked: 2, answered: 2 } });
  });

  it('merge the stats of the members that answer within the query timeout', async () => {
    vi.useFakeTimers();
    const rpc = region(['n2'], () => ({ kind: 'stats', buckets: [{ minute: 60_000, entries: { 'messages.all.all.count': 3 } }] }));
    let done: Awaited<ReturnType<typeof regionStats>> | null = null;
    void regionStats(rpc, ['n1', 'n2', 'n3'], 'app', 0, 120_000).then((s) => void (done = s));
    await vi.advanceTimersByTimeAsync(REGION_QUERY_TIMEOUT_MS);
    expect(done).toEqual([{ minute: 60_000, entries: { 'messages.all.all.count': 6 } }]);
  });

  it('say whether every member answered the stats question ([meta]stats:minute waits for the next attempt where one did not)', async () => {
    vi.useFakeTimers();
    const answer = () => ({ kind: 'stats', buckets: [{ minute: 60_000, entries: { 'messages.all.all.count': 1 } }] }) as ReplyBody;
    const partial = regionStatsOf(region(['n3'], answer), ['n1', 'n2', 'n3'], 'app', 0, 120_000);
    await vi.advanceTimersByTimeAsync(REGION_QUERY_TIMEOUT_MS);
    expect(await partial).toEqual({ minutes: [{ minute: 60_000, entries: { 'messages.all.all.count': 2 } }], complete: false });
    expect((await regionStatsOf(region([], answer), ['n1', 'n2'], 'app', 0, 120_000)).complete).toBe(true);
  });
});
