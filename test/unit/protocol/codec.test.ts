import { describe, expect, it } from 'vitest';
import msgpack from '@ably/msgpack-js';
import { AblyError } from '../../../src/errors.js';
import { Action } from '../../../src/protocol/actions.js';
import { decodeBody, decodeFrame, encodeBody, encodeFrame, packMsgpack } from '../../../src/protocol/codec.js';
import type { ProtocolMessage } from '../../../src/protocol/types.js';
import { ablyErrorOf } from '../../helpers/errors.js';


const sample: ProtocolMessage = {
  action: Action.MESSAGE,
  channel: 'chat:lobby',
  channelSerial: 'eu~abc~1f',
  msgSerial: 7,
  timestamp: 1_700_000_000_123,
  messages: [
    { id: 'c1:7:0', name: 'greeting', data: 'hello', clientId: 'alice', timestamp: 1_700_000_000_000 },
    { id: 'c1:7:1', name: 'obj', data: '{"a":1}', encoding: 'json', extras: { headers: { k: 'v' } } },
  ],
};

describe('encodeFrame / decodeFrame', () => {
  it('round-trips a ProtocolMessage as JSON text', () => {
    const frame = encodeFrame(sample, 'json');
    expect(typeof frame).toBe('string');
    expect(decodeFrame(frame, 'json')).toEqual(sample);
  });

  it('decodes a JSON frame given as a Buffer', () => {
    const frame = Buffer.from(encodeFrame(sample, 'json') as string, 'utf8');
    expect(decodeFrame(frame, 'json')).toEqual(sample);
  });

  it('round-trips a ProtocolMessage as MessagePack', () => {
    const frame = encodeFrame(sample, 'msgpack');
    expect(Buffer.isBuffer(frame)).toBe(true);
    expect(decodeFrame(frame, 'msgpack')).toEqual(sample);
  });

  it('keeps binary data as a Buffer through MessagePack', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const msg: ProtocolMessage = { action: Action.MESSAGE, messages: [{ id: 'x', data: bytes }] };
    const back = decodeFrame(encodeFrame(msg, 'msgpack'), 'msgpack');
    const data = back.messages![0]!.data;
    expect(Buffer.isBuffer(data)).toBe(true);
    expect(Buffer.compare(data as Buffer, bytes)).toBe(0);
  });

  it('keeps large integers (timestamps) exact through MessagePack', () => {
    const msg: ProtocolMessage = { action: Action.HEARTBEAT, timestamp: 2 ** 52 + 1, msgSerial: 2 ** 33 };
    const back = decodeFrame(encodeFrame(msg, 'msgpack'), 'msgpack');
    expect(back.timestamp).toBe(2 ** 52 + 1);
    expect(back.msgSerial).toBe(2 ** 33);
    expect(typeof back.timestamp).toBe('number');
  });

  it('writes bytes that reach a JSON frame as base64 text (Uint8Array)', () => {
    const msg = { action: Action.MESSAGE, messages: [{ id: 'x', data: new Uint8Array([1, 2, 3]) }] };
    const decoded = JSON.parse(encodeFrame(msg as ProtocolMessage, 'json') as string);
    expect(decoded.messages[0].data).toBe('AQID');
  });

  it('writes bytes that reach a JSON frame as base64 text (Buffer)', () => {
    // Buffer has toJSON, which JSON.stringify calls before the replacer sees the value.
    const msg = { action: Action.MESSAGE, messages: [{ id: 'x', data: Buffer.from([1, 2, 3]) }] };
    const decoded = JSON.parse(encodeFrame(msg as ProtocolMessage, 'json') as string);
    expect(decoded.messages[0].data).toBe('AQID');
  });

  describe('with the SDKs\' MessagePack (@ably/msgpack-js)', () => {
    it('writes frames the SDK decodes', () => {
      const bytes = Buffer.from([9, 8, 7]);
      const msg: ProtocolMessage = { ...sample, messages: [...sample.messages!, { id: 'b', data: bytes }] };
      const decoded = msgpack.decode(encodeFrame(msg, 'msgpack') as Buffer);
      expect(decoded).toEqual(msg);
      expect(Buffer.isBuffer(decoded.messages[2].data)).toBe(true);
    });

    it('reads frames the SDK encodes', () => {
      const bytes = Buffer.from([1, 2, 3, 4]);
      const sdkMsg = {
        action: Action.MESSAGE,
        channel: 'c',
        msgSerial: 3,
        messages: [{ name: 'n', data: bytes }, { name: 't', data: 'text', extras: { push: { title: 'x' } } }],
      };
      const back = decodeFrame(msgpack.encode(sdkMsg), 'msgpack');
      expect(back).toEqual(sdkMsg);
      expect(Buffer.compare(back.messages![0]!.data as Buffer, bytes)).toBe(0);
    });

    it('leaves undefined fields out rather than encoding them', () => {
      const msg = {
        action: Action.MESSAGE,
        channel: undefined,
        id: 'p',
        messages: [{ id: 'm', name: undefined, data: 'd', encoding: undefined }],
      } as unknown as ProtocolMessage;
      const decoded = msgpack.decode(encodeFrame(msg, 'msgpack') as Buffer);
      expect(Object.keys(decoded).sort()).toEqual(['action', 'id', 'messages']);
      expect(Object.keys(decoded.messages[0]).sort()).toEqual(['data', 'id']);
    });

    it('leaves undefined fields out of JSON frames too', () => {
      const msg = { action: Action.ATTACH, channel: 'c', flags: undefined } as ProtocolMessage;
      expect(Object.keys(JSON.parse(encodeFrame(msg, 'json') as string))).toEqual(['action', 'channel']);
    });
  });

  describe('rejecting malformed frames with 40000', () => {
    it('rejects text that is not JSON', () => {
      expect(ablyErrorOf(() => decodeFrame('{"action":', 'json')).code).toBe(40000);
    });

    it('rejects truncated MessagePack', () => {
      const whole = encodeFrame(sample, 'msgpack') as Buffer;
      expect(ablyErrorOf(() => decodeFrame(whole.subarray(0, whole.length - 5), 'msgpack')).code).toBe(40000);
    });

    it.each([
      ['an array', '[1,2]'],
      ['a number', '15'],
      ['a string', '"hello"'],
      ['null', 'null'],
    ])('rejects a JSON frame that is %s', (_what, text) => {
      expect(ablyErrorOf(() => decodeFrame(text, 'json')).code).toBe(40000);
    });

    it.each([
      ['an array', [1, 2]],
      ['a number', 15],
      ['a string', 'hello'],
      ['bytes', Buffer.from([1, 2])],
      ['nil', null],
    ])('rejects a MessagePack frame that is %s', (_what, value) => {
      expect(ablyErrorOf(() => decodeFrame(packMsgpack(value), 'msgpack')).code).toBe(40000);
    });

    it.each([
      ['missing', {}],
      ['a string', { action: '15' }],
      ['a fraction', { action: 1.5 }],
      ['null', { action: null }],
      ['a boolean', { action: true }],
    ])('rejects a frame whose action is %s', (_what, value) => {
      expect(ablyErrorOf(() => decodeFrame(JSON.stringify(value), 'json')).code).toBe(40000);
      expect(ablyErrorOf(() => decodeFrame(packMsgpack(value), 'msgpack')).code).toBe(40000);
    });

    it('accepts action 0 (HEARTBEAT)', () => {
      expect(decodeFrame('{"action":0}', 'json')).toEqual({ action: 0 });
    });
  });
});

describe('encodeBody / decodeBody', () => {
  it('round-trips a REST body in both formats', () => {
    const body = [{ name: 'a', data: 'x' }, { name: 'b', data: { nested: [1, 2] } }];
    expect(decodeBody(encodeBody(body, 'json'), 'json')).toEqual(body);
    expect(decodeBody(encodeBody(body, 'msgpack'), 'msgpack')).toEqual(body);
  });

  it('rejects a malformed body with 40001', () => {
    expect(ablyErrorOf(() => decodeBody(Buffer.from('{nope'), 'json')).code).toBe(40001);
    expect(ablyErrorOf(() => decodeBody(Buffer.from([0x92, 0x01]), 'msgpack')).code).toBe(40001);
  });
});
