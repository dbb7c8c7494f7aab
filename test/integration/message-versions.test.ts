/**
 * Message versions (Ably's updates, deletes and appends, on a namespace with the
 * `mutableMessages` rule) across two regions, with the real SDK: each change is sent to
 * subscribers in both regions as it comes (an append as its fragment), and history,
 * `getMessage` and rewind show the message as it stands, in both regions, whichever
 * region changed it; concurrent changes in two regions end the same in both; the
 * capabilities `-own` and `-any` are held to; what cannot be done is refused.
 */
import { decode } from '@ably/vcdiff-decoder';
import type { InboundMessage } from 'ably';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { OWN_KEY } from '../helpers/topology.js';
import { rejectionOf } from '../helpers/errors.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({
    regions: [
      { name: 'r1', nodes: 2 },
      { name: 'r2', nodes: 1 },
    ],
    limits: { maxMessageSize: 4096 },
  });
  await regionLinksUp(d, ['r1', 'r2']);
}, 90_000);

afterAll(async () => {
  await d?.stop();
});

/** Subscribes on `c` and collects what it is sent, in order. */
async function collect(c: Realtime, channel: string, opts: Record<string, unknown> = {}): Promise<InboundMessage[]> {
  const got: InboundMessage[] = [];
  await c.channels.get(channel, opts).subscribe((m) => {
    got.push(m);
  });
  return got;
}


const seen = (ms: InboundMessage[]) => ms.map((m) => [m.action, m.data, m.serial]);

