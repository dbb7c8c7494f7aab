/**
 * Message versions: Ably's updates, deletes and appends ("mutable messages", on channels
 * whose namespace has the `mutableMessages` rule). A change is a message of its own in
 * the channel's stream, ordered, replicated, broadcast and sent to other regions like
 * any other; its `action` says what it does (1 update, 2 delete, 5 append), its `serial`
 * names the message it changes, and its `version.serial` is its own serial, made where
 * it was accepted. Subscribers are sent each change as it comes (an append: its fragment
 * only). History, `getMessage` and rewind show each message as it stands: its create,
 * then its versions in the order of their serials (the highest is the latest, wherever
 * it was made, so every region comes to the same message whatever order the versions
 * reached it in), in the create's place.
 *
 * - An update or delete is stored whole: what it gives of name, data (with its encoding)
 *   and extras, the rest as the message stood where it was accepted. As it stands, the
 *   message is the latest such version, with the appends after it.
 * - An append's data is joined to the data before it: text to text, bytes to bytes, of
 *   the same encoding (never one with `json` or `cipher` in it: those do not join).
 * - A version keeps the message's clientId; its id is its own (the service's, as for any
 *   publish: ably-js sends the original's id with a change); its timestamp is the change's.
 */
import { AblyError } from '../errors.js';
import { MessageAction, messageSize, type Message, type MessageData } from '../protocol/message.js';
import { parseMessageSerial } from '../protocol/message-serial.js';
import type { EntryHead } from '../transport/entry-codec.js';
import type { LogEntry, MessageEntry } from './entry.js';
import type { ChannelLog } from './log.js';
import { Fifo } from '../fifo.js';

/** Where one version of a message is in the channel's log. */
export interface VersionRef {
  logSerial: number;
  versionSerial: string;
}

/**
 * Per message (its serial), its retained versions in log order; only messages that have
 * some are here. Versions are added in log order, and retention drops them in that order
 * (one queue over all of them): a trim does no work for what it keeps.
 */
export class VersionIndex {
  private readonly byTarget = new Map<string, Fifo<VersionRef>>();
  private readonly order = new Fifo<{ logSerial: number; target: string }>();

  add(target: string, logSerial: number, versionSerial: string): void {
    let list = this.byTarget.get(target);
    if (!list) this.byTarget.set(target, (list = new Fifo<VersionRef>(4)));
    list.push({ logSerial, versionSerial });
    this.order.push({ logSerial, target });
  }

  of(target: string): Iterable<VersionRef> | undefined {
    return this.byTarget.get(target);
  }

  has(target: string): boolean {
    return this.byTarget.has(target);
  }

  get size(): number {
    return this.byTarget.size;
  }

  /** Forgets versions at or below log serial `base` (retention dropped them); `gone`: each message left with none. */
  trim(base: number, gone: (target: string) => void): void {
    for (let v = this.order.at(0); v && v.logSerial <= base; v = this.order.at(0)) {
      this.order.shift();
      const list = this.byTarget.get(v.target)!;
      list.shift();
      if (list.length === 0) {
        this.byTarget.delete(v.target);
        gone(v.target);
      }
    }
  }
}

/** Ably's wire order: by version serial (strings). */
function bySerial(a: Message, b: Message): number {
  const x = a.version?.serial ?? '';
  const y = b.version?.serial ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

function joined(a: MessageData | undefined, b: MessageData | undefined): MessageData | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  return Buffer.concat([typeof a === 'string' ? Buffer.from(a) : a, typeof b === 'string' ? Buffer.from(b) : b]);
}

/** An append of `fragment` to the message as it stands. */
function appended(current: Message, fragment: Message): Message {
  const m: Message = { ...current, timestamp: fragment.timestamp, action: MessageAction.UPDATE };
  const data = joined(current.data, fragment.data);
  if (data !== undefined) m.data = data;
  if (fragment.extras !== undefined) m.extras = fragment.extras;
  if (fragment.version !== undefined) m.version = fragment.version;
  return m;
}

/**
 * The message as it stands: `create` (null where retention dropped it) and then its
 * `versions` (any order), in the order of their serials. Null when there is nothing.
 */
