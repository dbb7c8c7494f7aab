/**
 * Request/reply over a region transport: each request gets one answer (its reply, a
 * timeout, its peer failing, or shutdown), and the request keeps its fields and gets an id.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AblyError } from '../../../src/errors.js';
import type { NodeMessage, ReplyBody } from '../../../src/transport/messages.js';
import { decodeNodeMessage, encodeNodeMessage } from '../../../src/transport/node-codec.js';
import { Rpc } from '../../../src/transport/rpc.js';
import type { RegionTransport } from '../../../src/transport/transport.js';

function setup(incarnations?: Record<string, number>) {
  const sent: { to: string; msg: NodeMessage & { rid: number } }[] = [];
  const transport = { self: 'n1', send: (to: string, msg: NodeMessage) => void sent.push({ to, msg: msg as NodeMessage & { rid: number } }) } as unknown as RegionTransport;
  return { rpc: new Rpc(transport, incarnations ? (node) => incarnations[node] : undefined, 1), sent };
}

const published = (s: string): ReplyBody => ({ kind: 'published', serials: [s], epoch: 'e1' });
/** An AblyError's own words, without the description of its code in front. */
const why = (e: AblyError) => e.message.replace(/^[^:]*: /, '');
/** How a request ended: its reply, or its error's code and words. */
const outcome = (p: Promise<ReplyBody>) => p.then((body) => ({ body }), (e: AblyError) => ({ code: e.code, why: why(e) }));

afterEach(() => {
  vi.useRealTimers();
});

