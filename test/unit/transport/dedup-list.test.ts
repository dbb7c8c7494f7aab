/**
 * A dedup window moved in a snapshot as the bytes it holds (SnapshotDedup): the same
 * bytes as the generated codec's DedupEntryList, read back into a window that finds
 * every id with its first serial.
 */
import { describe, expect, it, vi } from 'vitest';
import { DedupWindow } from '../../../src/channel/dedup.js';
import * as pb from '../../../src/gen/node.pb.js';
import { SnapshotDedup } from '../../../src/transport/dedup-list.js';

const NOW = 1_700_000_000_000;
const items = [
  { id: 'conn:1:0', channelSerial: 'eu~e1~1', at: NOW },
  { id: 'clé-ünïcode-✓', channelSerial: 'eu~e1~2', at: NOW + 1 },
  { id: 'x'.repeat(300), channelSerial: 'eu~e1~3', at: NOW + 2 },
];

function windowOf(list: readonly { id: string; channelSerial: string; at: number }[]): DedupWindow {
  const w = new DedupWindow();
  for (const d of list) w.add(d.id, d.channelSerial, d.at);
  return w;
}

describe('SnapshotDedup', () => {
  it("writes the generated codec's DedupEntryList, from a window's bytes and from items alike, and reads its bytes", () => {
    const generated = Buffer.from(pb.DedupEntryList.encode({ entries: items }).finish());
    expect(SnapshotDedup.ofWindow(windowOf(items)).encoded()).toEqual(generated);
    expect(SnapshotDedup.of(items).encoded()).toEqual(generated);
    const read = SnapshotDedup.fromBytes(generated);
    expect(read.length).toBe(3);
    expect(read.list()).toEqual(items);
    expect(pb.DedupEntryList.decode(SnapshotDedup.of(items).encoded()).entries).toEqual(items);
  });

  it('moves a window into another from its bytes, without a string per id: each id found with its first serial', () => {
    const from = windowOf([...items, { id: 'conn:1:0', channelSerial: 'eu~e1~9', at: NOW + 5 }]);
    const moved = SnapshotDedup.fromBytes(SnapshotDedup.ofWindow(from).encoded());
    // One per id, its first slot (as entries() lists them).
    expect(moved.length).toBe(3);
    const to = new DedupWindow();
    const add = vi.spyOn(to, 'add');
    moved.addTo(to);
    expect(add).not.toHaveBeenCalled();
    for (const d of items) expect(to.lookup(d.id)).toBe(d.channelSerial);
    expect(to.lookup('conn:2:0')).toBeUndefined();
    expect(to.entries()).toEqual(items);
    // Their times are kept: they expire as they would have.
    to.expire(NOW + 1 + 60_000, 60_000);
    expect(to.entries()).toEqual(items.slice(1));
  });

  it('skips fields it does not know, in the list and in an entry, and is none for no ids', () => {
    const known = Buffer.from(pb.DedupEntryList.encode({ entries: items.slice(0, 1) }).finish());
    // An entry with a field 4 (varint 5) after its own, then a list field 2 (varint 7).
    const entry = Buffer.from(pb.DedupEntry.encode(items[1]!).finish());
    const withExtra = Buffer.concat([entry, Buffer.from([(4 << 3) | 0, 5])]);
    const bytes = Buffer.concat([known, Buffer.from([(1 << 3) | 2, withExtra.length]), withExtra, Buffer.from([(2 << 3) | 0, 7])]);
    const read = SnapshotDedup.fromBytes(bytes);
    expect(read.length).toBe(2);
    expect(read.list()).toEqual(items.slice(0, 2));
    const w = new DedupWindow();
    read.addTo(w);
    expect(w.entries()).toEqual(items.slice(0, 2));
    expect(SnapshotDedup.ofWindow(new DedupWindow())).toBe(SnapshotDedup.none);
    expect(SnapshotDedup.fromBytes(Buffer.alloc(0))).toBe(SnapshotDedup.none);
    expect(SnapshotDedup.none.encoded().length).toBe(0);
  });

  it('throws on bytes that are not a DedupEntryList', () => {
    expect(() => SnapshotDedup.fromBytes(Buffer.from([(1 << 3) | 2, 50, 1]))).toThrow(/malformed dedup list/);
  });
});
