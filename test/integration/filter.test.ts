/**
 * Subscription filters (ably-js `channels.getDerived(name, { filter })`, a
 * `[filter=<base64>]name` channel) on a region of two nodes, with the real SDK: a filtered
 * subscriber is sent exactly the messages its expression holds for, in order, over both
 * wire formats, beside unfiltered and other filtered attachments of the same channel,
 * also across a resume; it is told the stream's position while its filter holds
 * everything back; and what a filtered channel cannot do is refused with a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILTER_POSITION_MS } from '../../src/channel/delivery.js';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { ringOf } from '../helpers/region.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { SUB_KEY } from '../helpers/topology.js';
import { rejectionOf } from '../helpers/errors.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  // History of 40 messages a channel: a resume from further back than that is a gap.
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }], retention: { maxMessagesPerChannel: 40 } });
  await ringOf(d, 2);
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

/** Ably's documented example (docs pub-sub/advanced, "Subscription filters"). */
const ICE_CREAM = 'name == `"ice-cream"` && headers.flavor == `"strawberry"` && headers.cost < `50`';

/** A mix of messages, some of which pass ICE_CREAM. */
function scoops(n: number): { name: string; data: string; extras: { headers: Record<string, unknown> } }[] {
  const flavors = ['strawberry', 'chocolate', 'vanilla'];
  return Array.from({ length: n }, (_, i) => ({
    name: i % 4 === 3 ? 'sorbet' : 'ice-cream',
    data: `m${i}`,
    extras: { headers: { flavor: flavors[i % 3]!, cost: (i * 7) % 80, temp: 3 } },
  }));
}

function passes(m: { name: string; extras: { headers: Record<string, unknown> } }): boolean {
  const h = m.extras.headers;
  return m.name === 'ice-cream' && h.flavor === 'strawberry' && (h.cost as number) < 50;
}

async function publishAll(c: Realtime, channel: string, msgs: ReturnType<typeof scoops>): Promise<void> {
  const ch = c.channels.get(channel);
  // In batches of several messages, as one ProtocolMessage: a batch is filtered message by message.
  for (let i = 0; i < msgs.length; i += 5) await ch.publish(msgs.slice(i, i + 5));
}


