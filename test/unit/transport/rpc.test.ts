/**
 * Request/reply over a region transport: each request gets one answer (its reply, a
 * timeout, its peer failing, or shutdown), by promise or by callback.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AblyError } from '../../../src/errors.js';
import type { NodeMessage, ReplyBody } from '../../../src/transport/messages.js';
import { Rpc } from '../../../src/transport/rpc.js';
import type { RegionTransport } from '../../../src/transport/transport.js';

function setup() {
  const sent: { to: string; msg: NodeMessage & { rid: number } }[] = [];
  const transport = { send: (to: string, msg: NodeMessage) => void sent.push({ to, msg: msg as NodeMessage & { rid: number } }) } as unknown as RegionTransport;
  return { rpc: new Rpc(transport), sent };
}

const published = (s: string): ReplyBody => ({ kind: 'published', serials: [s] });
/** An AblyError's own words, without the description of its code in front. */
const why = (e: AblyError | null | undefined) => e?.message.replace(/^[^:]*: /, '');

afterEach(() => {
  vi.useRealTimers();
});

describe('Rpc', () => {
  it('numbers requests, keeps their fields, and settles each with its own reply', async () => {
    const { rpc, sent } = setup();
    const a = rpc.request('n2', { type: 'publish', channel: 'app:c', messages: [], after: 'x' }, 1000);
    const got: (ReplyBody | null)[] = [];
    rpc.call('n3', { type: 'sub', channel: 'app:c' }, 1000, (body, err) => {
      expect(err).toBeNull();
      got.push(body);
    });
    expect(sent.map((s) => [s.to, s.msg.type, s.msg.rid])).toEqual([
      ['n2', 'publish', 1],
      ['n3', 'sub', 2],
    ]);
    expect(sent[0]!.msg).toMatchObject({ channel: 'app:c', after: 'x', messages: [] });
    // A reply from the wrong node, or for an unknown id, is ignored.
    rpc.onReply('n3', { type: 'reply', rid: 1, body: published('wrong') });
    rpc.onReply('n2', { type: 'reply', rid: 99, body: published('unknown') });
    rpc.onReply('n3', { type: 'reply', rid: 2, body: { kind: 'ok' } });
    rpc.onReply('n2', { type: 'reply', rid: 1, body: published('e:1') });
    expect(await a).toEqual(published('e:1'));
    expect(got).toEqual([{ kind: 'ok' }]);
    // A second reply to the same request changes nothing.
    rpc.onReply('n3', { type: 'reply', rid: 2, body: { kind: 'ok' } });
    expect(got).toHaveLength(1);
    expect(rpc.inFlight).toBe(0);
  });

  it('times a request out once, with 50003, and ignores a reply after it', async () => {
    vi.useFakeTimers();
    const { rpc, sent } = setup();
    const calls: [ReplyBody | null, AblyError | null][] = [];
    rpc.call('n2', { type: 'sub', channel: 'app:c' }, 200, (body, err) => calls.push([body, err]));
    const p = rpc.request('n2', { type: 'sub', channel: 'app:d' }, 300);
    const rejected = p.then(
      () => expect.unreachable(),
      (e: AblyError) => expect([e.code, why(e)]).toEqual([50003, 'no reply from n2 to sub within 300 ms']),
    );
    vi.advanceTimersByTime(199);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBeNull();
    expect([calls[0]![1]?.code, why(calls[0]![1])]).toEqual([50003, 'no reply from n2 to sub within 200 ms']);
    rpc.onReply('n2', { type: 'reply', rid: sent[0]!.msg.rid, body: { kind: 'ok' } });
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(100);
    await rejected;
    expect(rpc.inFlight).toBe(0);
  });

  it("fails what is in flight to a failed peer only, and a callback's new request survives that failure", () => {
    const { rpc, sent } = setup();
    const errors: string[] = [];
    let resent = false;
    for (let i = 0; i < 3; i++) {
      rpc.call('n2', { type: 'sub', channel: `app:${i}` }, 1000, (_b, err) => {
        errors.push(`${i}: ${why(err)}`);
        if (!resent) {
          resent = true;
          // Sent again from inside the failure (as a publisher retries): not failed by it.
          rpc.call('n2', { type: 'sub', channel: 'app:again' }, 1000, (b, e) => errors.push(`again: ${why(e) ?? b?.kind}`));
        }
      });
    }
    rpc.call('n3', { type: 'sub', channel: 'app:other' }, 1000, (_b, e) => errors.push(`n3: ${why(e)}`));
    rpc.failPeer('n2', 'link down');
    expect(errors).toEqual(['0: n2 is unreachable: link down', '1: n2 is unreachable: link down', '2: n2 is unreachable: link down']);
    expect(rpc.inFlight).toBe(2);
    const again = sent.find((s) => (s.msg as { channel?: string }).channel === 'app:again')!;
    rpc.onReply('n2', { type: 'reply', rid: again.msg.rid, body: { kind: 'ok' } });
    rpc.failAll('stopping');
    expect(errors.slice(3)).toEqual(['again: ok', 'n3: stopping']);
    expect(rpc.inFlight).toBe(0);
  });
});
