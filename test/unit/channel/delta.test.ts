/**
 * Delta mode's rules (src/channel/delta.ts): the param; which messages go as deltas and
 * from what; what the base is after a run (none after a message without data; presence
 * moves nothing); and one run made for all subscribers from the same base.
 */
import { decode } from '@ably/vcdiff-decoder';
import { describe, expect, it } from 'vitest';
import { asDeltas, DeltaRuns, parseDeltaParam, type DeltaBase } from '../../../src/channel/delta.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { packMsgpack } from '../../../src/protocol/codec.js';
import { toWire, type Message } from '../../../src/protocol/message.js';

let serial = 0;
function msg(id: string, data?: string | Uint8Array, encoding?: string): LogEntry {
  serial++;
  const message: Message = { id, timestamp: 1, ...(data !== undefined ? { data } : {}), ...(encoding ? { encoding } : {}) };
  return { kind: 'message', serial, channelSerial: `s${serial}`, storedAt: 1, origin: { region: 'r1', epoch: 'e', seq: serial }, message };
}
function presence(id: string): LogEntry {
  serial++;
  return {
    kind: 'presence',
    serial,
    channelSerial: `s${serial}`,
    storedAt: 1,
    origin: { region: 'r1', epoch: 'e', seq: serial },
    host: 'n1',
    presence: { id, action: 2, clientId: 'c', connectionId: 'x', timestamp: 1, data: 'unrelated' },
  };
}
const doc = (i: number) => JSON.stringify({ list: Array.from({ length: 30 }, (_, k) => `entry ${k}`), version: i });
const messageOf = (e: LogEntry) => (e as Extract<LogEntry, { kind: 'message' }>).message;