describe('message versions', () => {
  it('send each change live in both regions, and show the message as it stands in both histories, getMessage and rewind', { timeout: 60_000 }, async () => {
    const channel = 'mutable:versions-1';
    const alice = realtime(d.port('r1-n1'), { clientId: 'alice' });
    const inR1 = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const inR2 = realtime(d.port('r2-n1'));
    try {
      const r1 = await collect(inR1, channel);
      const r2 = await collect(inR2, channel);
      const ch = alice.channels.get(channel);
      const [serial] = (await ch.publish({ name: 'greeting', data: 'Hello' })).serials;
      await waitFor(() => r1.length === 1 && r2.length === 1, { what: 'the create', timeoutMs: 5_000 });
      const original = r1[0]!;
      expect(original).toMatchObject({ action: 'message.create', serial, clientId: 'alice' });
      const versions: string[] = [];
      const step = async (p: Promise<{ versionSerial: string | null }>) => versions.push((await p).versionSerial!);
      await step(ch.appendMessage({ serial, data: ' World' } as never));
      await step(ch.appendMessage({ serial, data: '!' } as never));
      await step(ch.updateMessage({ ...original, data: 'Hi' } as never, { description: 'shorter', metadata: { why: 'tone' } }));
      await step(ch.appendMessage({ serial, data: ' all' } as never));
      // As r1 stands it at once (it ACKed the append), and r2 once the append has crossed.
      expect((await rest(d.port('r1-n2')).channels.get(channel).getMessage(serial!)).data).toBe('Hi all');
      const inOther = () => rest(d.port('r2-n1')).channels.get(channel).getMessage(serial!);
      await waitFor(async () => (await inOther()).data === 'Hi all', { what: 'the appends in r2', timeoutMs: 5_000 });
      const standing = await inOther();
      expect({ action: standing.action, data: standing.data, name: standing.name, id: standing.id }).toEqual({ action: 'message.update', data: 'Hi all', name: 'greeting', id: original.id });
      // Given no data, a delete keeps what the message had (given the message received, ably-js would send its data again, which would stand).
      await step(ch.deleteMessage({ serial } as never, { description: 'gone' }));
      expect(versions.every((v, i) => v > (i ? versions[i - 1]! : serial!))).toBe(true);

      const live = [
        ['message.create', 'Hello', serial],
        ['message.append', ' World', serial],
        ['message.append', '!', serial],
        ['message.update', 'Hi', serial],
        ['message.append', ' all', serial],
        ['message.delete', 'Hi all', serial],
      ];
      await waitFor(() => r1.length === 6 && r2.length === 6, { what: 'every change in both regions', timeoutMs: 5_000 });
      expect(seen(r1)).toEqual(live);
      expect(seen(r2)).toEqual(live);
      expect(r2.slice(1).map((m) => m.version?.serial)).toEqual(versions);
      expect(r2[3]).toMatchObject({ name: 'greeting', clientId: 'alice', version: { clientId: 'alice', description: 'shorter', metadata: { why: 'tone' } } });

      for (const node of ['r1-n2', 'r2-n1']) {
        const client = rest(d.port(node)).channels.get(channel);
        const page = await client.history();
        expect(page.items.map((m) => [m.action, m.data, m.serial, m.id, m.version?.serial]), node).toEqual([['message.delete', 'Hi all', serial, original.id, versions[4]]]);
        const m = await client.getMessage(serial!);
        expect({ action: m.action, data: m.data, description: m.version?.description }).toEqual({ action: 'message.delete', data: 'Hi all', description: 'gone' });
        const all = await client.getMessageVersions(serial!);
        expect(all.items.map((v) => [v.action, v.data, v.version?.serial]), node).toEqual([
          ['message.create', 'Hello', serial],
          ['message.append', ' World', versions[0]],
          ['message.append', '!', versions[1]],
          ['message.update', 'Hi', versions[2]],
          ['message.append', ' all', versions[3]],
          ['message.delete', 'Hi all', versions[4]],
        ]);
      }
      // A rewind reads history: the message as it stands.
      const late = realtime(d.port('r2-n1'));
      try {
        const back = await collect(late, channel, { params: { rewind: '1' } });
        await waitFor(() => back.length === 1, { what: 'the rewound message', timeoutMs: 5_000 });
        expect(seen(back)).toEqual([['message.delete', 'Hi all', serial]]);
      } finally {
        late.close();
      }
    } finally {
      closeAll(alice, inR1, inR2);
    }
  });

  it('end the same in both regions when each changes the message at once', { timeout: 60_000 }, async () => {
    const channel = 'mutable:versions-race';
    const a = realtime(d.port('r1-n1'));
    const b = realtime(d.port('r2-n1'));
    try {
      const inR1 = await collect(a, channel);
      const inR2 = await collect(b, channel);
      const [serial] = (await a.channels.get(channel).publish({ name: 'n', data: 'base' })).serials;
      await waitFor(() => inR2.length === 1, { what: 'the create in r2', timeoutMs: 5_000 });
      // Appends from both regions at once, and then an update and more appends: each region joins them in the order of their serials.
      const sent: { data: string; serial: string }[] = [];
      const change = async (c: Realtime, how: 'appendMessage' | 'updateMessage', data: string) =>
        sent.push({ data, serial: (await c.channels.get(channel)[how]({ serial, data } as never)).versionSerial! });
      await Promise.all([0, 1, 2, 3].flatMap((i) => [change(a, 'appendMessage', ` a${i}`), change(b, 'appendMessage', ` b${i}`)]));
      await Promise.all([change(a, 'updateMessage', 'from r1'), change(b, 'updateMessage', 'from r2')]);
      await Promise.all([change(a, 'appendMessage', ' +a'), change(b, 'appendMessage', ' +b')]);
      await waitFor(() => inR1.length === 13 && inR2.length === 13, { what: 'every change in both regions', timeoutMs: 5_000 });
      // As it should stand: from the latest update, the appends after it in their serials' order.
      sent.sort((x, y) => (x.serial < y.serial ? -1 : 1));
      const whole = sent.findLastIndex((s) => s.data.startsWith('from'));
      const expected = sent.slice(whole).map((s) => s.data).join('');
      expect(sent.at(-1)!.serial > serial!).toBe(true);
      // A read stops at what its master has heard its replica hold, which a subscriber may
      // have had from the replica a moment before (master.ts): the reads come to it.
      const read = async (node: string) => ({
        message: (await rest(d.port(node)).channels.get(channel).getMessage(serial!)).data,
        history: (await rest(d.port(node)).channels.get(channel).history()).items.map((m) => m.data),
      });
      for (const node of ['r1-n1', 'r1-n2', 'r2-n1']) {
        await waitFor(async () => (await read(node)).message === expected, { what: `${node}'s getMessage`, timeoutMs: 3_000 }).catch(() => undefined);
        expect(await read(node), node).toEqual({ message: expected, history: [expected] });
      }
    } finally {
      closeAll(a, b);
    }
  });

  it("hold to -own and -any: one's own with -own, anyone's with -any, keeping the message's clientId", { timeout: 30_000 }, async () => {
    const channel = 'mutable:versions-own';
    const bob = realtime(d.port('r1-n1'), { key: OWN_KEY, clientId: 'bob' });
    const carol = realtime(d.port('r1-n1'), { key: OWN_KEY, clientId: 'carol' });
    const anonymous = realtime(d.port('r1-n2'), { key: OWN_KEY });
    const admin = realtime(d.port('r1-n2'));
    try {
      const got = await collect(admin, channel);
      const [serial] = (await bob.channels.get(channel).publish({ data: 'mine' })).serials;
      await waitFor(() => got.length === 1, { what: "bob's message", timeoutMs: 5_000 });
      const msg = got[0]!;
      expect(await rejectionOf(carol.channels.get(channel).updateMessage({ ...msg, data: 'hers' } as never))).toMatchObject({ code: 40160, statusCode: 401 });
      expect(await rejectionOf(anonymous.channels.get(channel).deleteMessage(msg as never))).toMatchObject({ code: 40166, statusCode: 401 });
      await bob.channels.get(channel).updateMessage({ ...msg, data: 'still mine' } as never);
      await admin.channels.get(channel).appendMessage({ serial, data: ' (edited)' } as never);
      await waitFor(() => got.length === 3, { what: 'the two changes', timeoutMs: 5_000 });
      expect(got.map((m) => [m.data, m.clientId, m.version?.clientId])).toEqual([
        ['mine', 'bob', undefined],
        ['still mine', 'bob', 'bob'],
        [' (edited)', 'bob', undefined],
      ]);
      expect((await rest(d.port('r1-n1')).channels.get(channel).getMessage(serial!)).data).toBe('still mine (edited)');
    } finally {
      closeAll(bob, carol, anonymous, admin);
    }
  });

  it('refuse what cannot be done, and change nothing for it', { timeout: 30_000 }, async () => {
    const channel = 'mutable:versions-refused';
    const c = realtime(d.port('r1-n1'));
    // Messages a master took, on the node the client publishes through (refused ones are not).
    const publishedTotal = async () => Number(/^ablyng_messages_published_total(?:\{[^}]*\})? (\d+)/m.exec(await (await fetch(`http://127.0.0.1:${d.port('r1-n1')}/metrics`)).text())?.[1]);
    try {
      const got = await collect(c, channel);
      const ch = c.channels.get(channel);
      const before = await publishedTotal();
      const [serial] = (await ch.publish({ data: 'x'.repeat(3000) })).serials;
      const [json] = (await ch.publish({ data: { a: 1 } })).serials;
      // Outside the namespace with the rule: 93002.
      const [plain] = (await c.channels.get('versions-plain').publish({ data: 'p' })).serials;
      expect(await rejectionOf(c.channels.get('versions-plain').updateMessage({ serial: plain, data: 'q' } as never))).toMatchObject({ code: 93002, statusCode: 400 });
      // Not in the retained history: 40400.
      expect(await rejectionOf(ch.updateMessage({ serial: serial!.replace(/@r1:/, '@r2:'), data: 'q' } as never))).toMatchObject({ code: 40400, statusCode: 404 });
      // Appends that do not join, or make the message too large.
      expect(await rejectionOf(ch.appendMessage({ serial: json, data: 'more' } as never))).toMatchObject({ code: 40013 });
      expect(await rejectionOf(ch.appendMessage({ serial, data: Buffer.from('bytes') } as never))).toMatchObject({ code: 40013 });
      expect(await rejectionOf(ch.appendMessage({ serial, data: 'y'.repeat(1500) } as never))).toMatchObject({ code: 40009 });
      expect(await publishedTotal()).toBe(before + 3);
      // Over REST, PATCH answers the change's serial.
      const r = rest(d.port('r1-n2')).channels.get(channel);
      const { versionSerial } = await r.updateMessage({ serial, data: 'short' } as never);
      expect(versionSerial! > serial!).toBe(true);
      await waitFor(() => got.length === 3, { what: 'two creates and the update', timeoutMs: 5_000 });
      expect(got.map((m) => [m.action, typeof m.data === 'string' ? m.data.length : m.data])).toEqual([
        ['message.create', 3000],
        ['message.create', { a: 1 }],
        ['message.update', 5],
      ]);
      // The refused appends made no version: the create and the update alone.
      const versions = await r.getMessageVersions(serial!);
      expect(versions.items.map((v) => [v.action, v.version?.serial])).toEqual([
        ['message.create', serial],
        ['message.update', versionSerial],
      ]);
      expect(c.connection.state).toBe('connected');
    } finally {
      c.close();
    }
  });

  it('take a change made from a message received in delta mode (ably-js keeps its extras.delta)', { timeout: 30_000 }, async () => {
    const channel = 'mutable:versions-delta';
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r1-n2'), { plugins: { vcdiff: { decode } } });
    try {
      const got = await collect(sub, channel, { params: { delta: 'vcdiff' } });
      const base = 'the same long text, again and again. '.repeat(40);
      await pub.channels.get(channel).publish([{ data: `${base}1` }, { data: `${base}2` }]);
      await waitFor(() => got.length === 2, { what: 'both messages', timeoutMs: 5_000 });
      const delta = got[1]!;
      expect(delta.extras).toMatchObject({ delta: { format: 'vcdiff' } });
      const { versionSerial } = await sub.channels.get(channel).updateMessage({ ...delta, data: 'short now' } as never);
      await waitFor(() => got.length === 3, { what: 'the update', timeoutMs: 5_000 });
      expect(got[2]).toMatchObject({ action: 'message.update', data: 'short now', version: { serial: versionSerial } });
      expect(got[2]!.extras?.delta).toBeUndefined();
    } finally {
      closeAll(pub, sub);
    }
  });
});
