/**
 * Housekeeping in slices: every key once per round, a slice per call; and the bound on
 * a map kept in insertion order.
 */
import { describe, expect, it } from 'vitest';
import { SliceSweep, trimOldest } from '../../../src/channel/sweep.js';

describe('SliceSweep', () => {
  it('visits every key once per round, in slices of at most ⌈keys / slices⌉, then starts a fresh round', () => {
    const map = new Map(Array.from({ length: 25 }, (_, i) => [i, true] as const));
    const sweep = new SliceSweep(() => map.keys(), 10);
    const round: number[][] = [];
    for (let i = 0; i < 9; i++) round.push(sweep.slice());
    expect(round.map((s) => s.length)).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 1]);
    expect(round.flat()).toEqual([...map.keys()]);
    // Keys added during a round wait for the next one; removed ones are still listed
    // (the caller skips what is gone).
    map.set(25, true);
    map.delete(0);
    const next = [sweep.slice(), sweep.slice()];
    expect(next[0]).toEqual([1, 2, 3]);
    expect(next[1]).toEqual([4, 5, 6]);
    for (let i = 0; i < 7; i++) next.push(sweep.slice());
    expect(next.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('with no keys, gives empty slices', () => {
    const sweep = new SliceSweep(() => [], 10);
    expect(sweep.slice()).toEqual([]);
    expect(sweep.slice()).toEqual([]);
  });
});

describe('trimOldest', () => {
  it('drops the oldest entries beyond the bound, and nothing under it', () => {
    const map = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    trimOldest(map, 3);
    expect([...map.keys()]).toEqual(['a', 'b', 'c']);
    map.set('d', 4);
    map.set('e', 5);
    trimOldest(map, 3);
    expect([...map.keys()]).toEqual(['c', 'd', 'e']);
    trimOldest(map, 0);
    expect(map.size).toBe(0);
  });
});
