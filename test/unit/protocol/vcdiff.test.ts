/**
 * The VCDIFF encoder against Ably's own decoder (`@ably/vcdiff-decoder`, what the SDKs
 * use): every delta it makes is read back as its target, for edits of every size,
 * unrelated data, empty sides and sources larger than the hash table; and successive
 * states of a document come out small.
 */
import { decode } from '@ably/vcdiff-decoder';
import { describe, expect, it } from 'vitest';
import { vcdiffEncode, writeVarint } from '../../../src/protocol/vcdiff.js';
import { seeded } from '../../../src/rng.js';

/** Integers in [0, n) from a seed (the project's generator). */
const random = (seed: number) => seeded(seed).int;

function roundTrip(source: Uint8Array, target: Uint8Array): Uint8Array {
  const delta = vcdiffEncode(source, target)!;
  expect(Buffer.from(decode(delta, source)).equals(Buffer.from(target))).toBe(true);
  return delta;
}

describe('vcdiff', () => {
  it('writes integers in base 128, most significant digit first (RFC 3284 §2)', () => {
    const v = (n: number) => {
      const out: number[] = [];
      writeVarint(out, n);
      return out;
    };
    expect(v(0)).toEqual([0]);
    expect(v(127)).toEqual([127]);
    expect(v(128)).toEqual([0x81, 0x00]);
    // The RFC's own example: 123456789 is 58 111 26 21 in base 128.
    expect(v(123456789)).toEqual([58 | 0x80, 111 | 0x80, 26 | 0x80, 21]);
  });

  it('makes deltas the decoder reads back, for random edits of random data', () => {
    const r = random(46);
    for (let k = 0; k < 1500; k++) {
      // Text-like (few symbols: many false matches) and binary sources, some past the hash table's size.
      const size = k % 50 === 0 ? 40_000 + r(40_000) : r(3_000);
      const source = Buffer.from(Array.from({ length: size }, () => (k % 2 ? 97 + r(4) : r(256))));
      const target = Array.from(source);
      for (let e = r(6); e > 0; e--) {
        const at = r(target.length + 1);
        const kind = r(3);
        if (kind === 0) target.splice(at, r(40));
        else if (kind === 1) target.splice(at, 0, ...Array.from({ length: r(60) }, () => r(256)));
        else if (target.length) target[at % target.length] = r(256);
      }
      roundTrip(source, Buffer.from(target));
    }
  });

  it('reads back unrelated data, and empty sources and targets', () => {
    const r = random(7);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => r(256)));
    for (let k = 0; k < 200; k++) roundTrip(bytes(r(500)), bytes(r(500)));
    roundTrip(Buffer.alloc(0), Buffer.from('from nothing'));
    roundTrip(Buffer.from('to nothing'), Buffer.alloc(0));
    roundTrip(Buffer.alloc(0), Buffer.alloc(0));
    roundTrip(Buffer.from('abc'), Buffer.from('abcabcabc'));
  });

  it('gives up where the delta would pass a size asked for', () => {
    const r = random(3);
    const unrelated = Buffer.from(Array.from({ length: 2_000 }, () => r(256)));
    const source = Buffer.from(Array.from({ length: 2_000 }, () => r(256)));
    expect(vcdiffEncode(source, unrelated, 1_800)).toBeNull();
    const near = Buffer.from(source);
    near[1_000] ^= 1;
    const delta = vcdiffEncode(source, near, 1_800)!;
    expect(Buffer.from(decode(delta, source)).equals(near)).toBe(true);
    expect(delta.length).toBeLessThan(40);
  });

  it('makes data that repeats itself small (the last COPY goes on first)', () => {
    const a = Buffer.alloc(65_536, 97);
    const b = Buffer.from(a);
    b[30_000] = 98;
    expect(roundTrip(a, b).length).toBeLessThan(40);
    const z = Buffer.alloc(4_000);
    const z2 = Buffer.from(z);
    z2[2_000] = 1;
    expect(roundTrip(z, z2).length).toBeLessThan(40);
  });

  it('makes successive states of a document small', () => {
    const doc = (i: number) => Buffer.from(JSON.stringify({ users: Array.from({ length: 40 }, (_, k) => ({ id: k, name: `user-${k}`, score: k === 7 ? i : k * 10 })) }));
    const delta = roundTrip(doc(1), doc(2));
    expect(delta.length).toBeLessThan(40);
    expect(doc(2).length).toBeGreaterThan(1_000);
    // A field that grows: what follows it is found where it moved to.
    const grown = Buffer.from(doc(2).toString().replace('"score":70', '"score":70000'));
    expect(roundTrip(doc(2), grown).length).toBeLessThan(40);
  });
});
