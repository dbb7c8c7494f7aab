/**
 * The two entry lists of `proto/node.proto`, LogEntryList (a master's batch, to its
 * replica and every subscribing node) and ForwardedEntryList (a region's messages on
 * their way to another), encoded and decoded by hand. They carry every message on
 * every hop, and the generated codec spent most of its time on per-field machinery
 * (a forked writer and a chunk list per nested message, an intermediate object per
 * message and per entry, a property added to the reader per nested decode).
 *
 * - Encoding writes each list in one pass into a scratch buffer that is reused, and
 *   copies the result out once. A nested message's length prefix is reserved at two
 *   bytes and moved if it needs one or three.
 * - Decoding builds the domain objects (`LogEntry`) directly. Strings that repeat from
 *   entry to entry (origin region and epoch, name, client and connection ids, encoding)
 *   are compared by their bytes with the previous one of the same field and shared
 *   rather than decoded again: fewer allocations, and a stored log holds one copy.
 * - Binary data is copied out, so a stored entry never keeps its whole batch alive.
 *
 * `proto/node.proto` stays the definition: the tests check these bytes against the
 * generated codec both ways (the same bytes for the same entries; either decodes the
 * other's output). Unknown fields are skipped, as protobuf requires.
 */
import type { LogEntry } from '../channel/entry.js';
import type { Message, MessageData, PresenceMessage } from '../protocol/message.js';

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Field tags (field number << 3 | wire type), as written. */
const TAG = {
  listEntry: (1 << 3) | WIRE_LEN,
  // LogEntry
  serial: (1 << 3) | WIRE_VARINT,
  channelSerial: (2 << 3) | WIRE_LEN,
  logStoredAt: (3 << 3) | WIRE_VARINT,
  origin: (4 << 3) | WIRE_LEN,
  logMessage: (5 << 3) | WIRE_LEN,
  logPresence: (6 << 3) | WIRE_LEN,
  host: (7 << 3) | WIRE_LEN,
  // ForwardedEntry
  seq: (1 << 3) | WIRE_VARINT,
  fwdStoredAt: (2 << 3) | WIRE_VARINT,
  fwdMessage: (3 << 3) | WIRE_LEN,
  fwdPresence: (4 << 3) | WIRE_LEN,
  // OriginPosition
  region: (1 << 3) | WIRE_LEN,
  epoch: (2 << 3) | WIRE_LEN,
  originSeq: (3 << 3) | WIRE_VARINT,
  // Message and PresenceMessage
  id: (1 << 3) | WIRE_LEN,
  name: (2 << 3) | WIRE_LEN,
  action: (2 << 3) | WIRE_VARINT,
  clientId: (3 << 3) | WIRE_LEN,
  connectionId: (4 << 3) | WIRE_LEN,
  text: (5 << 3) | WIRE_LEN,
  binary: (6 << 3) | WIRE_LEN,
  encoding: (7 << 3) | WIRE_LEN,
  extras: (8 << 3) | WIRE_LEN,
  timestamp: (9 << 3) | WIRE_I64,
} as const;

/** Node's own Buffer methods without argument parsing (present on every Buffer). */
interface FastBuffer extends Buffer {
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

// ---- encoding ---------------------------------------------------------------------

class Writer {
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
    this.pos = 0;
    if (this.buf.length > SCRATCH_KEPT_BYTES) this.buf = Buffer.allocUnsafe(64 * 1024) as FastBuffer;
    return out;
  }
}

/** A scratch buffer larger than this (grown for a big list) is not kept. */
const SCRATCH_KEPT_BYTES = 4 * 1024 * 1024;
const writer = new Writer();

function writeData(w: Writer, d: MessageData | undefined): void {
  if (d === undefined) return;
  if (typeof d === 'string') w.string(TAG.text, d);
  else w.bytes(TAG.binary, d);
}

function writeMessage(w: Writer, tag: number, m: Message): void {
  const at = w.begin(tag);
  if (m.id !== '') w.string(TAG.id, m.id);
  if (m.name !== undefined) w.string(TAG.name, m.name);
  if (m.clientId !== undefined) w.string(TAG.clientId, m.clientId);
  if (m.connectionId !== undefined) w.string(TAG.connectionId, m.connectionId);
  writeData(w, m.data);
  if (m.encoding !== undefined) w.string(TAG.encoding, m.encoding);
  if (m.extras !== undefined) w.string(TAG.extras, JSON.stringify(m.extras));
  if (m.timestamp !== 0) w.double(TAG.timestamp, m.timestamp);
  w.end(at);
}

function writePresence(w: Writer, tag: number, m: PresenceMessage): void {
  const at = w.begin(tag);
  if (m.id !== '') w.string(TAG.id, m.id);
  if (m.action !== 0) {
    w.byte(TAG.action);
    w.varint(m.action);
  }
  if (m.clientId !== '') w.string(TAG.clientId, m.clientId);
  if (m.connectionId !== '') w.string(TAG.connectionId, m.connectionId);
  writeData(w, m.data);
  if (m.encoding !== undefined) w.string(TAG.encoding, m.encoding);
  if (m.extras !== undefined) w.string(TAG.extras, JSON.stringify(m.extras));
  if (m.timestamp !== 0) w.double(TAG.timestamp, m.timestamp);
  w.end(at);
}

