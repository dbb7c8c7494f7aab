import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { ChunkedWriter, REFERENCE_BYTES } from '../../../src/transport/chunked-writer.js';
import { rng } from '../../../src/rng.js';

type Op = (w: BinaryWriter) => void;

/** A random message: nested forks with small and large bytes fields, strings and varints. */
function randomOps(next: () => number, depth = 0): Op[] {
  const ops: Op[] = [];
  const n = 1 + Math.floor(next() * 6);
  for (let i = 0; i < n; i++) {
    const r = next();
    const field = 1 + Math.floor(next() * 20);
    if (r < 0.3) {
      // Sizes around the reference threshold and the varint widths (1, 2, 3 bytes of length).
      const sizes = [0, 5, REFERENCE_BYTES - 1, REFERENCE_BYTES, 3000, 20_000, 140_000];
      const size = sizes[Math.floor(next() * sizes.length)]!;
      const bytes = new Uint8Array(size).map((_, j) => (j * 31 + field) & 0xff);
      ops.push((w) => w.tag(field, WireType.LengthDelimited).bytes(bytes));
    } else if (r < 0.5 && depth < 4) {
      const inner = randomOps(next, depth + 1);
      ops.push((w) => {
        w.tag(field, WireType.LengthDelimited).fork();
        for (const op of inner) op(w);
        w.join();
      });
    } else if (r < 0.7) {
      const s = 'x'.repeat(Math.floor(next() * 300));
      ops.push((w) => w.tag(field, WireType.LengthDelimited).string(s));
    } else {
      const v = Math.floor(next() * 2 ** 31);
      ops.push((w) => w.tag(field, WireType.Varint).uint32(v));
    }
  }
  return ops;
}

const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks);

describe('ChunkedWriter (large bytes fields by reference)', () => {
  it('gives the bytes a plain writer gives, for 300 random nested messages, reusing one writer', () => {
    const next = rng(7);
    const chunked = new ChunkedWriter();
    let referenced = 0;
    for (let i = 0; i < 300; i++) {
      const ops = randomOps(next);
      const plain = new BinaryWriter();
      for (const op of ops) op(plain);
      for (const op of ops) op(chunked);
      const chunks = chunked.finishChunks();
      expect(concat(chunks).equals(Buffer.from(plain.finish())), `message ${i}`).toBe(true);
      referenced += chunks.filter((c) => c.byteLength >= REFERENCE_BYTES).length;
    }
    expect(referenced).toBeGreaterThan(100);
  });

  it('references a large field instead of copying it, and copies a small one', () => {
    const large = new Uint8Array(5000).fill(7);
    const small = new Uint8Array(10).fill(3);
    const w = new ChunkedWriter();
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(2, WireType.LengthDelimited).bytes(large);
    w.tag(3, WireType.LengthDelimited).bytes(small);
    w.join();
    const chunks = w.finishChunks();
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(large);
    expect(chunks.includes(small)).toBe(false);
    // finish() gives the same bytes in one array.
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(2, WireType.LengthDelimited).bytes(large);
    w.tag(3, WireType.LengthDelimited).bytes(small);
    w.join();
    expect(Buffer.from(w.finish()).equals(concat(chunks))).toBe(true);
  });
});
