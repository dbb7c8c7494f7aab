/**
 * The two entry lists of `proto/node.proto`, LogEntryList (a master's batch, to its
 * replica and every subscribing node) and ForwardedEntryList (a region's messages on
 * their way to another), encoded and decoded by hand. They carry every message on
 * every hop, and the generated codec spent most of its time on per-field machinery
 * (a forked writer and a chunk list per nested message, an intermediate object per
 * message and per entry, a property added to the reader per nested decode).
 *
 * - Encoding writes each list in one pass into a scratch buffer that is reused, and
 *   copies the result out once (`wire.ts`: the Writer and Reader). A nested message's length prefix is reserved at two
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
import { MessageAction, type AnnotationFields, type Message, type MessageData, type MessageVersion, type PresenceMessage } from '../protocol/message.js';
import { asBuffer, interned, malformed as malformedWire, Reader, WIRE_I64, WIRE_LEN, WIRE_VARINT, Writer, type FastBuffer } from './wire.js';
import { readVersion, writeVersion } from './version-codec.js';
import { ANNOTATION_TAG, readAnnotation, readSummary, writeAnnotation, writeSummary } from './annotation-codec.js';

/** Field tags (field number << 3 | wire type), as written (also read by entry-origin.ts). */
export const TAG = {
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
  messageSerial: (10 << 3) | WIRE_LEN,
  messageAction: (11 << 3) | WIRE_VARINT,
  version: (12 << 3) | WIRE_LEN,
  ownBy: (13 << 3) | WIRE_LEN,
} as const;

const writer = new Writer();
/** For single entries as a channel log stores them (`logEntryElement`). */
const elementWriter = new Writer();

function writeData(w: Writer, d: MessageData | undefined): void {
  if (d === undefined) return;
  if (typeof d === 'string') w.string(TAG.text, d);
  else w.bytes(TAG.binary, d);
}

function writeVarintField(w: Writer, tag: number, n: number): void {
  if (n === 0) return;
  w.byte(tag);
  w.varint(n);
}

/** What Message and PresenceMessage share after their ids (fields 5 to 9). */
function writeItemTail(w: Writer, m: Message | PresenceMessage): void {
  writeData(w, m.data);
  if (m.encoding !== undefined) w.string(TAG.encoding, m.encoding);
  if (m.extras !== undefined) w.string(TAG.extras, JSON.stringify(m.extras));
  if (m.timestamp !== 0) w.double(TAG.timestamp, m.timestamp);
}

function writeMessage(w: Writer, tag: number, m: Message): void {
  const at = w.begin(tag);
  if (m.id !== '') w.string(TAG.id, m.id);
  if (m.name !== undefined) w.string(TAG.name, m.name);
  if (m.clientId !== undefined) w.string(TAG.clientId, m.clientId);
  if (m.connectionId !== undefined) w.string(TAG.connectionId, m.connectionId);
  writeItemTail(w, m);
  if (m.serial !== undefined) w.string(TAG.messageSerial, m.serial);
  if (m.action !== undefined) {
    w.byte(TAG.messageAction);
    w.varint(m.action);
  }
  if (m.version !== undefined) writeVersion(w, m.version);
  if (m.ownBy !== undefined) w.string(TAG.ownBy, m.ownBy);
  if (m.annotation !== undefined) writeAnnotation(w, m.annotation);
  if (m.summary !== undefined) writeSummary(w, m.summary);
  w.end(at);
}