export function standing(create: Message | null, versions: readonly Message[]): Message | null {
  let m = create;
  for (const v of [...versions].sort(bySerial)) {
    if (v.action === MessageAction.APPEND) m = m ? appended(m, v) : { ...v, action: MessageAction.UPDATE };
    else m = { ...v, id: m?.id ?? v.id };
  }
  if (m && create && m !== create) m.id = create.id;
  return m;
}

/** Whether an append's data can be joined to the message's: the same type and encoding, not JSON or encrypted. */
function joinable(current: Message, fragment: Message): string | null {
  const enc = fragment.encoding ?? '';
  if (/json|cipher/.test(enc)) return `data encoded as ${enc} cannot be appended to`;
  if ((current.encoding ?? '') !== enc) return `the append's encoding (${enc || 'none'}) is not the message's (${current.encoding || 'none'})`;
  if (current.data !== undefined && fragment.data !== undefined && typeof current.data !== typeof fragment.data) {
    return `the append's data is ${typeof fragment.data === 'string' ? 'text' : 'binary'}, the message's is not`;
  }
  return null;
}

/**
 * The version a change makes of the message as it stands (`current`), as stored and sent:
 * `change` as a client sent it (its `serial` the message's), `versionSerial` its own
 * serial. Throws where it may not be made: not the publisher's to change (an `-own`
 * capability: 40160), an append that does not join (40013) or would make the message
 * larger than `maxSize` (40009; `size`: the message's as it stands, where known).
 */
export function versionOf(current: Message, change: Message, versionSerial: string, maxSize = Infinity, size = messageSize(current)): Message {
  const serial = change.serial!;
  if (change.ownBy !== undefined && current.clientId !== change.ownBy) {
    throw AblyError.of('notPermitted', `message ${serial} is not ${change.ownBy}'s to change (its clientId is ${current.clientId ?? 'none'}), and the capability allows only one's own`);
  }
  const version = { ...change.version, serial: versionSerial, timestamp: change.timestamp };
  const m: Message = { id: change.id, timestamp: change.timestamp, serial, action: change.action!, version };
  if (current.clientId !== undefined) m.clientId = current.clientId;
  if (change.connectionId !== undefined) m.connectionId = change.connectionId;
  if (change.action === MessageAction.APPEND) {
    const why = joinable(current, change);
    if (why) throw AblyError.of('invalidMessageData', `message ${serial}: ${why}`);
    const grown = change.extras === undefined ? size + messageSize({ data: change.data }) : messageSize(appended(current, change));
    if (grown > maxSize) {
      throw AblyError.of('messageTooLarge', `message ${serial} with this append would pass maxMessageSize ${maxSize}`);
    }
    if (current.name !== undefined) m.name = current.name;
    if (change.data !== undefined) m.data = change.data;
    if (change.encoding !== undefined) m.encoding = change.encoding;
    const extras = change.extras ?? current.extras;
    if (extras !== undefined) m.extras = extras;
    return m;
  }
  const name = change.name ?? current.name;
  if (name !== undefined) m.name = name;
  const whole = change.data !== undefined ? change : current;
  if (whole.data !== undefined) m.data = whole.data;
  if (whole.encoding !== undefined) m.encoding = whole.encoding;
  const extras = change.extras ?? current.extras;
  if (extras !== undefined) m.extras = extras;
  return m;
}

/**
 * A channel's retained messages as they stand: its log, read through the index of the
 * versions it holds (kept as entries are appended, restored, and dropped by retention).
 */
export class Versions {
  private readonly index = new VersionIndex();
  /**
   * Messages with versions as they stand, each with the log serial of the latest version
   * joined in (so a read bounded below it makes its own), kept as versions come in their
   * serials' order: each append would otherwise read every version before it again.
   */
  private readonly stand = new Map<string, { m: Message | null; last: string; logSerial: number; size: number }>();

  constructor(private readonly log: ChannelLog) {}

  /** An entry just appended: kept if it is a version. */
  note(e: LogEntry): void {
    if (e.kind !== 'message' || e.message.action === undefined) return;
    const target = e.message.serial!;
    const vs = e.message.version?.serial ?? '';
    this.index.add(target, e.serial, vs);
    const s = this.stand.get(target);
    if (!s) return;
    if (vs > s.last) {
      const m = standing(s.m, [e.message]);
      const grown = e.message.action === MessageAction.APPEND && e.message.extras === undefined && s.m !== null;
      Object.assign(s, { m, last: vs, logSerial: e.serial, size: grown ? s.size + messageSize({ data: e.message.data }) : m ? messageSize(m) : 0 });
    } else this.stand.delete(target); // came after a later one (another region's): made again when read
  }

