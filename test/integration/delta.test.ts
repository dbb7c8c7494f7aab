/**
 * Delta mode (the `delta: 'vcdiff'` channel param) on a region of two nodes, with the real
 * SDK and Ably's own vcdiff decoder (`@ably/vcdiff-decoder`): subscribers on another node
 * than the publisher get every message's data back as published, each after the first as
 * a delta; an SDK that lost track attaches again (40018) and is sent the next one whole;
 * without the decoder the channel fails (40019); a bad value is refused (40003). The cases
 * follow ably-js's own delta tests (test/realtime/shared/delta_tests.js).
 */
import { decode } from '@ably/vcdiff-decoder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action } from '../../src/protocol/actions.js';
import type { ProtocolMessage } from '../../src/protocol/types.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { ringOf } from '../helpers/region.js';
import { RawClient } from '../helpers/raw.js';
import { closeAll, realtime, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }] });
  await ringOf(d, 2);
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

/**
 * Successive states of one document, as ably-js's tests publish them, with a longer field
 * (theirs, of 41 bytes, go whole here: a delta of them is no smaller over JSON).
 */
const NOTES = 'a field that stays the same from one state of the document to the next; '.repeat(4);
const DOCS = [
  { foo: 'bar', count: 1, status: 'active', notes: NOTES },
  { foo: 'bar', count: 2, status: 'active', notes: NOTES },
  { foo: 'bar', count: 2, status: 'inactive', notes: NOTES },
  { foo: 'bar', count: 3, status: 'inactive', notes: NOTES },
  { foo: 'bar', count: 3, status: 'active', notes: NOTES },
];

/** A decoder that counts its calls (and can be made to fail). */
function countingDecoder(fail = false): { calls: number; decode(delta: Uint8Array, base: Uint8Array): Uint8Array } {
  return {
    calls: 0,
    decode(delta, base) {
      this.calls++;
      if (fail) throw new Error('failed to decode the delta');
      return decode(delta, base);
    },
  };
}

/**
 * A subscriber on r1-n2 with Ably's decoder counting its calls, and a publisher on r1-n1
 * (`both`: options of the two; `subOnly`: the subscriber's alone). Close them with closeAll.
 */
function deltaPair(both: Record<string, unknown> = {}, subOnly: Record<string, unknown> = {}) {
  const dec = countingDecoder();
  const sub = realtime(d.port('r1-n2'), { ...both, ...subOnly, plugins: { vcdiff: dec } });
  const pub = realtime(d.port('r1-n1'), both);
  return { dec, sub, pub };
}

interface Received {
  name: string;
  data: unknown;
}

/** Subscribes with deltas and records what the SDK gives, and every reason it attached again. */
async function deltaSubscriber(c: Realtime, channel: string): Promise<{ got: Received[]; reattaches: number[] }> {
  const ch = c.channels.get(channel, { params: { delta: 'vcdiff' } });
  const got: Received[] = [];
  const reattaches: number[] = [];
  ch.on('attaching', (s) => reattaches.push(s.reason?.code ?? 0));
  await ch.subscribe((m) => got.push({ name: m.name!, data: m.data }));
  expect(ch.params).toEqual({ delta: 'vcdiff' });
  reattaches.length = 0;
  return { got, reattaches };
}

async function publishAll(c: Realtime, channel: string, docs: readonly unknown[]): Promise<void> {
  const ch = c.channels.get(channel);
  for (let i = 0; i < docs.length; i++) await ch.publish(String(i), docs[i]);
}

