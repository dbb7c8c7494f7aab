import { describe, expect, it } from 'vitest';
import { AblyError } from '../../../src/errors.js';
import {
  denormalizeData,
  fromWire,
  MAX_EXTRAS_DEPTH,
  messageSize,
  normalizeData,
  presenceToWire,
  toWire,
  type Message,
  type PresenceMessage,
} from '../../../src/protocol/message.js';
import { ablyErrorOf } from '../../helpers/errors.js';


function bytesOf(v: unknown): number[] {
  expect(v).toBeInstanceOf(Uint8Array);
  return [...(v as Uint8Array)];
}

describe('normalizeData', () => {
  it('returns nothing for absent data and encoding', () => {
    expect(normalizeData(undefined, undefined)).toEqual({});
    expect(normalizeData(null, null)).toEqual({});
  });

  it('keeps an encoding even when there is no data', () => {
    expect(normalizeData(undefined, 'utf-8')).toEqual({ encoding: 'utf-8' });
  });

  it('treats an empty encoding as none', () => {
    expect(normalizeData('x', '')).toEqual({ data: 'x' });
  });

  it('keeps a plain string with its encoding', () => {
    expect(normalizeData('hello', undefined)).toEqual({ data: 'hello' });
    expect(normalizeData('{"a":1}', 'json')).toEqual({ data: '{"a":1}', encoding: 'json' });
  });

  it('strips a lone base64 encoding, leaving bytes and no encoding', () => {
    const out = normalizeData('AQID', 'base64');
    expect(bytesOf(out.data)).toEqual([1, 2, 3]);
    expect(out).not.toHaveProperty('encoding');
  });

  it('strips the trailing base64 step of utf-8/base64, leaving bytes with encoding utf-8', () => {
    const out = normalizeData(Buffer.from('héllo').toString('base64'), 'utf-8/base64');
    expect(Buffer.from(out.data as Uint8Array).toString('utf8')).toBe('héllo');
    expect(out.encoding).toBe('utf-8');
  });

  it('strips only the last step of a longer encoding chain', () => {
    const out = normalizeData(Buffer.from('{"a":1}').toString('base64'), 'json/utf-8/base64');
    expect(Buffer.from(out.data as Uint8Array).toString('utf8')).toBe('{"a":1}');
    expect(out.encoding).toBe('json/utf-8');
  });

  it('accepts unpadded and URL-safe base64', () => {
    expect(bytesOf(normalizeData('AQI', 'base64').data)).toEqual([1, 2]);
    expect(bytesOf(normalizeData('-_8', 'base64').data)).toEqual([0xfb, 0xff]);
  });

  it('decodes empty base64 to empty bytes', () => {
    expect(bytesOf(normalizeData('', 'base64').data)).toEqual([]);
  });

  it.each([
    ['characters outside the alphabet', 'AQ!D'],
    ['padding in the middle', 'AQ=D'],
    ['too much padding', 'AQ==='],
    ['a length of 4n+1', 'AQIDB'],
    ['whitespace', 'AQ ID'],
  ])('rejects base64 with %s with 40013', (_what, data) => {
    expect(ablyErrorOf(() => normalizeData(data, 'base64')).code).toBe(40013);
    expect(ablyErrorOf(() => normalizeData(data, 'utf-8/base64')).code).toBe(40013);
  });

  it('does not decode base64 when base64 is not the last step', () => {
    expect(normalizeData('AQID', 'base64/json')).toEqual({ data: 'AQID', encoding: 'base64/json' });
  });

  it('keeps bytes as they are', () => {
    const b = Buffer.from([5, 6]);
    const out = normalizeData(b, undefined);
    expect(out.data).toBe(b);
    expect(out).not.toHaveProperty('encoding');
    expect(normalizeData(b, 'cipher')).toEqual({ data: b, encoding: 'cipher' });
  });

  it('turns an object into JSON text with encoding json', () => {
    expect(normalizeData({ a: 1, b: [true] }, undefined)).toEqual({ data: '{"a":1,"b":[true]}', encoding: 'json' });
  });

  it('turns an array into JSON text with encoding json', () => {
    expect(normalizeData([1, 'two'], undefined)).toEqual({ data: '[1,"two"]', encoding: 'json' });
  });

  it('appends json to an existing encoding when the data is an object', () => {
    expect(normalizeData({ a: 1 }, 'utf-8')).toEqual({ data: '{"a":1}', encoding: 'utf-8/json' });
  });

  it('rejects an encoding that is not a string with 40013', () => {
    expect(ablyErrorOf(() => normalizeData('x', 5)).code).toBe(40013);
    expect(ablyErrorOf(() => normalizeData('x', { a: 1 })).code).toBe(40013);
  });
});

