/**
 * The off-heap deduplication window against the Map-and-arrays window it replaced (kept
 * in src/bench/map-dedup.ts as the reference): the same random operations, with repeated ids, ids that are
 * not ASCII, long ids and expiry at random times, must give the same answers.
 */
import { describe, expect, it } from 'vitest';
import { DedupWindow, type DedupWindowOptions } from '../../../src/channel/dedup.js';
import { MapDedupWindow as ReferenceWindow } from '../../../src/bench/map-dedup.js';
import { rng } from '../../../src/rng.js';

const SHAPES = [(i: number) => `conn-${i}:${i % 7}:0`, (i: number) => `é${i}ü`, (i: number) => `😀${i}`, (i: number) => `id${i}`];

/**
 * The defaults, and small segments, positions and tables, so that 20,000 operations
 * cross many segment boundaries, split and merge the index and wrap positions.
 */
const CONFIGS: [string, DedupWindowOptions][] = [
  ['defaults', {}],
  ['8-slot segments, index split past 64 ids into 4, positions modulo 4,096', { segmentBits: 3, splitAt: 64, splitBits: 2, positionBits: 12 }],
];

describe('DedupWindow against the reference', () => {
  for (const [config, options] of CONFIGS) for (const seed of [1, 2, 3, 4, 5]) {
    it(`gives the reference's answers to 20,000 random operations (${config}, seed ${seed})`, () => {
      const r = rng(seed);
      const w = new DedupWindow(options);
      const ref = new ReferenceWindow();
      let now = 0;
      let serial = 0;
      // A small pool of ids (repeats, and ids that come back after expiry), and a few long ones.
      const pool = seed === 5 ? 50_000 : 400;
      const id = () => {
        const i = Math.floor(r() * pool);
        return i % 97 === 0 ? `long-${i}-${'x'.repeat(300_000)}` : SHAPES[i % SHAPES.length]!(i);
      };
      for (let op = 0; op < 20_000; op++) {
        now += Math.floor(r() * 3);
        const x = r();
        if (x < 0.35) {
          const m = id();
          const s = `ser~${serial++}`;
          w.add(m, s, now);
          ref.add(m, s, now);
        } else if (x < 0.7) {
          const m = id();
          const got = w.lookup(m);
          expect(got).toBe(ref.lookup(m));
          if (got === undefined) {
            const s = `ser~${serial++}`;
            w.addNew(m, s, now);
            ref.addNew(m, s, now);
          }
        } else if (x < 0.9) {
          const m = id();
          expect(w.lookup(m)).toBe(ref.lookup(m));
        } else if (x < 0.985) {
          const windowMs = Math.floor(r() * 2000);
          w.expire(now, windowMs);
          ref.expire(now, windowMs);
          expect(w.empty).toBe(ref.empty);
        } else {
          expect(w.size).toBe(ref.size);
          expect(w.entries()).toEqual(ref.entries());
        }
      }
      expect(w.entries()).toEqual(ref.entries());
      w.expire(now + 10_000, 0);
      expect(w.empty).toBe(true);
      expect(w.bytes).toBe(0);
    });
  }

  it('keeps its answers while slot numbers wrap around their positions many times over', () => {
    // Positions modulo 32, 4-slot segments, about 10 ids held: the window never empties,
    // so its head passes a lap of 32 slots every 32 ids.
    const w = new DedupWindow({ segmentBits: 2, splitAt: 4, splitBits: 1, positionBits: 5 });
    const ref = new ReferenceWindow();
    for (let t = 0; t < 3000; t++) {
      const m = `id-${t % 15}`; // ids come back while an earlier copy may still be held
      const got = w.lookup(m);
      expect(got).toBe(ref.lookup(m));
      if (got === undefined) {
        w.addNew(m, `s${t}`, t);
        ref.addNew(m, `s${t}`, t);
      }
      w.add(`other-${t}`, `o${t}`, t);
      ref.add(`other-${t}`, `o${t}`, t);
      w.expire(t, 6);
      ref.expire(t, 6);
      expect(w.size).toBe(ref.size);
    }
    expect(w.entries()).toEqual(ref.entries());
  });

  it('keeps its memory in proportion to what it holds, outside the JS heap', () => {
    const w = new DedupWindow();
    let peak = 0;
    for (let t = 0; t < 200_000; t++) {
      w.addNew(`conn-${t % 13}:${t}:0`, `r~e~${t}`, t);
      if (t % 1000 === 0) w.expire(t, 20_000); // about 20,000 ids held at a time
      peak = Math.max(peak, w.bytes);
    }
    expect(w.size).toBeGreaterThan(19_000);
    expect(w.size).toBeLessThanOrEqual(21_000);
    // About 30 bytes of id and serial, 48 of slot and 8 of table cells per id, with
    // room for growth: well under 400 bytes per id held.
    expect(peak).toBeLessThan(21_000 * 400);
    expect(w.lookup('conn-0:199992:0')).toBe('r~e~199992');
  });
});