function writePresence(w: Writer, tag: number, m: PresenceMessage): void {
  const at = w.begin(tag);
  if (m.id !== '') w.string(TAG.id, m.id);
  writeVarintField(w, TAG.action, m.action);
  if (m.clientId !== '') w.string(TAG.clientId, m.clientId);
  if (m.connectionId !== '') w.string(TAG.connectionId, m.connectionId);
  writeItemTail(w, m);
  w.end(at);
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

/** Every list starts from an empty writer: nothing of one that failed to encode is left for the next. */
function encodeList(entries: readonly LogEntry[], write: (w: Writer, e: LogEntry) => void): Buffer {
  writer.reset();
  for (const e of entries) write(writer, e);
  return writer.finish();
}

const WHAT = 'entry list';

function malformed(why: string): Error {
  return malformedWire(WHAT, why);
}

/** A Reader that remembers the last value of each string field that repeats from entry to entry. */
class EntryReader extends Reader {
  readonly region = interned();
  readonly epoch = interned();
  readonly name = interned();
  readonly clientId = interned();
  readonly connectionId = interned();
  readonly encoding = interned();

  constructor(buf: FastBuffer) {
    super(buf, WHAT);
  }
}

/**
 * The fields of a Message or PresenceMessage (one field list for both: `name` and
 * `action` share number 2 with different wire types), read into one object reused for
 * every item: nothing allocated per item but the item itself.
 */
const item = {
  id: '',
  name: undefined as string | undefined,
  action: 0,
  clientId: undefined as string | undefined,
  connectionId: undefined as string | undefined,
  data: undefined as MessageData | undefined,
  encoding: undefined as string | undefined,
  extras: undefined as string | undefined,
  timestamp: 0,
  serial: undefined as string | undefined,
  messageAction: undefined as number | undefined,
  version: undefined as MessageVersion | undefined,
  ownBy: undefined as string | undefined,
  annotation: undefined as AnnotationFields | undefined,
  summary: undefined as string | undefined,
};

function readItem(r: EntryReader): typeof item {
  const f = item;
  f.id = '';
  f.name = f.clientId = f.connectionId = f.data = f.encoding = f.extras = f.serial = f.ownBy = undefined;
  f.messageAction = undefined;
  f.version = f.annotation = f.summary = undefined;
  f.action = f.timestamp = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.id: f.id = r.string(); break;
      case TAG.name: f.name = r.interned(r.name); break;
      case TAG.action: f.action = r.uint() >>> 0; break;
      case TAG.clientId: f.clientId = r.interned(r.clientId); break;
      case TAG.connectionId: f.connectionId = r.interned(r.connectionId); break;
      case TAG.text: f.data = r.string(); break;
      case TAG.binary: f.data = r.binary(); break;
      case TAG.encoding: f.encoding = r.interned(r.encoding); break;
      case TAG.extras: f.extras = r.string(); break;
      case TAG.timestamp: f.timestamp = r.double(); break;
      case TAG.messageSerial: f.serial = r.string(); break;
      case TAG.messageAction: f.messageAction = r.uint(); break;
      case TAG.version: f.version = r.nested(readVersion); break;
      case TAG.ownBy: f.ownBy = r.string(); break;
      case ANNOTATION_TAG.field: f.annotation = r.nested(readAnnotation); break;
      case ANNOTATION_TAG.summary: f.summary = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  return f;
}

/** Data, encoding and extras, where there (the end of what both item kinds hold). */
function withTail<T extends Message | PresenceMessage>(m: T, f: typeof item): T {
  if (f.data !== undefined) m.data = f.data;
  if (f.encoding !== undefined) m.encoding = f.encoding;
  if (f.extras !== undefined) m.extras = JSON.parse(f.extras) as Record<string, unknown>;
  return m;
}

function readMessage(r: EntryReader): Message {
  const f = readItem(r);
  // Built as messageFromPb builds it: id and timestamp, then what is there.
  const m: Message = { id: f.id, timestamp: f.timestamp };
  if (f.name !== undefined) m.name = f.name;
  if (f.clientId !== undefined) m.clientId = f.clientId;
  if (f.connectionId !== undefined) m.connectionId = f.connectionId;
  withTail(m, f);
  if (f.serial !== undefined) m.serial = f.serial;
  if (f.messageAction !== undefined) m.action = f.messageAction;
  if (f.version !== undefined) m.version = f.version;
  if (f.ownBy !== undefined) m.ownBy = f.ownBy;
  if (f.annotation !== undefined) m.annotation = f.annotation;
  if (f.summary !== undefined) m.summary = readSummary(f.summary);
  return m;
}

function readPresence(r: EntryReader): PresenceMessage {
  const f = readItem(r);
  return withTail({ id: f.id, action: f.action, clientId: f.clientId ?? '', connectionId: f.connectionId ?? '', timestamp: f.timestamp }, f);
}

function readOrigin(r: EntryReader): { region: string; epoch: string; seq: number } {
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

function readLogEntry(r: EntryReader): LogEntry {
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

function readForwardedEntry(r: EntryReader, region: string, epoch: string): LogEntry {
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

/** The origin seq of an OriginPosition (its region and epoch are the batch's). */
function readOriginSeq(r: Reader): number {
  let seq = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.originSeq) seq = r.uint();
    else r.skip(tag & 7);
  }
  return seq;
}

/**
 * Writes the ForwardedEntry of the LogEntry being read: its origin seq and stored-at
 * time, and its item's bytes as they are (the same bytes `writeForwardedEntry` writes
 * for the decoded entry).
 */
function forwardLogEntry(r: Reader, w: Writer): void {
  let storedAt = 0;
  let seq = 0;
  let itemTag = 0;
  let item: Buffer | null = null;
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.logStoredAt) storedAt = r.uint();
    else if (tag === TAG.origin) seq = r.nested(readOriginSeq);
    else if (tag === TAG.logMessage || tag === TAG.logPresence) {
      const len = r.uint();
      if (r.pos + len > r.end) throw malformed('truncated item');
      item = r.buf.subarray(r.pos, r.pos + len);
      itemTag = tag === TAG.logMessage ? TAG.fwdMessage : TAG.fwdPresence;
      r.pos += len;
    } else r.skip(tag & 7);
  }
  if (!item) throw malformed('log entry without an item');
  const at = w.begin(TAG.listEntry);
  writeVarintField(w, TAG.seq, seq);
  writeVarintField(w, TAG.fwdStoredAt, storedAt);
  w.bytes(itemTag, item);
  w.end(at);
}