describe('denormalizeData', () => {
  it('writes bytes as base64 with /base64 appended for JSON', () => {
    expect(denormalizeData(Buffer.from([1, 2, 3]), 'utf-8', 'json')).toEqual({ data: 'AQID', encoding: 'utf-8/base64' });
  });

  it('writes bytes as base64 with encoding base64 for JSON when there was none', () => {
    expect(denormalizeData(Buffer.from([1, 2, 3]), undefined, 'json')).toEqual({ data: 'AQID', encoding: 'base64' });
  });

  it('encodes only the viewed bytes of a Uint8Array that is a window on a larger buffer', () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(denormalizeData(whole.subarray(2, 5), undefined, 'json')).toEqual({ data: 'AQID', encoding: 'base64' });
  });

  it('keeps bytes as bytes for MessagePack', () => {
    const b = Buffer.from([1, 2, 3]);
    const out = denormalizeData(b, undefined, 'msgpack');
    expect(out.data).toBe(b);
    expect(out).not.toHaveProperty('encoding');
    expect(denormalizeData(b, 'utf-8', 'msgpack')).toEqual({ data: b, encoding: 'utf-8' });
  });

  it('keeps strings as they are in both formats', () => {
    expect(denormalizeData('hi', 'json', 'json')).toEqual({ data: 'hi', encoding: 'json' });
    expect(denormalizeData('hi', undefined, 'msgpack')).toEqual({ data: 'hi' });
  });

  it('keeps an encoding without data', () => {
    expect(denormalizeData(undefined, 'utf-8', 'json')).toEqual({ encoding: 'utf-8' });
    expect(denormalizeData(undefined, undefined, 'json')).toEqual({});
  });

  it('undoes normalizeData for JSON clients', () => {
    for (const [data, enc] of [
      ['AQID', 'base64'],
      [Buffer.from('héllo').toString('base64'), 'utf-8/base64'],
      ['plain', undefined],
      ['{"a":1}', 'json'],
    ] as const) {
      const n = normalizeData(data, enc);
      expect(denormalizeData(n.data, n.encoding, 'json')).toEqual(enc ? { data, encoding: enc } : { data });
    }
  });
});

describe('messageSize', () => {
  it('counts the UTF-8 bytes of name, clientId and string data', () => {
    expect(messageSize({ name: 'ab', clientId: 'cde', data: 'fghi' })).toBe(9);
    expect(messageSize({ name: 'é', data: '€' })).toBe(2 + 3);
  });

  it('counts the length of binary data', () => {
    expect(messageSize({ data: new Uint8Array(10) })).toBe(10);
  });

  it('counts the JSON text of extras', () => {
    const extras = { headers: { a: 'b' } };
    expect(messageSize({ extras })).toBe(JSON.stringify(extras).length);
  });

  it('counts nothing for an empty message', () => {
    expect(messageSize({})).toBe(0);
  });
});

