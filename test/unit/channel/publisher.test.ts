/**
 * The pipelined publisher: the publishes of one source to one channel in one turn go out
 * as one request, naming the publish ahead of them; requests go out back to back; after
 * a failure everything unanswered is resent, in order, to the channel's current master;
 * replies may come in any order; a group refused as a whole is asked again one by one.
 */
import { describe, expect, it } from 'vitest';
import { ChannelPublisher, MAX_GROUP_ITEMS } from '../../../src/channel/publisher.js';
import type { ReplyBody } from '../../../src/transport/messages.js';
import type { Rpc } from '../../../src/transport/rpc.js';
import { AblyError } from '../../../src/errors.js';
import { waitFor } from '../../helpers/wait.js';

interface Sent {
  to: string;
  ids: string[];
  after: string | undefined;
  /** The epoch a resend names (PublishRequest.epoch). */
  epoch: string | undefined;
  reply(body: ReplyBody): void;
  /** No answer: a timeout, or the master's node died. */
  fail(err: AblyError): void;
}

const KEY = 'app\u0000ch';

function setup(owner: { current: string }) {
  const sent: Sent[] = [];
  const rpc = {
    request: (to: string, req: { messages?: { id: string }[]; presence?: { id: string }[]; after?: string; epoch?: string }) =>
      new Promise<ReplyBody>((resolve, reject) =>
        sent.push({ to, ids: (req.messages ?? req.presence ?? []).map((m) => m.id), after: req.after, epoch: req.epoch, reply: resolve, fail: reject }),
      ),
  } as unknown as Rpc;
  const pub = new ChannelPublisher({ rpc, ownerOf: () => owner.current, now: () => Date.now(), timeoutMs: 10_000 });
  const publish = (i: number, data?: string) =>
    pub.send('conn', KEY, { type: 'publish', messages: [{ id: `m${i}`, timestamp: 0, ...(data ? { data } : {}) }] }, data?.length ?? 0);
  return { sent, publish, pub };
}

/** Lets the current turn end (what was published in it goes out). */
const turn = () => new Promise<void>((r) => setImmediate(r));

const published = (...serials: string[]): ReplyBody => ({ kind: 'published', serials, epoch: 'E0' }) as ReplyBody;
/** A master of `epoch` answers, with message serials (which name their region, here another's, and not the epoch). */
const publishedIn = (epoch: string, ...serials: string[]): ReplyBody => ({ kind: 'published', serials, epoch });
const range = <T,>(from: number, to: number, f: (i: number) => T): T[] => Array.from({ length: to - from }, (_, k) => f(from + k));

async function until(what: () => boolean): Promise<void> {
  await waitFor(what, { intervalMs: 5, timeoutMs: 5000 });
}

