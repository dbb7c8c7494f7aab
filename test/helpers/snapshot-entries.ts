/**
 * Makes vitest's equality take two snapshots' entries (SnapshotEntries), or two dedup
 * windows (SnapshotDedup), as alike when they list the same, whether each holds them as
 * bytes, as objects or both. Call once at the top of a test file that compares snapshots.
 */
import { expect } from 'vitest';
import { SnapshotDedup } from '../../src/transport/dedup-list.js';
import { SnapshotEntries } from '../../src/transport/entry-lists.js';

export function compareSnapshotsByContent(): void {
  expect.addEqualityTesters([
    function (a: unknown, b: unknown, testers) {
      const listed = (x: unknown) => (x instanceof SnapshotEntries || x instanceof SnapshotDedup ? [x.constructor, [...x.list()]] : null);
      const la = listed(a);
      const lb = listed(b);
      if (!la || !lb) return undefined;
      return this.equals(la, lb, testers, true);
    },
  ]);
}