describe('subscription filters', () => {
  it('sends a filtered subscriber only what passes, over both formats, beside plain and other filtered attachments', { timeout: 60_000 }, async () => {
    const channel = 'filter-kiosk';
    const pub = realtime(d.port('r1-n1'));
    const msgpackSub = realtime(d.port('r1-n2'));
    const jsonSub = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    try {
      const got = { msgpack: [] as string[], json: [] as string[], chocolate: [] as string[], plain: [] as string[] };
      const derived = msgpackSub.channels.getDerived(channel, { filter: ICE_CREAM });
      await derived.subscribe((m) => void got.msgpack.push(m.data as string));
      expect(derived.name).toMatch(/^\[filter=[A-Za-z0-9+/=]+\]filter-kiosk$/);
      await jsonSub.channels.getDerived(channel, { filter: ICE_CREAM }).subscribe((m) => void got.json.push(m.data as string));
      // Another filter and the plain channel on the same connection.
      await jsonSub.channels.getDerived(channel, { filter: "headers.flavor == 'chocolate'" }).subscribe((m) => void got.chocolate.push(m.data as string));
      await jsonSub.channels.get(channel).subscribe((m) => void got.plain.push(m.data as string));

      const msgs = scoops(60);
      await publishAll(pub, channel, msgs);
      const want = msgs.filter(passes).map((m) => m.data);
      const chocolate = msgs.filter((m) => m.extras.headers.flavor === 'chocolate').map((m) => m.data);
      expect(want.length).toBeGreaterThan(5);
      expect(want.length).toBeLessThan(30);
      await waitFor(() => got.plain.length === 60 && got.msgpack.length >= want.length && got.json.length >= want.length && got.chocolate.length >= chocolate.length, {
        what: 'every subscriber to have its messages',
      });
      // A last message every filter holds back, then one they all take: nothing else came.
      await pub.channels.get(channel).publish({ name: 'end', data: 'end', extras: { headers: { flavor: 'strawberry', cost: 1 } } });
      await pub.channels.get(channel).publish({ name: 'ice-cream', data: 'last', extras: { headers: { flavor: 'strawberry', cost: 1 } } });
      await waitFor(() => got.msgpack.includes('last') && got.json.includes('last'));
      expect(got.msgpack).toEqual([...want, 'last']);
      expect(got.json).toEqual([...want, 'last']);
      expect(got.chocolate).toEqual(chocolate);
      expect(got.plain).toEqual([...msgs.map((m) => m.data), 'end', 'last']);
    } finally {
      closeAll(pub, msgpackSub, jsonSub);
    }
  });

  it('keeps a filtered subscriber whole across a resume, and tells it the position while it is sent nothing', { timeout: 60_000 }, async () => {
    const channel = 'filter-resume';
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n2') });
    await proxy.listen();
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    const watch = realtime(d.port('r1-n2')); // unfiltered, on the same node
    try {
      const got: string[] = [];
      const derived = sub.channels.getDerived(channel, { filter: ICE_CREAM });
      const updates: unknown[] = [];
      derived.on('update', (s) => updates.push(s));
      await derived.subscribe((m) => void got.push(m.data as string));
      const watched: string[] = [];
      const plain = watch.channels.get(channel);
      await plain.subscribe((m) => void watched.push(m.data as string));
      const id = sub.connection.id;

      // Only messages the filter holds back, more than history keeps: the SDK's
      // channelSerial still moves on, to where an unfiltered subscriber's is.
      const serialOf = (ch: unknown) => (ch as { properties: { channelSerial?: string } }).properties.channelSerial;
      // Told at once after the first batch, and where the last ended FILTER_POSITION_MS
      // after the one before (nothing comes after it).
      await publishAll(pub, channel, scoops(45).map((m) => ({ ...m, name: 'sorbet' })));
      await waitFor(() => watched.length === 45);
      await waitFor(() => serialOf(derived) === serialOf(plain), {
        what: "the position to reach the SDK, the same as the unfiltered subscriber's",
        timeoutMs: 3 * FILTER_POSITION_MS + 5000,
      });
      expect(got).toEqual([]);
      expect(updates).toEqual([]); // an ATTACHED with RESUMED: no event

      // The transport dies; what passes meanwhile comes after the resume, once, in order.
      // Without the position it would resume from its attach, which history no longer
      // reaches: a gap (an UPDATE with 90003), though it missed nothing that passes.
      proxy.set('both', { reset: true }); // connections reset, new ones refused until heal()
      await waitFor(() => sub.connection.state !== 'connected');
      const msgs = scoops(20);
      await publishAll(pub, channel, msgs);
      proxy.heal();
      await waitFor(() => sub.connection.state === 'connected', { timeoutMs: 15_000 });
      expect(sub.connection.id).toBe(id);
      const want = msgs.filter(passes).map((m) => m.data);
      await waitFor(() => got.length >= want.length, { what: 'the missed messages that pass' });
      await pub.channels.get(channel).publish({ name: 'ice-cream', data: 'last', extras: { headers: { flavor: 'strawberry', cost: 1 } } });
      await waitFor(() => got.includes('last'));
      expect(got).toEqual([...want, 'last']);
      expect(updates).toEqual([]); // resumed, no gap
      expect(derived.state).toBe('attached');
    } finally {
      closeAll(pub, sub, watch);
      await proxy.close();
    }
  });

  it('takes echo off and deltas with a filter', { timeout: 60_000 }, async () => {
    const channel = 'filter-echo-delta';
    const { decode } = await import('@ably/vcdiff-decoder');
    const self = realtime(d.port('r1-n2'), { echoMessages: false });
    const other = realtime(d.port('r1-n1'));
    let decoded = 0;
    const vcdiff = { decode: (delta: Uint8Array, base: Uint8Array) => (decoded++, decode(delta, base)) };
    const deltas = realtime(d.port('r1-n2'), { plugins: { vcdiff } });
    try {
      const mine: string[] = [];
      await self.channels.getDerived(channel, { filter: "name == 'keep'" }).subscribe((m) => void mine.push(m.data as string));
      const viaDelta: unknown[] = [];
      const dch = deltas.channels.getDerived(channel, { filter: "name == 'keep'" }, { params: { delta: 'vcdiff' } });
      await dch.subscribe((m) => void viaDelta.push(m.data));
      expect(dch.params).toEqual({ delta: 'vcdiff' });
      const doc = (i: number) => ({ i, notes: 'a long field that stays the same from one message to the next; '.repeat(6) });
      for (let i = 0; i < 6; i++) {
        await self.channels.get(channel).publish(i % 2 ? 'drop' : 'keep', doc(i));
        await other.channels.get(channel).publish(i % 2 ? 'drop' : 'keep', `o${i}`);
      }
      await waitFor(() => mine.length === 3 && viaDelta.length === 6);
      expect(mine).toEqual(['o0', 'o2', 'o4']); // its own are not sent back
      expect(viaDelta).toEqual([doc(0), 'o0', doc(2), 'o2', doc(4), 'o4']);
      expect(decoded).toBe(0); // doc and text alternate: nothing to gain
      for (let i = 6; i < 10; i++) await other.channels.get(channel).publish('keep', doc(i));
      await waitFor(() => viaDelta.length === 10);
      expect(viaDelta.slice(6)).toEqual([6, 7, 8, 9].map(doc));
      expect(decoded).toBe(3); // after the first whole, each a delta of the last one it was sent
    } finally {
      closeAll(self, other, deltas);
    }
  });

  it("leaves a client's presence on the channel alone when it detaches a filtered channel of it", { timeout: 60_000 }, async () => {
    const channel = 'filter-presence';
    const member = realtime(d.port('r1-n1'), { clientId: 'member' });
    const observer = realtime(d.port('r1-n2'));
    try {
      const events: string[] = [];
      await observer.channels.get(channel).presence.subscribe((p) => void events.push(`${p.action}:${String(p.data)}`));
      await member.channels.get(channel).presence.enter('before');
      await waitFor(() => events.includes('enter:before'));
      const derived = member.channels.getDerived(channel, { filter: "name == 'x'" });
      await derived.attach();
      await derived.detach();
      // Something after the detach that the observer must see: then any leave would have come first.
      await member.channels.get(channel).presence.update('after');
      await waitFor(() => events.includes('update:after'));
      expect(events).toEqual(['enter:before', 'update:after']);
      expect((await observer.channels.get(channel).presence.get()).map((p) => p.clientId)).toEqual(['member']);
    } finally {
      closeAll(member, observer);
    }
  });

  it('refuses what a filtered channel cannot do, and filters that do not parse or are not allowed', { timeout: 60_000 }, async () => {
    const c = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r1-n1'), { key: SUB_KEY });
    try {
      await connected(c);
      const derived = c.channels.getDerived('filter-refusals', { filter: "name == 'x'" });
      await derived.attach();
      // ably-js publishes on the channel as named: refused, not published to the channel.
      expect(await rejectionOf(derived.publish('x', 'y'))).toMatchObject({ code: 40010, statusCode: 400, message: expect.stringMatching(/publishing is not available on a channel with a filter/) });
      expect(await rejectionOf(derived.presence.enterClient('p', 'data'))).toMatchObject({ code: 40010, message: expect.stringMatching(/presence is not available/) });
      expect(await rejectionOf(derived.history())).toMatchObject({ code: 40010, message: expect.stringMatching(/history is not available/) });
      expect(derived.state).toBe('attached');

      const bad = c.channels.getDerived('filter-refusals', { filter: 'headers.cost < 50' });
      expect(await rejectionOf(bad.attach())).toMatchObject({ code: 40010, message: expect.stringMatching(/bare number/) });
      const rewound = c.channels.getDerived('filter-refusals', { filter: "name == 'y'" }, { params: { rewind: '1' } });
      expect(await rejectionOf(rewound.attach())).toMatchObject({ code: 40003, message: expect.stringMatching(/rewind is not available/) });
      // A key that may subscribe to "*" but has nothing for [filter] resources (Ably's docs).
      expect(await rejectionOf(sub.channels.getDerived('filter-refusals', { filter: "name == 'x'" }).attach())).toMatchObject({ code: 40160 });
      await sub.channels.get('filter-refusals').attach();
      // The connections are still up.
      await c.channels.get('filter-refusals').publish('x', 'still up');
      expect(c.connection.state).toBe('connected');
      expect(sub.connection.state).toBe('connected');
    } finally {
      closeAll(c, sub);
    }
  });
});