function writeVarintField(w: Writer, tag: number, n: number): void {
  if (n === 0) return;
  w.byte(tag);
  w.varint(n);
}

function writeLogEntry(w: Writer, e: LogEntry): void {
  const at = w.begin(TAG.listEntry);
  writeVarintField(w, TAG.serial, e.serial);
  if (e.channelSerial !== '') w.string(TAG.channelSerial, e.channelSerial);
  writeVarintField(w, TAG.logStoredAt, e.storedAt);
  const o = w.begin(TAG.origin);
  if (e.origin.region !== '') w.string(TAG.region, e.origin.region);
  if (e.origin.epoch !== '') w.string(TAG.epoch, e.origin.epoch);
  writeVarintField(w, TAG.originSeq, e.origin.seq);
  w.end(o);
  if (e.kind === 'message') {
    writeMessage(w, TAG.logMessage, e.message);
  } else {
    writePresence(w, TAG.logPresence, e.presence);
    if (e.host !== '') w.string(TAG.host, e.host);
  }
  w.end(at);
}

function writeForwardedEntry(w: Writer, e: LogEntry): void {
  const at = w.begin(TAG.listEntry);
  writeVarintField(w, TAG.seq, e.origin.seq);
  writeVarintField(w, TAG.fwdStoredAt, e.storedAt);
  if (e.kind === 'message') writeMessage(w, TAG.fwdMessage, e.message);
  else writePresence(w, TAG.fwdPresence, e.presence);
  w.end(at);
}

function encodeList(entries: readonly LogEntry[], write: (w: Writer, e: LogEntry) => void): Buffer {
  try {
    for (const e of entries) write(writer, e);
  } catch (err) {
    writer.pos = 0; // nothing of a failed list is left for the next one
    throw err;
  }
  return writer.finish();
}

// ---- decoding ---------------------------------------------------------------------

function malformed(what: string): Error {
  return new Error(`malformed entry list: ${what}`);
}

/** The previous value of a string field, by its bytes in the list being decoded. */
interface Interned {
  start: number;
  end: number;
  value: string;
}

class Reader {
  pos = 0;
  end: number;
  readonly region: Interned = { start: 0, end: 0, value: '' };
  readonly epoch: Interned = { start: 0, end: 0, value: '' };
  readonly name: Interned = { start: 0, end: 0, value: '' };
  readonly clientId: Interned = { start: 0, end: 0, value: '' };
  readonly connectionId: Interned = { start: 0, end: 0, value: '' };
  readonly encoding: Interned = { start: 0, end: 0, value: '' };

  constructor(readonly buf: FastBuffer) {
    this.end = buf.length;
  }

  /** An unsigned varint up to 2^53. */
  uint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) throw malformed('truncated');
    let x = b[p++]!;
    if (x < 0x80) {
      this.pos = p;
      return x;
    }
    let result = x & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < 8; i++) {
      if (p >= this.end) throw malformed('truncated varint');
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
      if (p >= this.end) throw malformed('truncated varint');
      const x = b[p++]!;
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) {
        this.pos = p;
        const n = Number(BigInt.asIntN(64, v));
        if (!Number.isSafeInteger(n)) throw malformed('integer beyond 2^53');
        return n;
      }
    }
    throw malformed('varint longer than 10 bytes');
  }

  /** The end of a length-delimited field starting here. */
  lenEnd(): number {
    const len = this.uint();
    const e = this.pos + len;
    if (e > this.end) throw malformed('length beyond the end');
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
    if (this.pos + 8 > this.end) throw malformed('truncated double');
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
        throw malformed(`wire type ${wire}`);
    }
    if (this.pos > this.end) throw malformed('truncated field');
  }

  /** Reads a nested message to `e` with `field`, then restores the outer end. */
  nested<T>(field: (r: Reader) => T): T {
    const e = this.lenEnd();
    const outer = this.end;
    this.end = e;
    const v = field(this);
    this.end = outer;
    return v;
  }
}

function readMessage(r: Reader): Message {
  let id = '';
  let name: string | undefined;
  let clientId: string | undefined;
  let connectionId: string | undefined;
  let data: MessageData | undefined;
  let encoding: string | undefined;
  let extras: string | undefined;
  let timestamp = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.id: id = r.string(); break;
      case TAG.name: name = r.interned(r.name); break;
      case TAG.clientId: clientId = r.interned(r.clientId); break;
      case TAG.connectionId: connectionId = r.interned(r.connectionId); break;
      case TAG.text: data = r.string(); break;
      case TAG.binary: data = r.binary(); break;
      case TAG.encoding: encoding = r.interned(r.encoding); break;
      case TAG.extras: extras = r.string(); break;
      case TAG.timestamp: timestamp = r.double(); break;
      default: r.skip(tag & 7);
    }
  }
  // Built as messageFromPb builds it: id and timestamp, then what is there.
  const m: Message = { id, timestamp };
  if (name !== undefined) m.name = name;
  if (clientId !== undefined) m.clientId = clientId;
  if (connectionId !== undefined) m.connectionId = connectionId;
  if (data !== undefined) m.data = data;
  if (encoding !== undefined) m.encoding = encoding;
  if (extras !== undefined) m.extras = JSON.parse(extras) as Record<string, unknown>;
  return m;
}

