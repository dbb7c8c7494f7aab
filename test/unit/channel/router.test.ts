/**
 * The channel router's retries: while the master answers "retry" or redirects (views of
 * the ring still converging), it asks again with a pause that doubles up to 100 ms,
 * until its deadline. Fake timers, so the count of attempts is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChannelRouter } from '../../../src/channel/router.js';
import { Ring } from '../../../src/cluster/ring.js';
import type { ReplyBody } from '../../../src/transport/messages.js';
import type { Rpc } from '../../../src/transport/rpc.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** An Rpc whose master answers with `answer(attempt)` at once, recording when it was asked. */
function fakeRpc(answer: (attempt: number) => ReplyBody): { rpc: Rpc; asked: number[] } {
  const asked: number[] = [];
  const rpc = {
    request: () => {
      asked.push(Date.now());
      return Promise.resolve(answer(asked.length));
    },
  } as unknown as Rpc;
  return { rpc, asked };
}

describe('ChannelRouter', () => {
  it('backs off 25, 50, then 100 ms between attempts while the master says retry, and gives up at the deadline with its reason', async () => {
    const { rpc, asked } = fakeRpc(() => ({ kind: 'retry', reason: 'n3 is not in this node\'s view of the region yet' }));
    const router = new ChannelRouter({ rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
    const start = Date.now();
    const call = router.call('app:c', { type: 'sub', channel: 'app:c' }, 1000);
    const failed = expect(call).rejects.toMatchObject({ code: 90007, message: expect.stringContaining('not in this node\'s view') });
    await vi.advanceTimersByTimeAsync(1100);
    await failed;
    expect(asked.map((t) => t - start)).toEqual([0, 25, 75, 175, 275, 375, 475, 575, 675, 775, 875, 975]);
  });

  it('answers as soon as the master takes the request', async () => {
    const { rpc, asked } = fakeRpc((n) => (n < 3 ? { kind: 'redirect', owner: 'n1' } : { kind: 'ok' }));
    const router = new ChannelRouter({ rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
    const call = router.call('app:c', { type: 'sub', channel: 'app:c' }, 1000);
    await vi.advanceTimersByTimeAsync(100);
    await expect(call).resolves.toEqual({ from: 'n1', body: { kind: 'ok' } });
    expect(asked).toHaveLength(3);
  });
});
