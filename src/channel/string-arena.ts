/**
 * Strings kept as UTF-8 bytes outside the JavaScript heap, appended in order and dropped
 * from the oldest end: what the deduplication window holds for two minutes per message
 * (dedup.ts). Held as JS strings, every id and serial was copied twice by the young
 * generation's collector and then marked by every full collection for as long as it
 * lived; as bytes in a few large buffers, the collector sees one object per chunk.
 *
 * Chunks grow with what the arena holds (from MIN_CHUNK to MAX_CHUNK bytes), so a
 * channel that keeps a handful of ids costs a few hundred bytes, and a busy one a few
 * large buffers. A place in the arena is (chunk number, offset); chunk numbers only grow.
 */
const MIN_CHUNK = 256;
const MAX_CHUNK = 256 * 1024;

/** The string's length in UTF-8 bytes if it is all ASCII, else -1. */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

export function utf8Bytes(s: string): number {
  const n = asciiLength(s);
  return n >= 0 ? n : Buffer.byteLength(s, 'utf8');
}

/** FNV-1a over the string's UTF-8 bytes (the same value `hashBytes` gives for them). */
export function hashString(s: string): number {
  if (asciiLength(s) < 0) {
    const b = Buffer.from(s, 'utf8');
    return hashBytes(b, 0, b.length);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function hashBytes(b: Buffer, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

export class StringArena {
  private chunks: Buffer[] = [];
  /** Chunk number of chunks[0]. */
  private base = 0;
  /** Bytes used in the newest chunk. */
  private used = 0;
  private held = 0;

  /** Bytes of the buffers held (used or not). */
  get bytes(): number {
    return this.held;
  }

  /**
   * Appends `a` then `b` (each `aLen`, `bLen` UTF-8 bytes) side by side, and returns the
   * chunk number; they start at `offset` (read it right after).
   */
  append(a: string, aLen: number, b: string, bLen: number): number {
    const chunk = this.room(aLen + bLen);
    write(chunk, this.offset, a, aLen);
    write(chunk, this.offset + aLen, b, bLen);
    return this.base + this.chunks.length - 1;
  }

  /** As `append`, for strings given as UTF-8 bytes: `src` [aOff, aOff + aLen) and [bOff, bOff + bLen). */
  appendBytes(src: Buffer, aOff: number, aLen: number, bOff: number, bLen: number): number {
    const chunk = this.room(aLen + bLen);
    copyBytes(src, aOff, aLen, chunk, this.offset);
    copyBytes(src, bOff, bLen, chunk, this.offset + aLen);
    return this.base + this.chunks.length - 1;
  }

  /** `need` bytes at the end of the newest chunk (a new one if it has not room), starting at `offset`. */
  private room(need: number): Buffer {
    let chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.length - this.used < need) {
      chunk = Buffer.allocUnsafeSlow(Math.max(need, Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.held))));
      this.chunks.push(chunk);
      this.held += chunk.length;
      this.used = 0;
    }
    this.offset = this.used;
    this.used += need;
    return chunk;
  }

  /** Where the last `append` put its first string. */
  offset = 0;

  /** The `len` bytes at a place (a view of them, valid until their chunk is dropped). */
  bytesAt(chunk: number, off: number, len: number): Buffer {
    return this.chunks[chunk - this.base]!.subarray(off, off + len);
  }

  read(chunk: number, off: number, len: number): string {
    return this.chunks[chunk - this.base]!.toString('utf8', off, off + len);
  }

  hash(chunk: number, off: number, len: number): number {
    return hashBytes(this.chunks[chunk - this.base]!, off, len);
  }

  equals(chunk: number, off: number, len: number, s: string): boolean {
    const b = this.chunks[chunk - this.base]!;
    if (s.length === len) {
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        if (b[off + i] !== c) return false;
      }
      if (i === len) return true;
    } else if (asciiLength(s) >= 0) {
      return false;
    }
    return b.toString('utf8', off, off + len) === s;
  }

  /** Whether the `len` bytes at two places are the same. */
  sameBytes(chunkA: number, offA: number, chunkB: number, offB: number, len: number): boolean {
    const a = this.chunks[chunkA - this.base]!;
    const b = this.chunks[chunkB - this.base]!;
    for (let i = 0; i < len; i++) if (a[offA + i] !== b[offB + i]) return false;
    return true;
  }

  /** Drops the chunks before chunk number `chunk` (nothing in them is wanted any more). */
  dropBefore(chunk: number): void {
    while (this.base < chunk && this.chunks.length > 1) {
      this.held -= this.chunks.shift()!.length;
      this.base++;
    }
  }

  /** Drops everything (chunk numbers go on from where they were). */
  clear(): void {
    this.base += this.chunks.length;
    this.chunks = [];
    this.held = 0;
    this.used = 0;
  }
}

/** `len` bytes of `src` from `from` into `to` at `at`: ids and serials are short, and a loop beats a call into C++ for them. */
function copyBytes(src: Buffer, from: number, len: number, to: Buffer, at: number): void {
  if (len > 64) src.copy(to, at, from, from + len);
  else for (let i = 0; i < len; i++) to[at + i] = src[from + i]!;
}

function write(b: Buffer, off: number, s: string, len: number): void {
  if (len === s.length) {
    for (let i = 0; i < len; i++) b[off + i] = s.charCodeAt(i);
  } else {
    b.write(s, off, len, 'utf8');
  }
}