function readPresence(r: Reader): PresenceMessage {
  let id = '';
  let action = 0;
  let clientId = '';
  let connectionId = '';
  let data: MessageData | undefined;
  let encoding: string | undefined;
  let extras: string | undefined;
  let timestamp = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.id: id = r.string(); break;
      case TAG.action: action = r.uint() >>> 0; break;
      case TAG.clientId: clientId = r.interned(r.clientId); break;
      case TAG.connectionId: connectionId = r.interned(r.connectionId); break;
      case TAG.text: data = r.string(); break;
      case TAG.binary: data = r.binary(); break;
      case TAG.encoding: encoding = r.interned(r.encoding); break;
      case TAG.extras: extras = r.string(); break;
      case TAG.timestamp: timestamp = r.double(); break;
      default: r.skip(tag & 7);
    }
  }
  const m: PresenceMessage = { id, action, clientId, connectionId, timestamp };
  if (data !== undefined) m.data = data;
  if (encoding !== undefined) m.encoding = encoding;
  if (extras !== undefined) m.extras = JSON.parse(extras) as Record<string, unknown>;
  return m;
}

function readOrigin(r: Reader): { region: string; epoch: string; seq: number } {
  let region = '';
  let epoch = '';
  let seq = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.region: region = r.interned(r.region); break;
      case TAG.epoch: epoch = r.interned(r.epoch); break;
      case TAG.originSeq: seq = r.uint(); break;
      default: r.skip(tag & 7);
    }
  }
  return { region, epoch, seq };
}

function readLogEntry(r: Reader): LogEntry {
  let serial = 0;
  let channelSerial = '';
  let storedAt = 0;
  let origin: { region: string; epoch: string; seq: number } | null = null;
  let message: Message | null = null;
  let presence: PresenceMessage | null = null;
  let host = '';
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.serial: serial = r.uint(); break;
      case TAG.channelSerial: channelSerial = r.string(); break;
      case TAG.logStoredAt: storedAt = r.uint(); break;
      case TAG.origin: origin = r.nested(readOrigin); break;
      case TAG.logMessage: message = r.nested(readMessage); presence = null; break;
      case TAG.logPresence: presence = r.nested(readPresence); message = null; break;
      case TAG.host: host = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  origin ??= { region: '', epoch: '', seq: 0 };
  // One literal in ChannelState's property order (as entryFromPb builds it).
  if (message) return { kind: 'message', serial, channelSerial, storedAt, origin, message };
  if (presence) return { kind: 'presence', serial, channelSerial, storedAt, origin, presence, host };
  throw malformed('log entry without an item');
}

function readForwardedEntry(r: Reader, region: string, epoch: string): LogEntry {
  let seq = 0;
  let storedAt = 0;
  let message: Message | null = null;
  let presence: PresenceMessage | null = null;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.seq: seq = r.uint(); break;
      case TAG.fwdStoredAt: storedAt = r.uint(); break;
      case TAG.fwdMessage: message = r.nested(readMessage); presence = null; break;
      case TAG.fwdPresence: presence = r.nested(readPresence); message = null; break;
      default: r.skip(tag & 7);
    }
  }
  const origin = { region, epoch, seq };
  if (message) return { kind: 'message', serial: 0, channelSerial: '', storedAt, origin, message };
  if (presence) return { kind: 'presence', serial: 0, channelSerial: '', storedAt, origin, presence, host: '' };
  throw malformed('forwarded entry without an item');
}

function readList<T>(bytes: Uint8Array, entry: (r: Reader) => T): T[] {
  const buf = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as FastBuffer;
  const r = new Reader(buf);
  const out: T[] = [];
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.listEntry) out.push(r.nested(entry));
    else r.skip(tag & 7);
  }
  return out;
}

/**
 * The codec, as one object (tests count its calls). Encoders take entries as the
 * channel state holds them; decoders throw an Error on bytes that are not such a list.
 */
export const entryListCodec = {
  encodeLogEntryList(entries: readonly LogEntry[]): Buffer {
    return encodeList(entries, writeLogEntry);
  },

  decodeLogEntryList(bytes: Uint8Array): LogEntry[] {
    return readList(bytes, readLogEntry);
  },

  /** Each entry's origin seq, stored-at time and item (the origin region and epoch are the batch's). */
  encodeForwardedEntryList(entries: readonly LogEntry[]): Buffer {
    return encodeList(entries, writeForwardedEntry);
  },

  /** Entries from `region` in its `epoch`, with their serials left for the receiving master to give. */
  decodeForwardedEntryList(bytes: Uint8Array, region: string, epoch: string): LogEntry[] {
    return readList(bytes, (r) => readForwardedEntry(r, region, epoch));
  },
};
