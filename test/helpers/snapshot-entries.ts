/**
 * Makes vitest's equality take two snapshots' entries (SnapshotEntries) as alike when
 * they list the same entries, whether each holds them as bytes, as entries or both.
 * Call once at the top of a test file that compares snapshots.
 */
import { expect } from 'vitest';
import { SnapshotEntries } from '../../src/transport/entry-lists.js';

export function compareSnapshotEntriesByContent(): void {
  expect.addEqualityTesters([
    function (a: unknown, b: unknown, testers) {
      if (!(a instanceof SnapshotEntries) || !(b instanceof SnapshotEntries)) return undefined;
      return a.length === b.length && this.equals([...a.list()], [...b.list()], testers, true);
    },
  ]);
}
