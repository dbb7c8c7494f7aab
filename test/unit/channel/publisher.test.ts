/**
 * The pipelined publisher: publishes of one source to one channel go out back to back,
 * each naming the one ahead of it; after a failure everything unanswered is resent, in
 * order, to the channel's current master; replies may come in any order.
 */
import { describe, expect, it } from 'vitest';
import { ChannelPublisher } from '../../../src/channel/publisher.js';
import type { ReplyBody } from '../../../src/transport/messages.js';
import type { Rpc } from '../../../src/transport/rpc.js';

interface Sent {
  to: string;
  id: string;
  after: string | undefined;
  reply(body: ReplyBody): void;
}

function setup(owner: { current: string }) {
  const sent: Sent[] = [];
  const rpc = {
    request: (to: string, req: { messages: { id: string }[]; after?: string }) =>
      new Promise<ReplyBody>((resolve) => sent.push({ to, id: req.messages[0]!.id, after: req.after, reply: resolve })),
  } as unknown as Rpc;
  const pub = new ChannelPublisher({ rpc, ownerOf: () => owner.current, now: () => Date.now(), timeoutMs: 10_000 });
  const publish = (i: number) => pub.send('conn', 'app\u0000ch', { type: 'publish', messages: [{ id: `m${i}`, timestamp: 0 }] });
  return { sent, publish };
}

const ok = (i: number): ReplyBody => ({ kind: 'published', serials: [`s${i}`] }) as ReplyBody;

describe('ChannelPublisher', () => {
  it('sends each publish once, at once, naming the one ahead; resolves them whatever the reply order', async () => {
    const { sent, publish } = setup({ current: 'n1' });
    const results = Array.from({ length: 500 }, (_, i) => publish(i));
    expect(sent.map((s) => s.id)).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    expect(sent.map((s) => s.after)).toEqual([undefined, ...Array.from({ length: 499 }, (_, i) => `m${i}`)]);
    // Replies in reverse order.
    for (let i = 499; i >= 0; i--) sent[i]!.reply(ok(i));
    expect(await Promise.all(results)).toEqual(Array.from({ length: 500 }, (_, i) => [`s${i}`]));
    // Later publishes are sent once each, and name only what is still unanswered.
    const more = [publish(500), publish(501)];
    expect(sent.slice(500).map((s) => [s.id, s.after])).toEqual([
      ['m500', undefined],
      ['m501', 'm500'],
    ]);
    sent[500]!.reply(ok(500));
    sent[501]!.reply(ok(501));
    expect(await Promise.all(more)).toEqual([['s500'], ['s501']]);
  });

  it('after a redirect resends everything unanswered, in order, to the new master only', async () => {
    const owner = { current: 'n1' };
    const { sent, publish } = setup(owner);
    const results = Array.from({ length: 5 }, (_, i) => publish(i));
    sent[0]!.reply(ok(0));
    owner.current = 'n2';
    sent[2]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    // m1, m3, m4 are still in flight at n1: nothing goes to n2 until they settle.
    publish(5).catch(() => undefined);
    expect(sent.filter((s) => s.to === 'n2')).toEqual([]);
    sent[1]!.reply(ok(1));
    sent[3]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    sent[4]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    const deadline = Date.now() + 2000;
    while (sent.filter((s) => s.to === 'n2').length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const resent = sent.filter((s) => s.to === 'n2');
    expect(resent.map((s) => [s.id, s.after])).toEqual([
      ['m2', undefined],
      ['m3', 'm2'],
      ['m4', 'm3'],
      ['m5', 'm4'],
    ]);
    resent.forEach((s, i) => s.reply(ok(i + 2)));
    expect(await Promise.all(results)).toEqual([['s0'], ['s1'], ['s2'], ['s3'], ['s4']]);
  });
});