describe('Rpc', () => {
  it('numbers requests, keeps their fields, and settles each with its own reply only', async () => {
    const { rpc, sent } = setup();
    const a = rpc.request('n2', { type: 'publish', channel: 'app:c', messages: [], after: 'x' }, 1000);
    const b = rpc.request('n3', { type: 'sub', channel: 'app:c' }, 1000);
    expect(sent.map((s) => [s.to, s.msg.type, s.msg.rid])).toEqual([
      ['n2', 'publish', 1],
      ['n3', 'sub', 2],
    ]);
    expect(sent[0]!.msg).toEqual({ rid: 1, toIncarnation: 0, type: 'publish', channel: 'app:c', messages: [], after: 'x' });
    // A reply from the wrong node, or for an unknown id, is ignored.
    rpc.onReply('n3', { type: 'reply', rid: 1, body: published('wrong') });
    rpc.onReply('n2', { type: 'reply', rid: 99, body: published('unknown') });
    rpc.onReply('n3', { type: 'reply', rid: 2, body: { kind: 'ok' } });
    rpc.onReply('n2', { type: 'reply', rid: 1, body: published('e:1') });
    expect(await a).toEqual(published('e:1'));
    expect(await b).toEqual({ kind: 'ok' });
    expect(rpc.inFlight).toBe(0);
  });

  it('names in each request the life of its node as known when it is sent (0 where unknown)', () => {
    const incarnations: Record<string, number> = { n2: 1000 };
    const { rpc, sent } = setup(incarnations);
    void rpc.request('n2', { type: 'sub', channel: 'app:c' }, 1000).catch(() => undefined);
    incarnations.n2 = 2000; // n2 came back as a new life
    void rpc.request('n2', { type: 'sub', channel: 'app:c' }, 1000).catch(() => undefined);
    void rpc.request('n3', { type: 'sub', channel: 'app:c' }, 1000).catch(() => undefined);
    expect(sent.map((s) => [s.to, (s.msg as { toIncarnation?: number }).toIncarnation])).toEqual([
      ['n2', 1000],
      ['n2', 2000],
      ['n3', 0],
    ]);
    rpc.failAll('done');
  });

  it("refuses with a retry a request that moves a channel's state sent to an earlier life of this node; serves the rest", () => {
    const { rpc, sent } = setup({ n1: 2000 });
    const handoff = (toIncarnation: number): NodeMessage => ({ type: 'claim', rid: 5, channel: 'app:c', toIncarnation });
    expect(rpc.refusedForEarlierLife('n2', handoff(1000))).toBe(true);
    expect(sent).toEqual([{ to: 'n2', msg: { type: 'reply', rid: 5, body: { kind: 'retry', reason: 'n1 has started a new incarnation since n2 sent this claim' } } }]);
    // For this life, or naming none (an older build): served.
    expect(rpc.refusedForEarlierLife('n2', handoff(2000))).toBe(false);
    expect(rpc.refusedForEarlierLife('n2', handoff(0))).toBe(false);
    // The connection directory outlives a new life: served whatever life it names.
    expect(rpc.refusedForEarlierLife('n2', { type: 'connTake', rid: 6, connectionId: 'c', host: 'n3', toIncarnation: 1000 })).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it('times a request out with 50003, once, tells onTimeout, and ignores a reply after it', async () => {
    vi.useFakeTimers();
    const { rpc, sent } = setup();
    const told: string[] = [];
    rpc.onTimeout = (to, req, rid, ms) => void told.push(`${to} ${req.type} ${rid} ${ms}`);
    const a = outcome(rpc.request('n2', { type: 'sub', channel: 'app:c' }, 200));
    const b = outcome(rpc.request('n2', { type: 'sub', channel: 'app:d' }, 300));
    vi.advanceTimersByTime(200);
    expect(rpc.inFlight).toBe(1);
    rpc.onReply('n2', { type: 'reply', rid: sent[0]!.msg.rid, body: { kind: 'ok' } });
    expect(await a).toEqual({ code: 50003, why: 'no reply from n2 to sub within 200 ms' });
    rpc.onReply('n2', { type: 'reply', rid: sent[1]!.msg.rid, body: { kind: 'ok' } });
    vi.advanceTimersByTime(200);
    expect(await b).toEqual({ body: { kind: 'ok' } });
    expect(rpc.inFlight).toBe(0);
    expect(told).toEqual(['n2 sub 1 200']);
  });

  it('fails what is in flight to a failed peer only; failAll fails the rest', async () => {
    const { rpc } = setup();
    const toN2 = [0, 1, 2].map((i) => outcome(rpc.request('n2', { type: 'sub', channel: `app:${i}` }, 1000)));
    const toN3 = outcome(rpc.request('n3', { type: 'sub', channel: 'app:other' }, 1000));
    rpc.failPeer('n2', 'link down');
    expect(await Promise.all(toN2)).toEqual([0, 1, 2].map(() => ({ code: 90007, why: 'n2 is unreachable: link down' })));
    expect(rpc.inFlight).toBe(1);
    rpc.failAll('stopping');
    expect(await toN3).toEqual({ code: 90007, why: 'stopping' });
    expect(rpc.inFlight).toBe(0);
  });

  it('keeps request ids within what the wire and V8 hold small (wrapping to 1), and starts each life at a random one', () => {
    // Counted on past 2^32, every request failed to encode ("invalid uint32").
    const sent: NodeMessage[] = [];
    const transport = { self: 'n1', send: (_to: string, msg: NodeMessage) => void sent.push(msg) } as unknown as RegionTransport;
    const rpc = new Rpc(transport, undefined, 2 ** 30 - 2);
    for (let i = 0; i < 3; i++) void rpc.request('n2', { type: 'sub', channel: 'app:c' }, 1000).catch(() => undefined);
    const rids = sent.map((m) => (m as { rid: number }).rid);
    expect(rids).toEqual([2 ** 30 - 2, 2 ** 30 - 1, 1]);
    for (const m of sent) expect(decodeNodeMessage(encodeNodeMessage(m))).toMatchObject({ rid: (m as { rid: number }).rid });
    rpc.failAll('done');
    // A reply queued for an earlier life of this node must not match a request of this one.
    const starts = Array.from({ length: 4 }, () => {
      const out: NodeMessage[] = [];
      const r = new Rpc({ self: 'n1', send: (_to: string, msg: NodeMessage) => void out.push(msg) } as unknown as RegionTransport);
      void r.request('n2', { type: 'sub', channel: 'app:c' }, 1000).catch(() => undefined);
      r.failAll('done');
      return (out[0] as { rid: number }).rid;
    });
    expect(new Set(starts).size).toBe(4);
    for (const rid of starts) expect(rid >= 1 && rid < 2 ** 30).toBe(true);
  });
});
