import { describe, expect, it } from 'vitest';
import { sameDigest, subDigest } from '../../../src/channel/sub-digest.js';

describe('subDigest', () => {
  const names = Array.from({ length: 2000 }, (_, i) => `app:channel-${i}`);

  it('does not depend on order', () => {
    const shuffled = [...names].sort(() => Math.random() - 0.5);
    expect(sameDigest(subDigest(names), subDigest(shuffled))).toBe(true);
  });

  it('tells apart sets that differ by one name added, removed or replaced', () => {
    const d = subDigest(names);
    expect(sameDigest(d, subDigest(names.slice(1)))).toBe(false);
    expect(sameDigest(d, subDigest([...names, 'app:extra']))).toBe(false);
    expect(sameDigest(d, subDigest([...names.slice(1), 'app:channel-x']))).toBe(false);
    // Two names swapped for two others, and a name doubled (XOR alone would miss it).
    expect(sameDigest(d, subDigest([...names.slice(2), 'app:a', 'app:b']))).toBe(false);
    expect(sameDigest(subDigest(['a', 'b', 'b']), subDigest(['a', 'c', 'c']))).toBe(false);
  });

  it('has no collision among 20,000 sets of one name or of two', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const d1 = subDigest([`app:c${i}`]);
      const d2 = subDigest([`app:c${i}`, `app:d${i}`]);
      seen.add(`${d1.count}/${d1.xor}/${d1.sum}`);
      seen.add(`${d2.count}/${d2.xor}/${d2.sum}`);
    }
    expect(seen.size).toBe(20_000);
  });

  it('of nothing is empty', () => {
    expect(subDigest([])).toEqual({ count: 0, xor: 0, sum: 0 });
  });
});
