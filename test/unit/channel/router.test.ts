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

  describe('a subscribe left unanswered', () => {
    /** An Rpc that never answers the requests `lost` names (1-based), and answers the others `ok` after `delayMs`; it times out as the real one does. */
    function lossyRpc(lost: number[], delayMs = 0): { rpc: Rpc; asked: { at: number; type: string }[] } {
      const asked: { at: number; type: string }[] = [];
      const rpc = {
        request: (_to: string, req: { type: string }, timeoutMs: number) => {
          asked.push({ at: Date.now(), type: req.type });
          const n = asked.length;
          return new Promise((resolve, reject) => {
            if (lost.includes(n)) setTimeout(() => reject(new Error(`no reply to ${req.type} within ${timeoutMs} ms`)), timeoutMs);
            else if (delayMs === 0) resolve({ kind: 'ok' });
            else setTimeout(() => resolve({ kind: 'ok' }), delayMs);
          });
        },
      } as unknown as Rpc;
      return { rpc, asked };
    }

    it('is sent once more after 1 s, and the answer to that one taken, not after the attempt\'s 5 s', async () => {
      const { rpc, asked } = lossyRpc([1]);
      const router = new ChannelRouter({ rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
      const start = Date.now();
      let answeredAt = 0;
      const call = router.call('app:c', { type: 'sub', channel: 'app:c' }, 10_000).then((r) => ((answeredAt = Date.now()), r));
      await vi.advanceTimersByTimeAsync(1100);
      // Checked before the answer is awaited: without the second send it would wait 5 s more.
      expect(asked.map((a) => a.at - start)).toEqual([0, 1000]);
      expect(answeredAt - start).toBe(1000);
      await expect(call).resolves.toEqual({ from: 'n1', body: { kind: 'ok' } });
    });

    it('takes the first answer when the master is slow (a claim), sending no third', async () => {
      const { rpc, asked } = lossyRpc([], 2500);
      const router = new ChannelRouter({ rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
      const start = Date.now();
      const call = router.call('app:c', { type: 'sub', channel: 'app:c' }, 10_000);
      await vi.advanceTimersByTimeAsync(4000);
      await expect(call).resolves.toMatchObject({ body: { kind: 'ok' } });
      expect(asked.map((a) => a.at - start)).toEqual([0, 1000]);
    });

    it('fails the attempt only when both are lost, and asks again after it; other requests are sent once an attempt', async () => {
      const { rpc, asked } = lossyRpc([1, 2]);
      const router = new ChannelRouter({ rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
      const start = Date.now();
      const call = router.call('app:c', { type: 'sub', channel: 'app:c' }, 10_000);
      await vi.advanceTimersByTimeAsync(6000);
      // The second one's wait ends with the attempt's (5 s from the first), then 25 ms of pause.
      expect(asked.map((a) => a.at - start)).toEqual([0, 1000, 5025]);
      await expect(call).resolves.toMatchObject({ body: { kind: 'ok' } });
      const other = lossyRpc([1]);
      const r2 = new ChannelRouter({ rpc: other.rpc, ring: () => new Ring(['n1']), now: () => Date.now() });
      const t0 = Date.now();
      const range = r2.call('app:c', { type: 'range', channel: 'app:c', epoch: 'e', after: 0, upto: 1 }, 10_000);
      await vi.advanceTimersByTimeAsync(6000);
      await expect(range).resolves.toMatchObject({ body: { kind: 'ok' } });
      expect(other.asked.map((a) => a.at - t0)).toEqual([0, 5025]);
    });
  });
});
