import { describe, expect, it } from 'vitest';
import { FrameReader, FrameTooLarge, MAX_NODE_FRAME_BYTES, frameHeader } from '../../../src/transport/framing.js';

function frame(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload]);
}

const payloads = [Buffer.from('first'), Buffer.from('a somewhat longer second frame'), Buffer.from([0, 1, 2, 3, 255])];
const stream = Buffer.concat(payloads.map(frame));
const asText = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

describe('frameHeader', () => {
  it('writes the length as 4 bytes, big-endian', () => {
    expect([...frameHeader(0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...frameHeader(0)]).toEqual([0, 0, 0, 0]);
  });
});

describe('FrameReader', () => {
  it('yields every frame when many arrive in one chunk', () => {
    expect(asText(new FrameReader().push(stream))).toEqual(asText(payloads));
  });

  it('yields a frame only once its last byte arrives', () => {
    const r = new FrameReader();
    const f = frame(Buffer.from('hello'));
    expect(r.push(f.subarray(0, 2))).toEqual([]);
    expect(r.push(f.subarray(2, 6))).toEqual([]);
    expect(r.push(f.subarray(6, 8))).toEqual([]);
    expect(asText(r.push(f.subarray(8)))).toEqual(asText([Buffer.from('hello')]));
  });

  it('reassembles frames fed one byte at a time', () => {
    const r = new FrameReader();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...r.push(stream.subarray(i, i + 1)));
    expect(asText(out)).toEqual(asText(payloads));
  });

  it('reassembles frames whatever the chunk boundaries', () => {
    for (const size of [2, 3, 5, 7, 11, 13, stream.length - 1]) {
      const r = new FrameReader();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...r.push(stream.subarray(i, i + size)));
      expect(asText(out), `chunks of ${size}`).toEqual(asText(payloads));
    }
  });

  it('keeps a partial frame after complete ones in the same chunk', () => {
    const r = new FrameReader();
    const cut = frame(payloads[0]!).length + 3;
    expect(asText(r.push(stream.subarray(0, cut)))).toEqual(asText([payloads[0]!]));
    expect(asText(r.push(stream.subarray(cut)))).toEqual(asText(payloads.slice(1)));
  });

  it('yields an empty frame for a zero length between others in one chunk', () => {
    const withEmpty = [payloads[0]!, Buffer.alloc(0), payloads[1]!];
    expect(asText(new FrameReader().push(Buffer.concat(withEmpty.map(frame))))).toEqual(asText(withEmpty));
  });

  it('yields an empty frame for a zero length that ends a chunk', () => {
    // The header is the last thing buffered, so the reader has no chunk left to cut the
    // empty body from.
    const r = new FrameReader();
    expect(r.push(frameHeader(0))).toEqual([Buffer.alloc(0)]);
    expect(asText(r.push(frame(Buffer.from('next'))))).toEqual(asText([Buffer.from('next')]));
  });

  it('yields an empty frame whose header arrives split across chunks', () => {
    const r = new FrameReader();
    const h = frameHeader(0);
    expect(r.push(h.subarray(0, 2))).toEqual([]);
    expect(r.push(h.subarray(2))).toEqual([Buffer.alloc(0)]);
  });

  it('throws FrameTooLarge for a header beyond the limit, naming the size', () => {
    const r = new FrameReader();
    const h = frameHeader(MAX_NODE_FRAME_BYTES + 1);
    let err: unknown;
    try {
      r.push(h);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FrameTooLarge);
    expect((err as FrameTooLarge).size).toBe(MAX_NODE_FRAME_BYTES + 1);
  });

  it('throws FrameTooLarge when the oversized header arrives in pieces', () => {
    const r = new FrameReader();
    const h = frameHeader(0xffffffff);
    expect(r.push(h.subarray(0, 3))).toEqual([]);
    expect(() => r.push(h.subarray(3))).toThrow(FrameTooLarge);
  });

  it('accepts a header of exactly the limit and waits for the body', () => {
    expect(new FrameReader().push(frameHeader(MAX_NODE_FRAME_BYTES))).toEqual([]);
  });
});
