import { describe, expect, it } from 'vitest';
import { hashBytes, hashString, StringArena, utf8Bytes } from '../../../src/channel/string-arena.js';

describe('StringArena', () => {
  it('keeps pairs of strings as UTF-8, ASCII or not, and reads, compares and hashes them', () => {
    const a = new StringArena();
    const cases: [string, string][] = [
      ['conn-1:0:0', 'eu~abc~1'],
      ['é', 'ü~2'],
      ['😀x', ''],
      ['', 'empty id'],
      ['y'.repeat(300_000), 'big'],
      ['after-big', 'z'],
    ];
    const at = cases.map(([x, y]) => {
      const xl = utf8Bytes(x);
      const yl = utf8Bytes(y);
      const chunk = a.append(x, xl, y, yl);
      return { chunk, off: a.offset, xl, yl };
    });
    cases.forEach(([x, y], i) => {
      const p = at[i]!;
      expect(p.xl).toBe(Buffer.byteLength(x));
      expect(a.read(p.chunk, p.off, p.xl)).toBe(x);
      expect(a.read(p.chunk, p.off + p.xl, p.yl)).toBe(y);
      expect(a.equals(p.chunk, p.off, p.xl, x)).toBe(true);
      expect(a.equals(p.chunk, p.off, p.xl, `${x}!`)).toBe(false);
      expect(a.equals(p.chunk, p.off + p.xl, p.yl, y)).toBe(true);
      expect(a.hash(p.chunk, p.off, p.xl)).toBe(hashString(x));
    });
    // Same UTF-16 length, other bytes; same byte length, other characters.
    expect(a.equals(at[1]!.chunk, at[1]!.off, at[1]!.xl, 'e')).toBe(false);
    expect(a.equals(at[0]!.chunk, at[0]!.off, at[0]!.xl, 'conn-1:0:1')).toBe(false);
    expect(a.sameBytes(at[0]!.chunk, at[0]!.off, at[0]!.chunk, at[0]!.off, at[0]!.xl)).toBe(true);
    expect(hashString('é')).toBe(hashBytes(Buffer.from('é'), 0, 2));
  });

  it('grows its chunks with what it holds and drops the oldest', () => {
    const a = new StringArena();
    const chunks: number[] = [];
    for (let i = 0; i < 10_000; i++) chunks.push(a.append(`id-${i}`, utf8Bytes(`id-${i}`), 's', 1));
    const held = a.bytes;
    expect(held).toBeGreaterThan(10_000 * 6);
    expect(held).toBeLessThan(10_000 * 6 * 3);
    expect(new Set(chunks).size).toBeLessThan(20); // geometric growth: few chunks
    a.dropBefore(chunks[9_999]!);
    expect(a.bytes).toBeLessThan(held);
    expect(a.read(chunks[9_999]!, a.offset, 7)).toBe('id-9999');
    a.clear();
    expect(a.bytes).toBe(0);
    const next = a.append('x', 1, 'y', 1);
    expect(next).toBeGreaterThan(chunks[9_999]!);
    expect(a.read(next, a.offset, 2)).toBe('xy');
  });
});
