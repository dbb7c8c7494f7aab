import { describe, expect, it } from 'vitest';
import { Fifo } from '../../src/fifo.js';

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Fifo', () => {
  it('keeps order across growth and wrap-around', () => {
    const q = new Fifo<number>(4);
    for (let i = 0; i < 3; i++) q.push(i);
    expect(q.shift()).toBe(0);
    expect(q.shift()).toBe(1);
    // The head is now at 2 of 4: these wrap, then force a doubling while wrapped.
    for (let i = 3; i < 40; i++) q.push(i);
    expect(q.length).toBe(38);
    expect([...q]).toEqual(Array.from({ length: 38 }, (_, k) => k + 2));
    expect(q.at(0)).toBe(2);
    expect(q.at(37)).toBe(39);
    expect(q.at(38)).toBeUndefined();
    expect(q.at(-1)).toBeUndefined();
  });

  it('answers undefined when empty', () => {
    const q = new Fifo<string>();
    expect(q.shift()).toBeUndefined();
    expect(q.at(0)).toBeUndefined();
    expect(q.length).toBe(0);
    q.push('a');
    expect(q.shift()).toBe('a');
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it('behaves as an array used as a queue, over random operations', () => {
    const rnd = lcg(7);
    const q = new Fifo<number>(4);
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = rnd();
      // Bursts of pushes and of shifts, so the buffer grows past 1,000 and shrinks back.
      const phase = Math.floor(step / 2_500) % 2 === 0;
      if (r < (phase ? 0.7 : 0.3)) {
        q.push(next);
        model.push(next++);
      } else if (r < 0.95) {
        expect(q.shift()).toBe(model.shift());
      } else if (r < 0.97 && model.length) {
        const i = Math.floor(rnd() * model.length);
        expect(q.indexOf(model[i]!)).toBe(i);
        q.removeAt(i);
        model.splice(i, 1);
      } else {
        const from = Math.floor(rnd() * (model.length + 1));
        const to = from + Math.floor(rnd() * 10);
        expect(q.slice(from, to)).toEqual(model.slice(from, to));
      }
      expect(q.length).toBe(model.length);
      if (model.length) expect(q.at(model.length - 1)).toBe(model[model.length - 1]);
    }
    expect([...q]).toEqual(model);
    expect(q.indexOf(-5)).toBe(-1);
  });

  it('gives back the memory of a burst once it drains', () => {
    const q = new Fifo<number>(16);
    for (let i = 0; i < 10_000; i++) q.push(i);
    const grown = (q as unknown as { buf: unknown[] }).buf.length;
    expect(grown).toBeGreaterThanOrEqual(10_000);
    for (let i = 0; i < 10_000; i++) expect(q.shift()).toBe(i);
    expect((q as unknown as { buf: unknown[] }).buf.length).toBe(16);
  });
});
