/**
 * Seeded randomness for what must be repeatable from its seed: the chaos scenarios
 * `ably-ng chaos random` makes, and the tests' model checks and fuzzing.
 */

/** A small deterministic PRNG (mulberry32): the same seed gives the same numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random choices from a seed: `int(n)` in [0, n), `between(lo, hi)` in [lo, hi), `pick`, `chance(p)`. */
export function seeded(seed: number) {
  const next = rng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const between = (lo: number, hi: number) => lo + next() * (hi - lo);
  return { next, int, pick, between, chance: (p: number) => next() < p };
}
export type Seeded = ReturnType<typeof seeded>;
