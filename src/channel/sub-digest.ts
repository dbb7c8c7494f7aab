/**
 * A digest of a set of channel names, for the subscription audit: a node and a master
 * compare what the node believes it is subscribed to there with what the master has,
 * without sending the lists while they agree. Order-independent (XOR and sum of a 32-bit
 * hash of each name) and cheap to compute over tens of thousands of names. Pure.
 */

export interface SubDigest {
  count: number;
  xor: number;
  sum: number;
}

/**
 * FNV-1a over the UTF-16 code units of a string, then MurmurHash3's 32-bit finalizer:
 * FNV-1a alone leaves names that differ in one character too alike for XOR and sum.
 */
export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function emptyDigest(): SubDigest {
  return { count: 0, xor: 0, sum: 0 };
}

/** Adds a name, by its `hashName`, to a digest. */
export function addToDigest(d: SubDigest, h: number): void {
  d.count++;
  d.xor = (d.xor ^ h) >>> 0;
  d.sum = (d.sum + h) >>> 0;
}

export function subDigest(names: Iterable<string>): SubDigest {
  const d = emptyDigest();
  for (const n of names) addToDigest(d, hashName(n));
  return d;
}

export function sameDigest(a: SubDigest, b: SubDigest): boolean {
  return a.count === b.count && a.xor === b.xor && a.sum === b.sum;
}
