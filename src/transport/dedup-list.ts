/**
 * A channel's deduplication window as it moves in a snapshot (ChannelSnapshot.dedup): a
 * DedupEntryList (`proto/node.proto`) written from the UTF-8 bytes the window holds
 * (`DedupWindow.forEachBytes`) and read into another window's (`addBytes`), by hand, so
 * that no string is made for an id or a serial on either side. Made into objects by the
 * generated codec, a window of 100,000 ids took a handing-off master about 110 ms to
 * list and its receiver about 100 ms to decode, before either stored one.
 *
 * `proto/node.proto` stays the definition: the tests check these bytes against the
 * generated codec both ways. Unknown fields are skipped, as protobuf requires.
 */
import { DedupWindow, type DedupItem } from '../channel/dedup.js';
import { asBuffer, Reader, WIRE_LEN, WIRE_VARINT, Writer, type FastBuffer } from './wire.js';

/** Field tags (field number << 3 | wire type), as written. */
const TAG = {
  entry: (1 << 3) | WIRE_LEN,
  id: (1 << 3) | WIRE_LEN,
  channelSerial: (2 << 3) | WIRE_LEN,
  at: (3 << 3) | WIRE_VARINT,
} as const;

const WHAT = 'dedup list';

const writer = new Writer();

/** The DedupEntryList of a window's ids, in its order, from its bytes. */
function encodeWindow(w: DedupWindow): { bytes: Buffer; count: number } {
  writer.reset();
  let count = 0;
  w.forEachBytes((id, channelSerial, at) => {
    const e = writer.begin(TAG.entry);
    writer.bytes(TAG.id, id);
    writer.bytes(TAG.channelSerial, channelSerial);
    writer.byte(TAG.at);
    writer.varint(at);
    writer.end(e);
    count++;
  });
  return { bytes: writer.finish(), count };
}

/** The entry being read: where its id and serial are in the list, and its time. */
const entry = { idOff: 0, idLen: 0, serialOff: 0, serialLen: 0, at: 0 };

function readEntry(r: Reader): void {
  entry.idOff = entry.idLen = entry.serialOff = entry.serialLen = entry.at = 0;
  while (r.pos < r.end) {
    const t = r.uint();
    if (t === TAG.id) {
      const end = r.lenEnd();
      entry.idOff = r.pos;
      entry.idLen = end - r.pos;
      r.pos = end;
    } else if (t === TAG.channelSerial) {
      const end = r.lenEnd();
      entry.serialOff = r.pos;
      entry.serialLen = end - r.pos;
      r.pos = end;
    } else if (t === TAG.at) entry.at = r.uint();
    else r.skip(t & 7);
  }
}

/** Calls `f` after reading each entry into `entry`. Throws on bytes that are not a DedupEntryList. */
function readList(buf: FastBuffer, f: () => void): void {
  const r = new Reader(buf, WHAT);
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag !== TAG.entry) {
      r.skip(tag & 7);
      continue;
    }
    r.nested(readEntry);
    f();
  }
}

/** How many entries a DedupEntryList holds (its other fields skipped), without reading them. */
function countList(buf: FastBuffer): number {
  const r = new Reader(buf, WHAT);
  let n = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.entry) n++;
    r.skip(tag & 7);
  }
  return n;
}

/** A snapshot's dedup window, as the bytes of a DedupEntryList (its items made only if asked for). */
export class SnapshotDedup {
  private items: readonly DedupItem[] | null = null;

  private constructor(
    /** How many ids. */
    readonly length: number,
    private readonly bytes: Buffer,
  ) {}

  static readonly none = new SnapshotDedup(0, Buffer.alloc(0));

  /** These ids, in order, one per id (the first kept, as a window keeps it). */
  static of(items: readonly DedupItem[]): SnapshotDedup {
    const w = new DedupWindow();
    for (const d of items) w.add(d.id, d.channelSerial, d.at);
    return SnapshotDedup.ofWindow(w);
  }

  /** The window's ids now, as bytes (the window may change after). */
  static ofWindow(w: DedupWindow): SnapshotDedup {
    const { bytes, count } = encodeWindow(w);
    return count ? new SnapshotDedup(count, bytes) : SnapshotDedup.none;
  }

  /** The ids of a DedupEntryList's bytes (a view of them, not a copy). Throws on bytes that are not one. */
  static fromBytes(bytes: Uint8Array): SnapshotDedup {
    if (bytes.length === 0) return SnapshotDedup.none;
    const buf = asBuffer(bytes);
    const n = countList(buf);
    return n ? new SnapshotDedup(n, buf) : SnapshotDedup.none;
  }

  encoded(): Buffer {
    return this.bytes;
  }

  list(): readonly DedupItem[] {
    if (!this.items) {
      const buf = this.bytes as FastBuffer;
      const out: DedupItem[] = [];
      const e = entry;
      readList(buf, () => out.push({ id: buf.utf8Slice(e.idOff, e.idOff + e.idLen), channelSerial: buf.utf8Slice(e.serialOff, e.serialOff + e.serialLen), at: e.at }));
      this.items = out;
    }
    return this.items;
  }

  /** Adds the ids to `w` (as `DedupWindow.add`) from their bytes. Throws on bytes that are not a DedupEntryList. */
  addTo(w: DedupWindow): void {
    const buf = this.bytes;
    const e = entry;
    readList(buf as FastBuffer, () => w.addBytes(buf, e.idOff, e.idLen, e.serialOff, e.serialLen, e.at));
  }
}
