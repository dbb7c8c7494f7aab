import { describe, expect, it } from 'vitest';
import { Ring } from '../../../src/cluster/ring.js';

const KEYS = Array.from({ length: 5000 }, (_, i) => `app:channel-${i}`);

function owners(ring: Ring): Map<string, string> {
  return new Map(KEYS.map((k) => [k, ring.owner(k)!]));
}

describe('Ring', () => {
  it('gives no owner, preference or replica on an empty ring', () => {
    const ring = new Ring([]);
    expect(ring.size).toBe(0);
    expect(ring.owner('k')).toBeNull();
    expect(ring.preference('k', 3)).toEqual([]);
    expect(ring.replica('k')).toBeNull();
  });

  it('gives every key to the only member, with no replica', () => {
    const ring = new Ring(['n1']);
    for (const k of KEYS.slice(0, 100)) {
      expect(ring.owner(k)).toBe('n1');
      expect(ring.replica(k)).toBeNull();
      expect(ring.preference(k, 3)).toEqual(['n1']);
    }
  });

  it('collapses repeated members and lists them sorted', () => {
    const ring = new Ring(['n3', 'n1', 'n3', 'n2']);
    expect(ring.members).toEqual(['n1', 'n2', 'n3']);
    expect(ring.size).toBe(3);
    expect(ring.has('n2')).toBe(true);
    expect(ring.has('n4')).toBe(false);
  });

  it('gives each key the same owner whatever order the members are listed in', () => {
    const a = new Ring(['n1', 'n2', 'n3']);
    const b = new Ring(['n3', 'n1', 'n2', 'n1']);
    for (const k of KEYS) expect(b.owner(k)).toBe(a.owner(k));
  });

  it('spreads keys over every member', () => {
    const counts = new Map<string, number>();
    for (const o of owners(new Ring(['n1', 'n2', 'n3'])).values()) counts.set(o, (counts.get(o) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['n1', 'n2', 'n3']);
    for (const c of counts.values()) {
      expect(c).toBeGreaterThan(KEYS.length * 0.2);
      expect(c).toBeLessThan(KEYS.length * 0.5);
    }
  });

  it('lists distinct nodes in preference order, starting with the owner', () => {
    const ring = new Ring(['n1', 'n2', 'n3', 'n4']);
    for (const k of KEYS.slice(0, 500)) {
      const p = ring.preference(k, 3);
      expect(p).toHaveLength(3);
      expect(new Set(p).size).toBe(3);
      expect(p[0]).toBe(ring.owner(k));
      expect(ring.replica(k)).toBe(p[1]);
      expect(ring.replica(k)).not.toBe(ring.owner(k));
    }
  });

  it('lists at most as many nodes as it has', () => {
    const ring = new Ring(['n1', 'n2']);
    const p = ring.preference('k', 5);
    expect([...p].sort()).toEqual(['n1', 'n2']);
  });

  it('moves only the joining node\'s share of keys when a node joins', () => {
    const before = owners(new Ring(['n1', 'n2', 'n3']));
    const after = owners(new Ring(['n1', 'n2', 'n3', 'n4']));
    let moved = 0;
    for (const k of KEYS) {
      if (after.get(k) !== before.get(k)) {
        moved++;
        expect(after.get(k), `key ${k} moved between surviving nodes`).toBe('n4');
      }
    }
    expect(moved / KEYS.length).toBeGreaterThan(0.1);
    expect(moved / KEYS.length).toBeLessThan(0.45);
  });

  it('moves only the leaving node\'s keys when a node leaves, each to what was its replica', () => {
    const full = new Ring(['n1', 'n2', 'n3', 'n4']);
    const less = new Ring(['n1', 'n2', 'n4']);
    let moved = 0;
    for (const k of KEYS) {
      const was = full.owner(k);
      if (was === 'n3') {
        moved++;
        expect(less.owner(k)).toBe(full.replica(k));
      } else {
        expect(less.owner(k)).toBe(was);
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('keeps the replica of a key whose replica did not leave', () => {
    const full = new Ring(['n1', 'n2', 'n3', 'n4']);
    const less = new Ring(['n1', 'n2', 'n3']);
    for (const k of KEYS.slice(0, 1000)) {
      const [o, r] = full.preference(k, 2);
      if (o !== 'n4' && r !== 'n4') expect(less.replica(k)).toBe(r);
    }
  });
});