  /** As `note`, for an entry read only as far as a restore needs. */
  noteHead(h: EntryHead): void {
    if (h.kind !== 'version') return;
    this.index.add(h.target, h.serial, h.versionSerial);
    this.stand.delete(h.target);
  }

  trim(base: number): void {
    this.index.trim(base, (target) => this.stand.delete(target));
  }

  /** The retained create of the message of `serial` (up to log serial `upto`). */
  private create(serial: string, upto?: number): MessageEntry | null {
    const p = parseMessageSerial(serial);
    const e = p && this.log.created(p, upto);
    return e?.kind === 'message' && e.message.serial === serial ? e : null;
  }

  /** Its retained versions (up to log serial `upto`), in log order. */
  private versions(serial: string, upto = Infinity): MessageEntry[] {
    const out: MessageEntry[] = [];
    for (const v of this.index.of(serial) ?? []) {
      if (v.logSerial > upto) break;
      const e = this.log.range(v.logSerial - 1, v.logSerial)?.[0];
      if (e?.kind === 'message') out.push(e);
    }
    return out;
  }

  /** The message of `serial` as it stands, with nothing after log serial `upto` (null: nothing of it retained), and its size. */
  private standingOf(serial: string, create: Message | null | undefined, upto = Infinity): { m: Message | null; size: number } {
    const s = this.stand.get(serial);
    if (s && s.logSerial <= upto) return s;
    const versions = this.versions(serial, upto);
    const m = standing(create === undefined ? (this.create(serial, upto)?.message ?? null) : create, versions.map((e) => e.message));
    const found = { m, size: m ? messageSize(m) : 0 };
    const last = versions.reduce((a, e) => Math.max(a, e.serial), 0);
    if (last === this.lastOf(serial)) this.stand.set(serial, { ...found, last: versions.map((e) => e.message.version?.serial ?? '').sort().at(-1) ?? '', logSerial: last });
    return found;
  }

  /** The log serial of the message's last retained version (0: none). */
  private lastOf(serial: string): number {
    let last = 0;
    for (const v of this.index.of(serial) ?? []) last = v.logSerial;
    return last;
  }

  /**
   * The message of `serial` as it stands, to be changed by a client: 40400 where neither
   * it nor a version of it is retained (never published here, or older than history).
   */
  current(serial: string): { m: Message; size: number } {
    const { m, size } = this.standingOf(serial, undefined);
    if (!m) throw AblyError.of('notFound', `no message with serial ${serial} in the channel's retained history`);
    return { m, size };
  }

  /** The version `change` makes of the message as it stands (versionOf; 40400 where none is retained). */
  make(change: Message, versionSerial: string, maxSize?: number): Message {
    const { m, size } = this.current(change.serial!);
    return versionOf(m, change, versionSerial, maxSize, size);
  }

  /**
   * `getMessage`: the message of `serial` as it stands, in its create's entry (or its
   * latest version's); `getMessageVersions` (`all`): its create and versions, in the order
   * of their serials. Nothing where none is retained. Nothing after log serial `upto`.
   */
  lookup(serial: string, all: boolean, upto = Infinity): LogEntry[] {
    const create = this.create(serial, upto);
    if (all) return [...(create ? [create] : []), ...this.versions(serial, upto)].sort((a, b) => bySerial(a.message, b.message));
    const { m } = this.standingOf(serial, create?.message ?? null, upto);
    const at = create ?? this.versions(serial, upto).at(-1);
    return m && at ? [{ ...at, message: m }] : [];
  }

  /** A page of history (up to log serial `upto`): each message that has versions as it stands, in its create's place. */
  page(items: LogEntry[], upto = Infinity): LogEntry[] {
    if (this.index.size === 0) return items;
    return items.map((e) => {
      if (e.kind !== 'message' || e.message.serial === undefined || !this.index.has(e.message.serial)) return e;
      return { ...e, message: this.standingOf(e.message.serial, e.message, upto).m ?? e.message };
    });
  }
}
