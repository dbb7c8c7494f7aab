import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/rate.js';

describe('RateLimiter', () => {
  it('lets a client burst up to one second\'s worth at once', () => {
    const r = new RateLimiter(10);
    expect(r.take(10, 0)).toBe(true);
    expect(r.take(1, 0)).toBe(false);
  });

  it('refills at the rate as time passes', () => {
    const r = new RateLimiter(10);
    r.take(10, 0);
    expect(r.take(1, 50)).toBe(false); // half a token
    expect(r.take(1, 100)).toBe(true); // one token by now
    expect(r.take(1, 100)).toBe(false);
    expect(r.take(5, 600)).toBe(true);
  });

  it('holds no more than one second\'s worth after a long idle spell', () => {
    const r = new RateLimiter(10);
    r.take(1, 0);
    expect(r.take(10, 60_000)).toBe(true);
    expect(r.take(1, 60_000)).toBe(false);
  });

  it('takes nothing when it refuses', () => {
    const r = new RateLimiter(10);
    expect(r.take(6, 0)).toBe(true);
    expect(r.take(5, 0)).toBe(false);
    expect(r.take(4, 0)).toBe(true);
    expect(r.take(1, 0)).toBe(false);
  });

  it('refuses a request larger than its rate', () => {
    const r = new RateLimiter(10);
    expect(r.take(11, 0)).toBe(false);
    expect(r.take(11, 100_000)).toBe(false);
    expect(r.take(10, 100_000)).toBe(true);
  });

  it('keeps to its rate over a long steady run', () => {
    const r = new RateLimiter(100);
    let allowed = 0;
    for (let t = 0; t <= 10_000; t++) if (r.take(1, t)) allowed++; // one attempt per ms
    // The first second's burst of 100, then 100 per second for 10 s.
    expect(allowed).toBeGreaterThanOrEqual(1099);
    expect(allowed).toBeLessThanOrEqual(1101);
  });
});