describe('delta mode', () => {
  it('takes "vcdiff" only (40003 for another value), and none without the param', () => {
    expect(parseDeltaParam(undefined)).toBe(false);
    expect(parseDeltaParam('vcdiff')).toBe(true);
    expect(() => parseDeltaParam('xdelta')).toThrow(expect.objectContaining({ code: 40003 }));
  });

  it('sends the first whole, then each from the one before; text gets utf-8 back, bytes do not', () => {
    const bytes = Buffer.from(doc(9));
    const run = asDeltas([msg('a', doc(1), 'json'), msg('b', doc(2), 'json'), msg('c', bytes)], null);
    const [a, b, c] = run.entries.map(messageOf);
    expect(a!.data).toBe(doc(1));
    expect(b!.encoding).toBe('json/utf-8/vcdiff');
    expect(b!.extras).toEqual({ delta: { from: 'a', format: 'vcdiff' } });
    expect(Buffer.from(decode(b!.data as Uint8Array, Buffer.from(doc(1)))).toString()).toBe(doc(2));
    expect(c!.encoding).toBe('vcdiff');
    expect(Buffer.from(decode(c!.data as Uint8Array, Buffer.from(doc(2)))).equals(bytes)).toBe(true);
    expect(run.base?.id).toBe('c');
  });

  it('keeps extras, and goes whole where a delta would not be smaller', () => {
    const e = msg('b', 'completely different text here', undefined);
    messageOf(e).extras = { headers: { x: 1 } };
    const base: DeltaBase = { id: 'a', payload: Buffer.from('nothing alike at all, zzzzzz') };
    const whole = asDeltas([e], base).entries[0]!;
    expect(whole).toBe(e);
    const near = msg('c', doc(2));
    messageOf(near).extras = { headers: { x: 1 } };
    const d = messageOf(asDeltas([near], { id: 'a', payload: Buffer.from(doc(1)) }).entries[0]!);
    expect(d.extras).toEqual({ headers: { x: 1 }, delta: { from: 'a', format: 'vcdiff' } });
  });

  it('has no base after a message without data, and presence does not move it', () => {
    const afterNone = asDeltas([msg('a', doc(1)), msg('b'), msg('c', doc(2))], null);
    expect(messageOf(afterNone.entries[2]!).data).toBe(doc(2));
    expect(asDeltas([msg('a', doc(1)), msg('b')], null).base).toBeNull();
    const run = asDeltas([msg('a', doc(1)), presence('p'), msg('c', doc(2))], null);
    expect(run.entries[1]!.kind).toBe('presence');
    expect(messageOf(run.entries[2]!).extras).toEqual({ delta: { from: 'a', format: 'vcdiff' } });
  });

  it('makes one run for subscribers from the same base, another for another', () => {
    const entries = [msg('n', doc(5))];
    const runs = new DeltaRuns(entries);
    const base: DeltaBase = { id: 'm', payload: Buffer.from(doc(4)) };
    const one = runs.from(base);
    expect(runs.from({ id: 'm', payload: Buffer.from(doc(4)) })).toBe(one);
    expect(runs.from(null)).not.toBe(one);
    // The same id with other bytes (a client's own id used again): a run of its own.
    const other = runs.from({ id: 'm', payload: Buffer.from(doc(3)) });
    expect(other).not.toBe(one);
    expect(Buffer.from(decode(messageOf(other.entries[0]!).data as Uint8Array, Buffer.from(doc(3)))).toString()).toBe(doc(5));
  });

  it('sends whole, and starts again after, what the SDK may not keep as its base', () => {
    const base: DeltaBase = { id: 'a', payload: Buffer.from(doc(1)) };
    // An encoding the SDK cannot decode, JSON that does not parse, text with a lone
    // surrogate, JSON of bytes without utf-8: each whole, and the message after it too.
    for (const [data, encoding] of [
      [doc(2), 'custom'],
      [`${doc(2)}{`, 'json'],
      [`${doc(2)}\ud800`, undefined],
      [Buffer.from(doc(2)), 'json'],
      [Buffer.from(doc(2)), 'utf-8/cipher+aes-128-cbc'],
    ] as const) {
      const run = asDeltas([msg('b', data, encoding), msg('c', doc(3))], base);
      expect(run.entries.map((e) => messageOf(e).extras)).toEqual([undefined, undefined]);
    }
    // JSON of UTF-8 bytes is kept (json/utf-8), as bytes without an encoding are.
    const ok = asDeltas([msg('b', Buffer.from(doc(2)), 'json/utf-8'), msg('c', Buffer.from(doc(3)))], base);
    expect(messageOf(ok.entries[0]!).encoding).toBe('json/utf-8/vcdiff');
    expect(messageOf(ok.entries[1]!).extras).toEqual({ delta: { from: 'b', format: 'vcdiff' } });
  });

  it('sends small messages whole: a delta of them would be no smaller over JSON', () => {
    const a = '{"foo":"bar","count":1,"status":"active"}';
    const b = '{"foo":"bar","count":2,"status":"active"}';
    expect(messageOf(asDeltas([msg('b', b, 'json')], { id: 'a', payload: Buffer.from(a) }).entries[0]!).extras).toBeUndefined();
  });

  it('never makes a message larger on the wire, over JSON or msgpack', () => {
    const base: DeltaBase = { id: 'conn-id-of-18ch:1:0', payload: Buffer.alloc(0) };
    let deltas = 0;
    for (let n = 20; n <= 400; n += 3) {
      // Data a delta takes almost all of: one byte changed in a run the source has.
      const text = 'x'.repeat(n);
      for (const [data, encoding] of [
        [text, undefined],
        [text, 'json'],
        [Buffer.from(text), undefined],
      ] as const) {
        const from = { ...base, payload: Buffer.from(`y${text.slice(1)}`) };
        const m = msg('m', encoding === 'json' ? JSON.stringify(data) : data, encoding);
        if (encoding === 'json') from.payload = Buffer.from(JSON.stringify(`y${text.slice(1)}`));
        const out = messageOf(asDeltas([m], from).entries[0]!);
        if (!out.extras) continue;
        deltas++;
        const whole = messageOf(m);
        expect(JSON.stringify(toWire(out, 'json')).length, `${n} json`).toBeLessThan(JSON.stringify(toWire(whole, 'json')).length);
        expect(packMsgpack(toWire(out, 'msgpack')).length, `${n} msgpack`).toBeLessThan(packMsgpack(toWire(whole, 'msgpack')).length);
      }
    }
    expect(deltas).toBeGreaterThan(100);
  });
});