/**
 * What a log that keeps an entry's bytes needs of it (ChannelState.restore), read by
 * `scanLogEntryList` into one object reused for every entry: no entry, message or data
 * is made.
 */
export interface EntryHead {
  /** The entry's element (its tag, length and LogEntry) in the list: bytes [start, end). */
  start: number;
  end: number;
  serial: number;
  storedAt: number;
  /** `version`: a message that changes another (an update, delete or append); `annotation`: one that annotates another. */
  kind: 'message' | 'presence' | 'version' | 'annotation';
  /** Its origin region (one string for the entries that repeat it) and seq there. */
  region: string;
  seq: number;
  /** Its item's id and connection id ('' and undefined where there are none). */
  id: string;
  connectionId: string | undefined;
  /** A version's or annotation's: the serial of the message it changes or annotates ('' for other entries). */
  target: string;
}

const head: EntryHead = { start: 0, end: 0, serial: 0, storedAt: 0, kind: 'message', region: '', seq: 0, id: '', connectionId: undefined, target: '' };
/** Where the channelSerial of the entry in `head` is in the list (both 0: none). */
let serialStart = 0;
let serialEnd = 0;

function readOriginHead(r: EntryReader): void {
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.region) head.region = r.interned(r.region);
    else if (tag === TAG.originSeq) head.seq = r.uint();
    else r.skip(tag & 7);
  }
}

function readItemHead(r: EntryReader): void {
  head.id = head.target = '';
  head.connectionId = undefined;
  let targetAt = 0;
  let targetEnd = 0;
  let action = 0;
  while (r.pos < r.end) {
    const tag = r.uint();
    if (tag === TAG.id) head.id = r.string();
    else if (tag === TAG.connectionId) head.connectionId = r.interned(r.connectionId);
    else if (tag === TAG.messageSerial) {
      // Made a string only for a version: a create's serial is not needed here.
      targetEnd = r.lenEnd();
      targetAt = r.pos;
      r.pos = targetEnd;
    } else if (tag === TAG.messageAction) action = r.uint();
    else r.skip(tag & 7);
  }
  if (action !== 0 && head.kind === 'message') {
    head.kind = action === MessageAction.ANNOTATION ? 'annotation' : 'version';
    head.target = r.buf.utf8Slice(targetAt, targetEnd);
  }
}