describe('ChannelPublisher', () => {
  it('sends the publishes of one turn as one request naming the one ahead, and gives each its own serials whatever the reply order', async () => {
    const { sent, publish } = setup({ current: 'n1' });
    const first = range(0, 5, (i) => publish(i));
    expect(sent).toEqual([]); // nothing before the turn ends
    await turn();
    expect(sent.map((s) => [s.ids, s.after])).toEqual([[['m0', 'm1', 'm2', 'm3', 'm4'], undefined]]);
    const second = [publish(5), publish(6)];
    await turn();
    expect(sent.map((s) => [s.ids, s.after])[1]).toEqual([['m5', 'm6'], 'm4']);
    // Replies in reverse order.
    sent[1]!.reply(published('s5', 's6'));
    sent[0]!.reply(published('s0', 's1', 's2', 's3', 's4'));
    expect(await Promise.all(first)).toEqual(range(0, 5, (i) => `s${i}`).map((s) => [s]));
    expect(await Promise.all(second)).toEqual([['s5'], ['s6']]);
    expect(sent).toHaveLength(2);
  });

  it('caps a request at MAX_GROUP_ITEMS publishes and about a mebibyte of messages', async () => {
    const { sent, publish } = setup({ current: 'n1' });
    const n = 2 * MAX_GROUP_ITEMS + 10;
    const all = range(0, n, (i) => publish(i));
    await turn();
    expect(sent.map((s) => [s.ids.length, s.after])).toEqual([
      [MAX_GROUP_ITEMS, undefined],
      [MAX_GROUP_ITEMS, `m${MAX_GROUP_ITEMS - 1}`],
      [10, `m${2 * MAX_GROUP_ITEMS - 1}`],
    ]);
    for (const s of sent) s.reply(published(...s.ids.map((id) => `s${id}`)));
    expect((await Promise.all(all)).flat()).toEqual(range(0, n, (i) => `sm${i}`));

    const big = setup({ current: 'n1' });
    const data = 'x'.repeat(300_000);
    const bigs = range(0, 7, (i) => big.publish(i, data));
    await turn();
    expect(big.sent.map((s) => s.ids)).toEqual([['m0', 'm1', 'm2'], ['m3', 'm4', 'm5'], ['m6']]);
    for (const s of big.sent) s.reply(published(...s.ids));
    expect((await Promise.all(bigs)).flat()).toEqual(range(0, 7, (i) => `m${i}`));
  });

  it('sends presence operations on their own, between the groups of publishes around them', async () => {
    const { sent, publish, pub } = setup({ current: 'n1' });
    const a = [publish(0), publish(1)];
    const p = pub.send('conn', KEY, { type: 'presence', presence: [{ id: 'p2', action: 2, clientId: 'c', timestamp: 0 }] as never, since: 0 });
    const b = publish(3);
    await turn();
    expect(sent.map((s) => [s.ids, s.after])).toEqual([
      [['m0', 'm1'], undefined],
      [['p2'], 'm1'],
      [['m3'], 'p2'],
    ]);
    sent[0]!.reply(published('s0', 's1'));
    sent[1]!.reply({ kind: 'ok' } as ReplyBody);
    sent[2]!.reply(published('s3'));
    expect(await Promise.all([...a, p, b])).toEqual([['s0'], ['s1'], [], ['s3']]);
  });

  it('asks again one publish at a time when the master refuses a group as a whole, so each gets its own answer', async () => {
    const { sent, publish } = setup({ current: 'n1' });
    const results = [0, 1, 2].map((i) => publish(i).then((s) => s, (e: AblyError) => e.code));
    await turn();
    expect(sent.map((s) => s.ids)).toEqual([['m0', 'm1', 'm2']]);
    sent[0]!.reply({ kind: 'error', error: AblyError.of('channelRateLimited', 'too fast').toInfo() } as ReplyBody);
    await until(() => sent.length === 4);
    expect(sent.slice(1).map((s) => [s.ids, s.after])).toEqual([
      [['m0'], undefined],
      [['m1'], 'm0'],
      [['m2'], 'm1'],
    ]);
    sent[1]!.reply(published('s0'));
    sent[2]!.reply({ kind: 'error', error: AblyError.of('channelRateLimited', 'too fast').toInfo() } as ReplyBody);
    sent[3]!.reply(published('s2'));
    expect(await Promise.all(results)).toEqual([['s0'], 42913, ['s2']]);
    expect(sent).toHaveLength(4);
  });

  it('treats a send that throws as a failed attempt: the publishes fail at their deadline, nothing throws outside them', async () => {
    const rpc = {
      request: () => {
        throw new Error('transport broke');
      },
    } as unknown as Rpc;
    const pub = new ChannelPublisher({ rpc, ownerOf: () => 'n1', now: () => Date.now(), timeoutMs: 200 });
    const results = [0, 1].map((i) => pub.send('conn', KEY, { type: 'publish', messages: [{ id: `m${i}`, timestamp: 0 }] }).then(() => 0, (e: AblyError) => e.code));
    // Attempts fail like unanswered ones, until the publishes' deadline.
    const code = AblyError.of('channelNoResponse', 'x').code;
    expect(await Promise.all(results)).toEqual([code, code]);
    expect(pub.activeStreams).toBe(0);
  });

  it('after a redirect resends everything unanswered, in order, to the new master only', async () => {
    const owner = { current: 'n1' };
    const { sent, publish } = setup(owner);
    const results: Promise<string[]>[] = [];
    for (let i = 0; i < 5; i++) {
      results.push(publish(i));
      await turn();
    }
    expect(sent.map((s) => [s.ids, s.after])).toEqual(range(0, 5, (i) => [[`m${i}`], i ? `m${i - 1}` : undefined]));
    sent[0]!.reply(published('s0'));
    owner.current = 'n2';
    sent[2]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    // m1, m3, m4 are still in flight at n1: nothing goes to n2 until they settle.
    publish(5).catch(() => undefined);
    await turn();
    expect(sent.filter((s) => s.to === 'n2')).toEqual([]);
    sent[1]!.reply(published('s1'));
    sent[3]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    sent[4]!.reply({ kind: 'redirect', owner: 'n2' } as ReplyBody);
    await until(() => sent.some((s) => s.to === 'n2'));
    const resent = sent.filter((s) => s.to === 'n2');
    // Resent together, as one request: m2 first, named after nothing still unanswered.
    expect(resent.map((s) => [s.ids, s.after])).toEqual([[['m2', 'm3', 'm4', 'm5'], undefined]]);
    resent[0]!.reply(published('s2', 's3', 's4', 's5'));
    expect(await Promise.all(results)).toEqual([['s0'], ['s1'], ['s2'], ['s3'], ['s4']]);
  });

  it('names the epoch the channel was in when a publish was first sent; one that may have been ordered there fails (90002) where another epoch refuses it, one that was not goes again', async () => {
    const owner = { current: 'n1' };
    const { sent, publish } = setup(owner);
    const first = publish(0);
    await turn();
    expect(sent[0]).toMatchObject({ ids: ['m0'], epoch: undefined }); // nothing known yet
    sent[0]!.reply(publishedIn('E1', '01764000000000-11@us:U1'));
    expect(await first).toEqual(['01764000000000-11@us:U1']);
    // m1 goes unanswered (its master died): it may have been ordered in E1.
    const lost = publish(1);
    await turn();
    expect(sent[1]).toMatchObject({ ids: ['m1'], epoch: 'E1' });
    owner.current = 'n2';
    sent[1]!.fail(AblyError.of('timeout', 'no reply'));
    await until(() => sent.length === 3);
    expect(sent[2]).toMatchObject({ to: 'n2', ids: ['m1'], epoch: 'E1' });
    // The new master is of another epoch: the state m1 may have been ordered in is gone.
    sent[2]!.reply({ kind: 'error', error: AblyError.of('channelEpochExpired', 'state lost').toInfo() });
    await expect(lost).rejects.toMatchObject({ code: 90002 });
    // m2 is refused for its epoch at once: never out of our hands, it goes again unnamed.
    const moved = publish(2);
    await turn();
    expect(sent[3]).toMatchObject({ to: 'n2', ids: ['m2'], epoch: 'E1' });
    sent[3]!.reply({ kind: 'error', error: AblyError.of('channelEpochExpired', 'state lost').toInfo() });
    await until(() => sent.length === 5);
    expect(sent[4]).toMatchObject({ to: 'n2', ids: ['m2'], epoch: undefined });
    sent[4]!.reply(publishedIn('E2', '01764000000001-11@eu:E2'));
    expect(await moved).toEqual(['01764000000001-11@eu:E2']);
    // From then on publishes name E2.
    const next = publish(3);
    await turn();
    expect(sent[5]).toMatchObject({ ids: ['m3'], epoch: 'E2' });
    sent[5]!.reply(publishedIn('E2', '01764000000002-12@eu:E2'));
    expect(await next).toEqual(['01764000000002-12@eu:E2']);
  });
});