describe('fromWire', () => {
  it('validates and keeps the fields a client may send', () => {
    expect(
      fromWire({ id: 'm1', name: 'n', clientId: 'c', data: 'd', encoding: 'utf-8', extras: { x: 1 }, timestamp: 5 }),
    ).toEqual({ id: 'm1', name: 'n', clientId: 'c', data: 'd', encoding: 'utf-8', extras: { x: 1 }, timestamp: 5 });
  });

  it('drops null fields and never sets absent ones', () => {
    const out = fromWire({ id: null, name: null, clientId: null, data: null, extras: null, timestamp: null });
    expect(out).toStrictEqual({});
  });

  it('normalizes data on the way in', () => {
    const out = fromWire({ data: 'AQID', encoding: 'base64' });
    expect(bytesOf(out.data)).toEqual([1, 2, 3]);
    expect(out).not.toHaveProperty('encoding');
    expect(fromWire({ data: { a: 1 } })).toEqual({ data: '{"a":1}', encoding: 'json' });
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['an array', [{ name: 'x' }]],
    ['bytes', Buffer.from([1])],
  ])('rejects a message that is %s with 40000', (_what, w) => {
    expect(ablyErrorOf(() => fromWire(w)).code).toBe(40000);
  });

  it("takes action 0 (message.create) or none, a create's serial never, and a change with the serial it names and its version", () => {
    const serial = '01700000000000-11@eu:e';
    expect(fromWire({ id: 'a', action: 0, serial, version: { description: 'x' } })).toStrictEqual({ id: 'a' });
    expect(fromWire({ id: 'a', action: null })).toStrictEqual({ id: 'a' });
    for (const action of [1, 2, 5]) expect(fromWire({ action, serial }), `action ${action}`).toStrictEqual({ action, serial });
    expect(fromWire({ action: 1, serial, version: { clientId: 'c', description: 'why', metadata: { k: 'v' }, serial: 'ignored' } })).toStrictEqual({
      action: 1,
      serial,
      version: { clientId: 'c', description: 'why', metadata: { k: 'v' } },
    });
    for (const action of [3, 4, 6, -1, '0', 0.5]) expect(ablyErrorOf(() => fromWire({ id: 'a', action })).code, `action ${action}`).toBe(40000);
    for (const bad of [undefined, 'eu~e~1', 5]) expect(ablyErrorOf(() => fromWire({ action: 1, serial: bad })).code, `serial ${bad}`).toBe(40003);
    for (const version of ['x', [], { metadata: { k: 1 } }, { description: 5 }]) expect(ablyErrorOf(() => fromWire({ action: 2, serial, version })).code).toBe(40000);
  });

  it('rejects an empty id with 40031', () => {
    expect(ablyErrorOf(() => fromWire({ id: '' })).code).toBe(40031);
  });

  it('rejects an id with an unpaired surrogate with 40031 and accepts paired ones', () => {
    for (const id of ['x\ud800', '\udc00y', 'a\ud800b\ud800\udc00']) expect(ablyErrorOf(() => fromWire({ id })).code).toBe(40031);
    expect(fromWire({ id: 'ok-😀-é' }).id).toBe('ok-😀-é');
  });

  it('rejects an id longer than 256 characters with 40031 and accepts one of 256', () => {
    expect(ablyErrorOf(() => fromWire({ id: 'x'.repeat(257) })).code).toBe(40031);
    expect(fromWire({ id: 'x'.repeat(256) }).id).toHaveLength(256);
  });

  it.each([
    ['id', { id: 5 }],
    ['name', { name: 5 }],
    ['clientId', { clientId: true }],
  ])('rejects a %s that is not a string with 40000', (_field, w) => {
    expect(ablyErrorOf(() => fromWire(w)).code).toBe(40000);
  });

  it.each([
    ['an array', [1]],
    ['a string', 'x'],
    ['a number', 3],
    ['bytes', Buffer.from([1])],
  ])('rejects extras that are %s with 40030', (_what, extras) => {
    expect(ablyErrorOf(() => fromWire({ extras })).code).toBe(40030);
  });

  it(`takes extras nested MAX_EXTRAS_DEPTH (${MAX_EXTRAS_DEPTH}) deep, through objects and arrays, and refuses one level more with 40030 (msgpack's encoder would overflow the stack)`, () => {
    const nested = (depth: number): Record<string, unknown> => {
      let v: Record<string, unknown> = { leaf: 'x', bytes: Buffer.from([1]) };
      for (let d = 1; d < depth; d++) v = d % 2 ? { a: [v] } : { a: v };
      return v;
    };
    // Arrays count as levels too: depth n of objects-with-arrays is about 1.5 n levels.
    const levels = (v: unknown): number => (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) ? 1 + Math.max(0, ...Object.values(v).map(levels)) : 0);
    let depth = 1;
    while (levels(nested(depth + 1)) <= MAX_EXTRAS_DEPTH) depth++;
    expect(levels(nested(depth))).toBeLessThanOrEqual(MAX_EXTRAS_DEPTH);
    expect(fromWire({ extras: nested(depth) }).extras).toEqual(nested(depth));
    expect(ablyErrorOf(() => fromWire({ extras: nested(depth + 1) })).code).toBe(40030);
    expect(ablyErrorOf(() => fromWire({ extras: nested(1300) })).code).toBe(40030);
  });

  it.each([
    ['a string', '5'],
    ['NaN', NaN],
    ['Infinity', Infinity],
  ])('rejects a timestamp that is %s with 40000', (_what, timestamp) => {
    expect(ablyErrorOf(() => fromWire({ timestamp })).code).toBe(40000);
  });

  it('rejects bad base64 data with 40013', () => {
    expect(ablyErrorOf(() => fromWire({ data: '***', encoding: 'base64' })).code).toBe(40013);
  });
});

describe('toWire', () => {
  const bin: Message = {
    id: 'm1',
    name: 'n',
    clientId: 'c',
    connectionId: 'conn',
    data: Buffer.from([1, 2, 3]),
    encoding: 'utf-8',
    extras: { headers: { h: '1' } },
    timestamp: 1000,
  };

  it('writes binary data as base64 for JSON clients', () => {
    expect(toWire(bin, 'json')).toStrictEqual({
      id: 'm1',
      name: 'n',
      clientId: 'c',
      connectionId: 'conn',
      data: 'AQID',
      encoding: 'utf-8/base64',
      extras: { headers: { h: '1' } },
      timestamp: 1000,
    });
  });

  it('keeps binary data as bytes for MessagePack clients', () => {
    const w = toWire(bin, 'msgpack');
    expect(w.data).toBe(bin.data);
    expect(w.encoding).toBe('utf-8');
  });

  it('sets no key for an absent field', () => {
    expect(toWire({ id: 'm', timestamp: 1 }, 'json')).toStrictEqual({ id: 'm', timestamp: 1 });
  });
});

describe('presenceToWire', () => {
  it('writes binary presence data as base64 for JSON and keeps bytes for MessagePack', () => {
    const p: PresenceMessage = {
      id: 'p1',
      action: 2,
      clientId: 'alice',
      connectionId: 'conn',
      data: Buffer.from([255]),
      timestamp: 7,
    };
    expect(presenceToWire(p, 'json')).toStrictEqual({
      id: 'p1',
      action: 2,
      clientId: 'alice',
      connectionId: 'conn',
      timestamp: 7,
      data: '/w==',
      encoding: 'base64',
    });
    expect(presenceToWire(p, 'msgpack').data).toBe(p.data);
  });
});