/** Reads the LogEntry from here to `r.end` into `head` (and where its channelSerial is). */
function readHead(r: EntryReader): void {
  head.serial = head.storedAt = head.seq = serialStart = serialEnd = 0;
  head.region = head.id = '';
  head.connectionId = undefined;
  let item = false;
  while (r.pos < r.end) {
    const tag = r.uint();
    switch (tag) {
      case TAG.serial: head.serial = r.uint(); break;
      case TAG.channelSerial: serialEnd = r.lenEnd(); serialStart = r.pos; r.pos = serialEnd; break;
      case TAG.logStoredAt: head.storedAt = r.uint(); break;
      case TAG.origin: r.nested(readOriginHead); break;
      case TAG.logMessage:
      case TAG.logPresence:
        head.kind = tag === TAG.logMessage ? 'message' : 'presence';
        r.nested(readItemHead);
        item = true;
        break;
      default: r.skip(tag & 7);
    }
  }
  if (!item) throw malformed('log entry without an item');
}

function readList<T>(bytes: Uint8Array, entry: (r: EntryReader) => T): T[] {
  const r = new EntryReader(asBuffer(bytes));
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

  /**
   * Where the elements of a LogEntryList start, and (last) where the list ends: element i
   * is the bytes from [i] to [i + 1], what `decodeLogEntryList` makes entry i of. Null if
   * the list holds anything but entries (fields a later version may add).
   */
  logEntryElements(bytes: Uint8Array): number[] | null {
    const r = new Reader(asBuffer(bytes), WHAT);
    const at: number[] = [];
    while (r.pos < r.end) {
      at.push(r.pos);
      if (r.uint() !== TAG.listEntry) return null;
      r.skip(WIRE_LEN);
    }
    at.push(r.pos);
    return at;
  },

  /**
   * Reads each entry of a LogEntryList only as far as a log that keeps its bytes needs
   * (`EntryHead`, one object reused: copy what outlives the call), in order; returns how
   * many there were and the last one's channelSerial ('' if none). Throws on bytes that
   * are not such a list.
   */
  scanLogEntryList(bytes: Uint8Array, visit: (h: EntryHead) => void): { count: number; lastChannelSerial: string } {
    const r = new EntryReader(asBuffer(bytes));
    let count = 0;
    while (r.pos < r.end) {
      const start = r.pos;
      const tag = r.uint();
      if (tag !== TAG.listEntry) {
        r.skip(tag & 7);
        continue;
      }
      r.nested(readHead);
      head.start = start;
      head.end = r.pos;
      count++;
      visit(head);
    }
    // serialStart and serialEnd are still the last entry's.
    return { count, lastChannelSerial: count ? r.buf.utf8Slice(serialStart, serialEnd) : '' };
  },

  /**
   * How many entries a LogEntryList holds, without decoding them; null as logEntryElements.
   * (Counted, not `logEntryElements(…).length - 1`: a claim counts every copy it is sent,
   * and the array of 100,000 offsets took it 10 ms more.)
   */
  logEntryCount(bytes: Uint8Array): number | null {
    const r = new Reader(asBuffer(bytes), WHAT);
    let n = 0;
    while (r.pos < r.end) {
      if (r.uint() !== TAG.listEntry) return null;
      r.skip(WIRE_LEN);
      n++;
    }
    return n;
  },

  /**
   * One entry as an element of a LogEntryList (its tag, length and LogEntry): elements
   * side by side are a list. The bytes are in a scratch buffer, valid until the next call.
   */
  logEntryElement(e: LogEntry): Uint8Array {
    elementWriter.reset();
    writeLogEntry(elementWriter, e);
    return elementWriter.buf.subarray(0, elementWriter.pos);
  },

  /**
   * The ForwardedEntryList of the entries in these LogEntryLists (a log's runs of
   * them), made from their bytes without decoding them.
   */
  forwardedFromLog(lists: readonly Buffer[]): Buffer {
    writer.reset();
    for (const list of lists) {
      const r = new Reader(asBuffer(list), WHAT);
      while (r.pos < r.end) {
        const tag = r.uint();
        if (tag === TAG.listEntry) r.nested((n) => forwardLogEntry(n, writer));
        else r.skip(tag & 7);
      }
    }
    return writer.finish();
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
