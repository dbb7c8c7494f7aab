/**
 * Annotations (Ably's message annotations, on a namespace with the `mutableMessages`
 * rule) across two regions, with the real SDK in both formats: annotations published in
 * either region reach the subscribers that asked for ANNOTATION_SUBSCRIBE in both, each
 * once; subscribers that take messages are sent each summary (`message.summary`); every
 * region's summary ends the same, and history and `getMessage` show it; REST publishes and
 * lists them; what cannot be done is refused.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Annotation, InboundMessage } from 'ably';
import { describe, expect, it } from 'vitest';
import { regionsDeployment } from '../helpers/deployment.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { OWN_KEY } from '../helpers/topology.js';
import { rejectionOf } from '../helpers/errors.js';
import { waitFor } from '../helpers/wait.js';

const deployment = regionsDeployment([
  { name: 'r1', nodes: 2 },
  { name: 'r2', nodes: 1 },
]);

/** A channel's messages on `c` (summaries among them), collected in order. */
async function messagesOn(c: Realtime, channel: string): Promise<InboundMessage[]> {
  const got: InboundMessage[] = [];
  await c.channels.get(channel).subscribe((m) => void got.push(m));
  return got;
}

/** A channel's annotations on `c`, which asks for the ANNOTATION_SUBSCRIBE mode. */
async function annotationsOn(c: Realtime, channel: string): Promise<Annotation[]> {
  const got: Annotation[] = [];
  const ch = c.channels.get(channel, { modes: ['SUBSCRIBE', 'ANNOTATION_SUBSCRIBE'] as never });
  await ch.annotations.subscribe((a) => void got.push(a));
  return got;
}

/** The last summary among these messages (a `message.summary`'s). */
const lastSummary = (ms: InboundMessage[]) => ms.filter((m) => m.action === 'message.summary').at(-1)?.annotations?.summary;

const entry = (clientIds: string[]) => ({ total: clientIds.length, clientIds, clipped: false });

/** A check for waitFor: the last summary among `msgs` is `expected` (else it throws what it is, so a wait that times out says). */
const summaryIs = (msgs: InboundMessage[], expected: unknown) => () => {
  const got = lastSummary(msgs);
  if (!isDeepStrictEqual(got, expected)) throw new Error(`the last summary is ${JSON.stringify(got)}`);
  return true;
};

