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
import type { DedupWindow } from '../channel/dedup.js';
import { asBuffer, Reader, WIRE_LEN, WIRE_VARINT, Writer, type FastBuffer } from './wire.js';

/** Field tags (field number << 3 | wire type), as written. */
const TAG = {
  entry: (1 << 3) | WIRE_LEN,
  id: (1 << 3) | WIRE_LEN,
  channelSerial: (2 << 3) | WIRE_LEN,
  at: (3 << 3) | WIRE_VARINT,
} as const;

const WHAT = 'dedup list';

export interface DedupItem {
  id: string;
  channelSerial: string;
  at: number;
}

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
  if (count === 0) {
    writer.reset();
    return { bytes: Buffer.alloc(0), count };
  }
  return { bytes: writer.finish(), count };
}

function encodeItems(items: readonly DedupItem[]): Buffer {
  writer.reset();
  for (const d of items) {
    const e = writer.begin(TAG.entry);
    writer.string(TAG.id, d.id);
    writer.string(TAG.channelSerial, d.channelSerial);
    writer.byte(TAG.at);
    writer.varint(d.at);
    writer.end(e);
  }
  return writer.finish();
}

/** Calls `f` with where each entry's id and serial are in `buf`, and its time. Throws on bytes that are not a DedupEntryList. */
function readList(buf: FastBuffer, f: (idOff: number, idLen: number, serialOff: number, serialLen: number, at: number) => void): void {
  const r = new Reader(buf, WHAT);
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag !== TAG.entry) {
      r.skip(tag & 7);
      continue;
    }
    const e = r.lenEnd();
    const outer = r.end;
    r.end = e;
    let idOff = 0;
    let idLen = 0;
    let serialOff = 0;
    let serialLen = 0;
    let at = 0;
    while (r.pos < r.end) {
      const t = r.uint();
      if (t === TAG.id || t === TAG.channelSerial) {
        const end = r.lenEnd();
        if (t === TAG.id) [idOff, idLen] = [r.pos, end - r.pos];
        else [serialOff, serialLen] = [r.pos, end - r.pos];
        r.pos = end;
      } else if (t === TAG.at) at = r.uint();
      else r.skip(t & 7);
    }
    r.end = outer;
    f(idOff, idLen, serialOff, serialLen, at);
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

/**
 * A snapshot's dedup window: as the bytes of a DedupEntryList, as items, or both; each
 * form made at most once.
 */
export class SnapshotDedup {
  private constructor(
    /** How many ids. */
    readonly length: number,
    private items: readonly DedupItem[] | null,
    private bytes: Buffer | null,
  ) {}

  static readonly none = new SnapshotDedup(0, [], null);

  static of(items: readonly DedupItem[]): SnapshotDedup {
    return items.length ? new SnapshotDedup(items.length, items, null) : SnapshotDedup.none;
  }

  /** The window's ids now, as bytes (the window may change after). */
  static ofWindow(w: DedupWindow): SnapshotDedup {
    const { bytes, count } = encodeWindow(w);
    return count ? new SnapshotDedup(count, null, bytes) : SnapshotDedup.none;
  }

  /** The ids of a DedupEntryList's bytes (a view of them, not a copy). Throws on bytes that are not one. */
  static fromBytes(bytes: Uint8Array): SnapshotDedup {
    if (bytes.length === 0) return SnapshotDedup.none;
    const buf = asBuffer(bytes);
    const n = countList(buf);
    return n ? new SnapshotDedup(n, null, buf) : SnapshotDedup.none;
  }

  encoded(): Buffer {
    if (!this.bytes) this.bytes = this.length ? encodeItems(this.items!) : Buffer.alloc(0);
    return this.bytes;
  }

  list(): readonly DedupItem[] {
    if (!this.items) {
      const buf = this.bytes as FastBuffer;
      const out: DedupItem[] = [];
      readList(buf, (io, il, so, sl, at) => out.push({ id: buf.utf8Slice(io, io + il), channelSerial: buf.utf8Slice(so, so + sl), at }));
      this.items = out;
    }
    return this.items;
  }

  /** Adds the ids to `w` (as `DedupWindow.add`), from the bytes where they are bytes. Throws on bytes that are not a DedupEntryList. */
  addTo(w: DedupWindow): void {
    if (this.items) {
      for (const d of this.items) w.add(d.id, d.channelSerial, d.at);
      return;
    }
    const buf = this.bytes!;
    readList(buf as FastBuffer, (io, il, so, sl, at) => w.addBytes(buf, io, il, so, sl, at));
  }
}