describe('delta mode', () => {
  for (const binary of [true, false]) {
    it(`delivers each message after the first as a delta, over ${binary ? 'msgpack' : 'JSON'}`, { timeout: 60_000 }, async () => {
      const channel = `delta-plain-${binary}`;
      const { dec, sub, pub } = deltaPair({ useBinaryProtocol: binary });
      try {
        const s = await deltaSubscriber(sub, channel);
        await publishAll(pub, channel, DOCS);
        await waitFor(() => s.got.length === DOCS.length, { what: 'every message', timeoutMs: 10_000 });
        expect(s.got.map((m) => m.data)).toEqual(DOCS);
        expect(dec.calls).toBe(DOCS.length - 1);
        expect(s.reattaches).toEqual([]);
      } finally {
        closeAll(sub, pub);
      }
    });
  }

  it('keeps text as text and bytes as bytes, and sends whole what follows a message without data', { timeout: 60_000 }, async () => {
    const channel = 'delta-kinds';
    const { dec, sub, pub } = deltaPair();
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(20);
    const bytes = Buffer.from(text.repeat(2));
    const bytes2 = Buffer.from(bytes);
    bytes2[100] = 0x21;
    const docs = [text, `${text}!`, undefined, `${text}?`, bytes, bytes2];
    try {
      const s = await deltaSubscriber(sub, channel);
      await publishAll(pub, channel, docs);
      await waitFor(() => s.got.length === docs.length, { what: 'every message', timeoutMs: 10_000 });
      expect(s.got[0]!.data).toBe(text);
      expect(s.got[1]!.data).toBe(`${text}!`);
      expect(s.got[2]!.data).toBeUndefined();
      expect(s.got[3]!.data).toBe(`${text}?`);
      expect(Buffer.from(s.got[4]!.data as Uint8Array).equals(bytes)).toBe(true);
      expect(Buffer.from(s.got[5]!.data as Uint8Array).equals(bytes2)).toBe(true);
      // Deltas for the second text (from the first), the bytes (from the text before them:
      // what the SDK holds is bytes either way) and the second bytes; not after no data.
      expect(dec.calls).toBe(3);
      expect(s.reattaches).toEqual([]);
    } finally {
      closeAll(sub, pub);
    }
  });

  it('sends subscribers of one node from different bases their own deltas, and the others whole messages', { timeout: 60_000 }, async () => {
    const channel = 'delta-bases';
    const decA = countingDecoder();
    const decB = countingDecoder();
    const a = realtime(d.port('r1-n2'), { plugins: { vcdiff: decA } });
    // Of A's format: what would share A's frames, were they kept by format alone.
    const b = realtime(d.port('r1-n2'), { plugins: { vcdiff: decB } });
    // Of their format too: a delta frame that reached it would fail its channel (40019, no plugin).
    const c = realtime(d.port('r1-n2'));
    const pub = realtime(d.port('r1-n1'));
    try {
      const sa = await deltaSubscriber(a, channel);
      const gotC: unknown[] = [];
      await c.channels.get(channel).subscribe((m) => gotC.push(m.data));
      await publishAll(pub, channel, DOCS.slice(0, 2));
      await waitFor(() => sa.got.length === 2 && gotC.length === 2, { what: 'the first two', timeoutMs: 10_000 });
      // B attaches now: its base is none where A's is the second message.
      const sb = await deltaSubscriber(b, channel);
      // Two in one publish: one frame, each a delta from the one before it.
      await pub.channels.get(channel).publish([
        { name: '2', data: DOCS[2] },
        { name: '3', data: DOCS[3] },
      ]);
      await pub.channels.get(channel).publish('4', DOCS[4]);
      await waitFor(() => sa.got.length === 5 && sb.got.length === 3 && gotC.length === 5, { what: 'every message', timeoutMs: 10_000 });
      expect(sa.got.map((m) => m.data)).toEqual(DOCS);
      expect(sb.got.map((m) => m.data)).toEqual(DOCS.slice(2));
      expect(gotC).toEqual(DOCS);
      expect(decA.calls).toBe(4);
      expect(decB.calls).toBe(2);
      expect([...sa.reattaches, ...sb.reattaches]).toEqual([]);
      // A detaches, misses one, attaches again: the next goes whole.
      const ca = a.channels.get(channel);
      await ca.detach();
      await pub.channels.get(channel).publish('5', DOCS[0]);
      await ca.attach();
      await pub.channels.get(channel).publish('6', DOCS[1]);
      await waitFor(() => sa.got.length === 6, { what: 'the one after the attach', timeoutMs: 10_000 });
      expect(sa.got[5]).toEqual({ name: '6', data: DOCS[1] });
      expect(decA.calls).toBe(4);
      expect(sa.reattaches).toEqual([0]);
    } finally {
      closeAll(a, b, c, pub);
    }
  });

  it('makes a rewound backlog deltas too, and goes on from its last message', { timeout: 60_000 }, async () => {
    const channel = 'delta-rewind';
    const { dec, sub, pub } = deltaPair();
    try {
      await publishAll(pub, channel, DOCS.slice(0, 3));
      const ch = sub.channels.get(channel, { params: { delta: 'vcdiff', rewind: '3' } });
      const got: unknown[] = [];
      await ch.subscribe((m) => got.push(m.data));
      const reasons: number[] = [];
      ch.on('attaching', (s) => reasons.push(s.reason?.code ?? 0));
      await waitFor(() => got.length === 3, { what: 'the backlog', timeoutMs: 10_000 });
      // The backlog (sent to this subscriber alone) ends the base the live ones start from.
      await publishAll(pub, channel, DOCS.slice(3));
      await waitFor(() => got.length === DOCS.length, { what: 'every message', timeoutMs: 10_000 });
      expect(got).toEqual(DOCS);
      expect(dec.calls).toBe(DOCS.length - 1);
      expect(reasons).toEqual([]);
    } finally {
      closeAll(sub, pub);
    }
  });

  it('sends deltas on the wire that name the message they are made from, and smaller than the data', { timeout: 60_000 }, async () => {
    const channel = 'delta-wire';
    const raw = await RawClient.connect(d.port('r1-n2'));
    const pub = realtime(d.port('r1-n1'));
    const doc = (i: number) => ({ items: Array.from({ length: 50 }, (_, k) => `item-${k}`), version: i });
    try {
      raw.send({ action: Action.ATTACH, channel, params: { delta: 'vcdiff' } });
      const attached = await raw.next((m) => m.action === Action.ATTACHED);
      expect(attached.params).toEqual({ delta: 'vcdiff' });
      await publishAll(pub, channel, [doc(1), doc(2), doc(3)]);
      const messages = await waitFor(
        () => {
          const all = raw.received.filter((m) => m.action === Action.MESSAGE).flatMap((m: ProtocolMessage) => m.messages ?? []);
          return all.length === 3 ? all : null;
        },
        { what: 'three messages', timeoutMs: 10_000 },
      );
      expect(messages[0]!.encoding).toBe('json');
      expect(messages[0]!.extras).toBeUndefined();
      let base = Buffer.from(messages[0]!.data as string);
      for (let i = 1; i < 3; i++) {
        const m = messages[i]!;
        expect(m.encoding).toBe('json/utf-8/vcdiff/base64');
        expect(m.extras).toEqual({ delta: { from: messages[i - 1]!.id, format: 'vcdiff' } });
        const delta = Buffer.from(m.data as string, 'base64');
        const full = Buffer.from(JSON.stringify(doc(i + 1)));
        expect(delta.length).toBeLessThan(full.length / 4);
        base = Buffer.from(decode(delta, base));
        expect(JSON.parse(base.toString())).toEqual(doc(i + 1));
      }
    } finally {
      raw.close();
      closeAll(pub);
    }
  });

  it('attaches again when the SDK has lost the message a delta is made from, and goes on with it whole', { timeout: 60_000 }, async () => {
    const channel = 'delta-lost-base';
    const { dec, sub, pub } = deltaPair();
    try {
      const ch = sub.channels.get(channel, { params: { delta: 'vcdiff' } });
      const got: unknown[] = [];
      const reasons: number[] = [];
      await ch.subscribe((m) => {
        got.push(m.data);
        // As ably-js's lastMessageNotFoundRecovery: the SDK forgets the second message.
        if (m.name === '1') (ch as any)._lastPayload.messageId = null;
      });
      ch.on('attaching', (s) => reasons.push(s.reason?.code ?? 0));
      await publishAll(pub, channel, DOCS);
      await waitFor(() => got.length === DOCS.length, { what: 'every message', timeoutMs: 15_000 });
      expect(got).toEqual(DOCS);
      expect(reasons).toEqual([40018]);
      // The third came whole after the attach; the rest as deltas.
      expect(dec.calls).toBe(DOCS.length - 2);
    } finally {
      closeAll(sub, pub);
    }
  });

  it('gives every message even where no delta can be decoded (each sent whole after an attach)', { timeout: 60_000 }, async () => {
    const channel = 'delta-failing';
    const sub = realtime(d.port('r1-n2'), { plugins: { vcdiff: countingDecoder(true) } });
    const pub = realtime(d.port('r1-n1'));
    try {
      const ch = sub.channels.get(channel, { params: { delta: 'vcdiff' } });
      const got: unknown[] = [];
      const reasons: number[] = [];
      await ch.subscribe((m) => got.push(m.data));
      ch.on('attaching', (s) => reasons.push(s.reason?.code ?? 0));
      await publishAll(pub, channel, DOCS);
      await waitFor(() => got.length === DOCS.length, { what: 'every message', timeoutMs: 20_000 });
      expect(got).toEqual(DOCS);
      expect(reasons.length).toBeGreaterThan(0);
      expect(reasons.every((r) => r === 40018)).toBe(true);
    } finally {
      closeAll(sub, pub);
    }
  });

  it('fails the channel of an SDK without the decoder (40019), and refuses another delta format (40003)', { timeout: 60_000 }, async () => {
    const channel = 'delta-no-plugin';
    const sub = realtime(d.port('r1-n2'));
    const pub = realtime(d.port('r1-n1'));
    try {
      const ch = sub.channels.get(channel, { params: { delta: 'vcdiff' } });
      await ch.attach();
      const failed = new Promise<number>((resolve) => ch.once('failed', (s) => resolve(s.reason?.code ?? 0)));
      await publishAll(pub, channel, DOCS.slice(0, 2));
      expect(await failed).toBe(40019);
      const other = sub.channels.get('delta-bad-format', { params: { delta: 'xdelta' } });
      await expect(other.attach()).rejects.toMatchObject({ code: 40003 });
    } finally {
      closeAll(sub, pub);
    }
  });

  it("refuses a publisher's own extras.delta (40030), which would have every SDK on the channel attach again for ever", { timeout: 60_000 }, async () => {
    const channel = 'delta-forged';
    const { dec, sub, pub } = deltaPair();
    try {
      const s = await deltaSubscriber(sub, channel);
      const ch = pub.channels.get(channel);
      await expect(ch.publish({ name: 'forged', data: 'x', extras: { delta: { from: 'nobody:0:0', format: 'vcdiff' } } })).rejects.toMatchObject({ code: 40030 });
      await publishAll(pub, channel, DOCS.slice(0, 2));
      await waitFor(() => s.got.length === 2, { what: 'the two after it', timeoutMs: 10_000 });
      expect(s.got.map((m) => m.data)).toEqual(DOCS.slice(0, 2));
      expect(s.reattaches).toEqual([]);
    } finally {
      closeAll(sub, pub);
    }
  });

  it('keeps its own messages out (echo off) and occupancy events between messages, without a failed delta', { timeout: 60_000 }, async () => {
    const channel = 'delta-mixed';
    // Publishes too, without echo: its deltas are made from the others' messages only.
    const { dec, sub, pub } = deltaPair({}, { echoMessages: false });
    const joiner = realtime(d.port('r1-n1'));
    try {
      const ch = sub.channels.get(channel, { params: { delta: 'vcdiff', occupancy: 'metrics.connections' } });
      const got: Received[] = [];
      const reasons: number[] = [];
      await ch.subscribe((m) => got.push({ name: m.name!, data: m.data }));
      ch.on('attaching', (s) => reasons.push(s.reason?.code ?? 0));
      const own = sub.channels.get(channel);
      const theirs = pub.channels.get(channel);
      await theirs.attach();
      const isEvent = (m: Received, n: number) => m.name === '[meta]occupancy' && (m.data as any).metrics.connections === n;
      await waitFor(() => got.some((m) => isEvent(m, 2)), { what: 'the event of two', timeoutMs: 10_000 });
      const expected: Received[] = [];
      for (let i = 0; i < DOCS.length; i++) {
        await own.publish('mine', { ...DOCS[i], mine: true });
        await theirs.publish(String(i), DOCS[i]);
        expected.push({ name: String(i), data: DOCS[i] });
        // An occupancy event between two messages: the next one goes whole.
        if (i === 2) {
          await joiner.channels.get(channel).attach();
          await waitFor(() => got.some((m) => isEvent(m, 3)), { what: 'the event of three', timeoutMs: 10_000 });
        }
      }
      await waitFor(() => got.filter((m) => m.name !== '[meta]occupancy').length === DOCS.length, { what: 'every message of the other', timeoutMs: 10_000 });
      expect(got.filter((m) => m.name !== '[meta]occupancy')).toEqual(expected);
      expect(reasons).toEqual([]);
      // Deltas from the second on, but for the one after the event.
      expect(dec.calls).toBe(DOCS.length - 2);
    } finally {
      closeAll(sub, pub, joiner);
    }
  });
});