describe('annotations', () => {
  it('reach annotation subscribers and summaries reach message subscribers in both regions; every region sums them up the same, and history and getMessage show it', { timeout: 60_000 }, async () => {
    const d = deployment();
    const channel = 'mutable:ann-1';
    const alice = realtime(d.port('r1-n1'), { clientId: 'alice' });
    const bob = realtime(d.port('r2-n1'), { clientId: 'bob', useBinaryProtocol: false });
    const watchR1 = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const watchR2 = realtime(d.port('r2-n1'));
    try {
      const msgsR1 = await messagesOn(watchR1, channel);
      // A channel's modes are set where it is first got: then its messages too.
      const annsR2 = await annotationsOn(watchR2, channel);
      const msgsR2 = await messagesOn(watchR2, channel);
      const annsR1 = await annotationsOn(alice, channel);
      const [serial] = (await alice.channels.get(channel).publish({ name: 'post', data: 'hello' })).serials;
      await waitFor(() => msgsR2.length === 1, { what: 'the message in r2', timeoutMs: 5_000 });
      const a = alice.channels.get(channel).annotations;
      const b = bob.channels.get(channel).annotations;
      // From both regions at once, then a delete, a move and more counts.
      await Promise.all([
        a.publish(serial!, { type: 'reactions:distinct.v1', name: '👍' }),
        b.publish(serial!, { type: 'reactions:distinct.v1', name: '👍' }),
        b.publish(serial!, { type: 'reactions:distinct.v1', name: '❤️' }),
        a.publish(serial!, { type: 'votes:unique.v1', name: 'a' }),
        b.publish(serial!, { type: 'counts:multiple.v1', name: 'x', count: 3 }),
        a.publish(serial!, { type: 'flags:flag.v1' }),
        a.publish(serial!, { type: 'views:total.v1' }),
        b.publish(serial!, { type: 'views:total.v1', data: { seen: true } }),
      ]);
      await b.delete(serial!, { type: 'reactions:distinct.v1', name: '👍' });
      await a.publish(serial!, { type: 'votes:unique.v1', name: 'b' });
      await b.publish(serial!, { type: 'counts:multiple.v1', name: 'x', count: 2 });
      const expected = {
        'reactions:distinct.v1': { '👍': entry(['alice']), '❤️': entry(['bob']) },
        'votes:unique.v1': { b: entry(['alice']) },
        'counts:multiple.v1': { x: { total: 5, clientIds: { bob: 5 }, totalUnidentified: 0, clipped: false, totalClientIds: 1 } },
        'flags:flag.v1': entry(['alice']),
        'views:total.v1': { total: 2 },
      };
      for (const [where, msgs] of [
        ['r1', msgsR1],
        ['r2', msgsR2],
      ] as const) {
        await waitFor(summaryIs(msgs, expected), { what: `the summary in ${where}`, timeoutMs: 10_000 });
        expect(msgs.filter((m) => m.action === 'message.summary').every((m) => m.serial === serial), where).toBe(true);
      }
      // Every annotation once, in each region, as it was published.
      for (const anns of [annsR1, annsR2]) {
        await waitFor(() => anns.length === 11, { what: 'every annotation', timeoutMs: 5_000 });
        expect(new Set(anns.map((x) => x.serial)).size).toBe(11);
        expect(anns.every((x) => x.messageSerial === serial && x.serial! > serial!)).toBe(true);
      }
      const deleted = annsR2.find((x) => x.action === 'annotation.delete')!;
      expect(deleted).toMatchObject({ type: 'reactions:distinct.v1', name: '👍', clientId: 'bob' });
      expect(annsR1.find((x) => x.type === 'views:total.v1' && x.clientId === 'bob')?.data).toEqual({ seen: true });

      for (const node of ['r1-n1', 'r1-n2', 'r2-n1']) {
        const ch = rest(d.port(node)).channels.get(channel);
        const m = await ch.getMessage(serial!);
        expect({ data: m.data, summary: m.annotations?.summary }, node).toEqual({ data: 'hello', summary: expected });
        expect((await ch.history()).items.map((x) => [x.data, x.annotations?.summary]), node).toEqual([['hello', expected]]);
        const listed = await ch.annotations.get(serial!, {});
        expect(listed.items.map((x) => x.serial), node).toEqual(annsR2.map((x) => x.serial).sort());
      }
      // A rewind reads history: the message with its summary, and no annotation as a message.
      const late = realtime(d.port('r2-n1'));
      try {
        const back: InboundMessage[] = [];
        await late.channels.get(channel, { params: { rewind: '5' } }).subscribe((m) => void back.push(m));
        await waitFor(() => back.length === 1, { what: 'the rewound message', timeoutMs: 5_000 });
        expect(back.map((m) => [m.action, m.data, m.annotations?.summary])).toEqual([['message.create', 'hello', expected]]);
      } finally {
        late.close();
      }
    } finally {
      closeAll(alice, bob, watchR1, watchR2);
    }
  });

  it('over REST: publish, delete and list them page by page', { timeout: 30_000 }, async () => {
    const d = deployment();
    const channel = 'mutable:ann-rest';
    const r = rest(d.port('r1-n2'), { clientId: 'carol' });
    const watch = realtime(d.port('r1-n1'));
    try {
      const msgs = await messagesOn(watch, channel);
      const [serial] = (await r.channels.get(channel).publish('m', 'x')).serials;
      for (const name of ['a', 'b', 'c']) await r.channels.get(channel).annotations.publish(serial!, { type: 't:distinct.v1', name });
      await r.channels.get(channel).annotations.delete(serial!, { type: 't:distinct.v1', name: 'b' });
      const first = await r.channels.get(channel).annotations.get(serial!, { limit: 3 });
      expect(first.items.map((x) => [x.action, x.name, x.clientId])).toEqual([
        ['annotation.create', 'a', 'carol'],
        ['annotation.create', 'b', 'carol'],
        ['annotation.create', 'c', 'carol'],
      ]);
      const second = await first.next();
      expect(second?.items.map((x) => [x.action, x.name])).toEqual([['annotation.delete', 'b']]);
      await waitFor(summaryIs(msgs, { 't:distinct.v1': { a: entry(['carol']), c: entry(['carol']) } }), {
        what: 'the summary after the delete',
        timeoutMs: 5_000,
      });
    } finally {
      closeAll(watch);
    }
  });

  it('refuse what cannot be done, and grant ANNOTATION_SUBSCRIBE only where asked for and allowed', { timeout: 30_000 }, async () => {
    const d = deployment();
    const channel = 'mutable:ann-refused';
    const c = realtime(d.port('r1-n1'), { clientId: 'dan' });
    const anonymous = realtime(d.port('r1-n1'));
    const limited = realtime(d.port('r1-n2'), { key: OWN_KEY, clientId: 'erin' });
    try {
      const ch = c.channels.get(channel);
      const [serial] = (await ch.publish({ data: 'x' })).serials;
      const [plain] = (await c.channels.get('ann-plain').publish({ data: 'p' })).serials;
      const refused = async (p: Promise<unknown>) => rejectionOf(p);
      expect(await refused(c.channels.get('ann-plain').annotations.publish(plain!, { type: 'r:distinct.v1', name: 'n' }))).toMatchObject({ code: 93002, statusCode: 400 });
      expect(await refused(ch.annotations.publish(serial!, { name: 'n' } as never))).toMatchObject({ code: 40003 });
      expect(await refused(ch.annotations.publish(serial!, { type: 'r:sum.v9', name: 'n' }))).toMatchObject({ code: 40003 });
      expect(await refused(ch.annotations.publish(serial!, { type: 'r:distinct.v1' }))).toMatchObject({ code: 40003 });
      expect(await refused(ch.annotations.publish(serial!, { type: 'r:multiple.v1', name: 'n', count: 0 }))).toMatchObject({ code: 40003 });
      expect(await refused(anonymous.channels.get(channel).annotations.publish(serial!, { type: 'r:flag.v1' }))).toMatchObject({ code: 40012 });
      expect(await refused(ch.annotations.publish(serial!.replace(/@r1:/, '@r2:'), { type: 'r:total.v1' }))).toMatchObject({ code: 40400, statusCode: 404 });
      expect(await refused(limited.channels.get(channel).annotations.publish(serial!, { type: 'r:total.v1' }))).toMatchObject({ code: 40160 });
      // Anyone may count a total.v1, unidentified too.
      await anonymous.channels.get(channel).annotations.publish(serial!, { type: 'r:total.v1' });
      const listed = await rest(d.port('r1-n2')).channels.get(channel).annotations.get(serial!, {});
      expect(listed.items.map((x) => [x.type, x.clientId])).toEqual([['r:total.v1', undefined]]);

      // Not asked for: the SDK refuses to subscribe (93001), as it does where the capability does not allow it.
      const unasked = c.channels.get('mutable:ann-modes');
      expect(await refused(unasked.annotations.subscribe(() => {}))).toMatchObject({ code: 93001 });
      const notAllowed = limited.channels.get('mutable:ann-modes', { modes: ['SUBSCRIBE', 'ANNOTATION_SUBSCRIBE'] as never });
      expect(await refused(notAllowed.annotations.subscribe(() => {}))).toMatchObject({ code: 93001 });
      expect(notAllowed.modes).toEqual(['subscribe']);
    } finally {
      closeAll(c, anonymous, limited);
    }
  });
});
