/**
 * A protobuf writer that leaves large `bytes` fields where they are: it writes their
 * length and remembers the field's bytes by reference, and `finishChunks()` returns the
 * message as a list of pieces (the writer's own bytes between such fields, copied out,
 * and the fields' bytes themselves), which a stream sends one after another.
 *
 * Node messages carry channel entries as bytes already encoded (a LogEntryList as the
 * log holds it, a ForwardedEntryList from another region): a replication, a broadcast
 * or an ingest of a 1,000-entry batch is nearly all one such field. A plain writer
 * copies it in (`raw`) and the whole message out again (`finish`); in a CPU profile of
 * the heal catch-up those two copies were 8–10 % of the receiving region's nodes' time.
 *
 * The bytes referenced must not change until the pieces are written: they are the
 * log's (appended to, never rewritten), a decoded message's, or a finished encoder's
 * output, all immutable once made.
 *
 * The length prefixes of enclosing messages count the referenced bytes: `join` is the
 * library's own, plus the referenced bytes written since the fork, and a widened prefix
 * moves the references after it with the bytes it moves.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** `bytes` fields at least this long are referenced, not copied. */
export const REFERENCE_BYTES = 1024;

/** The writer's state this class works on (private in the library's types; checked by the tests against the plain writer). */
interface WriterState {
  buffer: Uint8Array;
  pos: number;
  stackPos: number[];
  ensureCapacity(size: number): void;
  uint32(value: number): BinaryWriter;
}

interface Reference {
  /** Position in the writer's buffer the bytes go before. */
  at: number;
  bytes: Uint8Array;
}

function varint32Size(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n >>>= 7;
    size++;
  }
  return size;
}

export class ChunkedWriter extends BinaryWriter {
  private refs: Reference[] = [];

  private get state(): WriterState {
    return this as unknown as WriterState;
  }

  override bytes(value: Uint8Array): this {
    if (value.byteLength < REFERENCE_BYTES) return super.bytes(value) as this;
    const s = this.state;
    s.uint32(value.byteLength);
    this.refs.push({ at: s.pos, bytes: value });
    return this;
  }

  override join(): this {
    const s = this.state;
    const forkPos = s.stackPos.pop();
    if (forkPos === undefined) throw new Error('invalid state, fork stack empty');
    // Referenced bytes after the fork's reserved one-byte prefix belong to its payload.
    let referenced = 0;
    let first = this.refs.length;
    while (first > 0 && this.refs[first - 1]!.at > forkPos) referenced += this.refs[--first]!.bytes.byteLength;
    const own = s.pos - forkPos - 1;
    const len = own + referenced;
    const prefix = varint32Size(len);
    if (prefix > 1) {
      s.ensureCapacity(prefix - 1);
      s.buffer.copyWithin(forkPos + prefix, forkPos + 1, s.pos);
      for (let i = first; i < this.refs.length; i++) this.refs[i]!.at += prefix - 1;
    }
    s.pos = forkPos;
    s.uint32(len);
    s.pos += own;
    return this;
  }

  /** Bytes of the writer's own buffer (it keeps it between messages). */
  get capacity(): number {
    return this.state.buffer.length;
  }

  /** The message as pieces to send in order (their lengths add up to its length); resets the writer. */
  finishChunks(): Uint8Array[] {
    const s = this.state;
    const out: Uint8Array[] = [];
    let from = 0;
    for (const r of this.refs) {
      if (r.at > from) out.push(s.buffer.slice(from, r.at));
      out.push(r.bytes);
      from = r.at;
    }
    if (s.pos > from || out.length === 0) out.push(s.buffer.slice(from, s.pos));
    this.refs = [];
    s.pos = 0;
    s.stackPos = [];
    return out;
  }

  /** The message in one array (a copy of the pieces). */
  override finish(): Uint8Array<ArrayBuffer> {
    const chunks = this.finishChunks();
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}
