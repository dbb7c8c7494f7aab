/**
 * Protobuf's wire format, written and read by hand for the few hot lists that need it
 * (`entry-codec.ts`): a Writer that writes one pass into a reused scratch buffer, and
 * a Reader over one buffer. Everything else goes through the generated code in
 * `src/gen/`.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Node's own Buffer methods without argument parsing (present on every Buffer). */
export interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
}

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

// ---- writing ----------------------------------------------------------------------

export class Writer {
  buf: FastBuffer = Buffer.allocUnsafe(64 * 1024) as FastBuffer;
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n)) as FastBuffer;
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** A non-negative integer up to 2^53 (uint64, and int64 that is not negative). */
  varint(n: number): void {
    if (n < 0 || !Number.isInteger(n)) return this.varintBig(n);
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80; // & keeps the low bits of any integer below 2^53
      n = n > 0xffffffff ? Math.floor(n / 128) : n >>> 7;
    }
    b[p++] = n;
    this.pos = p;
  }

  /** Negative (two's complement over 64 bits, 10 bytes) or fractional (truncated, as the generated writer does). */
  private varintBig(n: number): void {
    let v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  double(tag: number, v: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A length-prefixed UTF-8 string. */
  string(tag: number, s: string): void {
    const len = s.length;
    const reserved = varintSize(len); // UTF-8 never has fewer bytes than UTF-16 units
    this.ensure(1 + reserved + 3 * len + 2);
    const b = this.buf;
    b[this.pos++] = tag;
    const start = this.pos + reserved;
    let written = -1;
    if (len <= 64) {
      // Short strings, almost always ASCII: a loop beats a call into C++.
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === len) written = len;
    }
    if (written < 0) written = b.utf8Write(s, start, b.length - start);
    const need = varintSize(written);
    if (need !== reserved) this.move(start, start + need - reserved, written);
    this.lengthAt(this.pos, written, need);
    this.pos += need + written;
  }

  bytes(tag: number, u8: Uint8Array): void {
    this.ensure(1 + 5 + u8.length);
    this.buf[this.pos++] = tag;
    this.varint(u8.length);
    this.buf.set(u8, this.pos);
    this.pos += u8.length;
  }

  /** Starts a nested message: its tag and two bytes kept for its length. */
  begin(tag: number): number {
    this.ensure(3);
    this.buf[this.pos++] = tag;
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  /** Ends the nested message begun at `at`: writes its length, moving it if two bytes were not right. */
  end(at: number): void {
    const len = this.pos - at - 2;
    const need = varintSize(len);
    if (need !== 2) {
      this.ensure(need);
      this.move(at + 2, at + need, len);
      this.pos += need - 2;
    }
    this.lengthAt(at, len, need);
  }

  private lengthAt(at: number, len: number, size: number): void {
    const b = this.buf;
    for (let i = 0; i < size - 1; i++) {
      b[at + i] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    b[at + size - 1] = len;
  }

  private move(from: number, to: number, n: number): void {
    const b = this.buf;
    if (n > 64) {
      b.copyWithin(to, from, from + n);
    } else if (to > from) {
      for (let i = n - 1; i >= 0; i--) b[to + i] = b[from + i]!;
    } else {
      for (let i = 0; i < n; i++) b[to + i] = b[from + i]!;
    }
  }

  /** The bytes written, copied out; the scratch buffer is kept for the next list (unless it grew large). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.reset();
    return out;
  }

  /** Starts over, letting go of a scratch buffer that grew large. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > SCRATCH_KEPT_BYTES) this.buf = Buffer.allocUnsafe(64 * 1024) as FastBuffer;
  }
}

/** A scratch buffer larger than this (grown for a big list) is not kept. */
const SCRATCH_KEPT_BYTES = 4 * 1024 * 1024;

// ---- reading ----------------------------------------------------------------------

/** The same bytes as a Buffer (a view, not a copy). */
export function asBuffer(bytes: Uint8Array): FastBuffer {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as FastBuffer;
}

/** What a reader throws on bytes that are not what it reads (`what`: e.g. "entry list"). */
export function malformed(what: string, why: string): Error {
  return new Error(`malformed ${what}: ${why}`);
}

/** The previous value of a string field, by its bytes in the list being decoded. */
export interface Interned {
  start: number;
  end: number;
  value: string;
}

export function interned(): Interned {
  return { start: 0, end: 0, value: '' };
}

export class Reader {
  pos = 0;
  end: number;

  constructor(
    readonly buf: FastBuffer,
    /** What is read, for errors. */
    readonly what: string,
  ) {
    this.end = buf.length;
  }

  /** An unsigned varint up to 2^53. */
  uint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) throw malformed(this.what, 'truncated');
    let x = b[p++]!;
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
    let result = x & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < 8; i++) {
      if (p >= this.end) throw malformed(this.what, 'truncated varint');
      x = b[p++]!;
      result += (x & 0x7f) * mul;
      if (x < 0x80) {
        this.pos = p;
        return result;
      }
      mul *= 0x80;
    }
    return this.bigVarint();
  }

  /** A varint of 8 bytes or more (from the start of this varint): safe integers only, negative int64 included. */
  private bigVarint(): number {
    const b = this.buf;
    let p = this.pos;
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (p >= this.end) throw malformed(this.what, 'truncated varint');
      const x = b[p++]!;
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) {
        this.pos = p;
        const n = Number(BigInt.asIntN(64, v));
        if (!Number.isSafeInteger(n)) throw malformed(this.what, 'integer beyond 2^53');
        return n;
      }
    }
    throw malformed(this.what, 'varint longer than 10 bytes');
  }

  /** The end of a length-delimited field starting here. */
  lenEnd(): number {
    const len = this.uint();
    const e = this.pos + len;
    if (e > this.end) throw malformed(this.what, 'length beyond the end');
    return e;
  }

  string(): string {
    const e = this.lenEnd();
    const s = this.buf.utf8Slice(this.pos, e);
    this.pos = e;
    return s;
  }

  /** A string that may repeat the previous one of its field: shared if its bytes are the same. */
  interned(slot: Interned): string {
    const e = this.lenEnd();
    const s = this.pos;
    const n = e - s;
    const b = this.buf;
    if (n === slot.end - slot.start && n <= 64) {
      let i = 0;
      const ps = slot.start;
      while (i < n && b[s + i] === b[ps + i]) i++;
      if (i === n) {
        this.pos = e;
        return slot.value;
      }
    }
    const value = b.utf8Slice(s, e);
    slot.start = s;
    slot.end = e;
    slot.value = value;
    this.pos = e;
    return value;
  }

  binary(): Buffer {
    const e = this.lenEnd();
    const out = Buffer.allocUnsafe(e - this.pos);
    this.buf.copy(out, 0, this.pos, e);
    this.pos = e;
    return out;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw malformed(this.what, 'truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skips a field this decoder does not know. */
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.uint();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.pos = this.lenEnd();
        return;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        throw malformed(this.what, `wire type ${wire}`);
    }
    if (this.pos > this.end) throw malformed(this.what, 'truncated field');
  }

  /** Reads a nested message to `e` with `field`, then restores the outer end. */
  nested<R extends Reader, T>(this: R, field: (r: R) => T): T {
    const e = this.lenEnd();
    const outer = this.end;
    this.end = e;
    const v = field(this);
    this.end = outer;
    return v;
  }
}
