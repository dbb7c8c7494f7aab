/**
 * Where a region's own entries are in a channel's history, by local seq
 * (src/channel/own-entries.ts): found by seq, by time, and at a serial, across trims.
 */
import { describe, expect, it } from 'vitest';
import { OwnEntries } from '../../../src/channel/own-entries.js';

/** Own entries at serials 2, 4, 5, 9 (seqs 1–4), stored at 10 × serial ms. */
function own(): OwnEntries {
  const o = new OwnEntries();
  [2, 4, 5, 9].forEach((serial, i) => o.add(serial, i + 1));
  return o;
}
const storedAt = (serial: number) => serial * 10;

describe('OwnEntries', () => {
  it('finds the serials of seqs, and the seq reached at a serial', () => {
    const o = own();
    expect(o.serialsFrom(2, 4, 10, 100)).toEqual([4, 5, 9]);
    expect(o.serialsFrom(2, 4, 2, 100), 'at most limit').toEqual([4, 5]);
    expect(o.serialsFrom(1, 4, 10, 5), 'none beyond upto').toEqual([2, 4, 5]);
    expect([o.seqAt(1, 4), o.seqAt(4, 4), o.seqAt(8, 4), o.seqAt(100, 4)]).toEqual([0, 2, 3, 4]);
    expect(o.firstHeld(5)).toBe(1);
  });

  it('finds those stored since a time, and says whether one from before it is still held', () => {
    const o = own();
    expect(o.since(45, 100, 10, 0, storedAt)).toEqual({ firstSeq: 3, serials: [5, 9], more: false, bounded: true });
    expect(o.since(45, 100, 1, 0, storedAt)).toEqual({ firstSeq: 3, serials: [5], more: true, bounded: true });
    expect(o.since(0, 100, 10, 0, storedAt)).toMatchObject({ firstSeq: 1, serials: [2, 4, 5, 9], bounded: false });
  });

  it('forgets what retention dropped, keeping seqs in step', () => {
    const o = own();
    o.trim(4);
    expect([o.firstHeld(5), o.serialsFrom(3, 4, 10, 100), o.seqAt(4, 4), o.seqAt(5, 4)]).toEqual([3, [5, 9], 2, 3]);
    o.trim(9);
    expect([o.firstHeld(5), o.seqAt(100, 4)]).toEqual([5, 4]);
    o.add(12, 5);
    expect([o.firstHeld(6), o.serialsFrom(5, 5, 10, 100)]).toEqual([5, [12]]);
  });
});
