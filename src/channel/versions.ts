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
import { isAnnotation, MessageAction, messageSize, type Message, type MessageData } from '../protocol/message.js';
import { formatMessageSerial, parseMessageSerial } from '../protocol/message-serial.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { EntryHead } from '../transport/entry-codec.js';
import type { LogEntry, MessageEntry } from './entry.js';
import type { ChannelLog } from './log.js';
import { Fifo } from '../fifo.js';
import type { CreateLookup } from './creates.js';

/**
 * Per message (its serial), its retained versions (or annotations: annotations.ts) in log
 * order; only messages that have some are here. They are added in log order, and
 * retention drops them in that order (one queue over all of them): a trim does no work
 * for what it keeps.
 */
export class VersionIndex {
  /** Per message, the log serials of its versions. */
  private readonly byTarget = new Map<string, Fifo<number>>();
  private readonly order = new Fifo<{ logSerial: number; target: string }>();

  add(target: string, logSerial: number): void {
    let list = this.byTarget.get(target);
    if (!list) this.byTarget.set(target, (list = new Fifo<number>(4)));
    list.push(logSerial);
    this.order.push({ logSerial, target });
  }

  of(target: string): Iterable<number> | undefined {
    return this.byTarget.get(target);
  }

  has(target: string): boolean {
    return this.byTarget.has(target);
  }

  /** `target`'s retained entries (up to log serial `upto`), read from `log`, in log order. */
  entries(log: ChannelLog, target: string, upto = Infinity): MessageEntry[] {
    const out: MessageEntry[] = [];
    for (const logSerial of this.byTarget.get(target) ?? []) {
      if (logSerial > upto) break;
      const e = log.range(logSerial - 1, logSerial)?.[0];
      if (e?.kind === 'message') out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.byTarget.size;
  }

  /** Forgets versions at or below log serial `base` (retention dropped them); `dropped`: each message one of whose went. */
  trim(base: number, dropped: (target: string) => void): void {
    for (let v = this.order.at(0); v && v.logSerial <= base; v = this.order.at(0)) {
      this.order.shift();
      const list = this.byTarget.get(v.target)!;
      list.shift();
      if (list.length === 0) this.byTarget.delete(v.target);
      dropped(v.target);
    }
  }
}

/**
 * How far ahead of the accepting master's clock the latest version of a message may have
 * been made for a change of it to be taken (ms): past that (another region's clock far
 * ahead), the change's serial could not both come after it and stay near this clock.
 */
export const MAX_VERSION_AHEAD_MS = 30_000;

/** The serial of the message's latest version: its create's where it has none. */
function latestOf(m: Message): string {
  return m.version?.serial ?? m.serial ?? '';
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
 * The message as it stands: `create` and then its `versions` (any order), in the order
 * of their serials. Without its create (retention dropped it, or it has not arrived from
 * the region that took it), from its latest update or delete (stored whole): appends
 * alone are not the message, and there is none (null).
 */
export function standing(create: Message | null, versions: readonly Message[]): Message | null {
  const sorted = [...versions].sort(bySerial);
  let from = 0;
  if (!create) {
    from = sorted.findLastIndex((v) => v.action !== MessageAction.APPEND);
    if (from < 0) return null;
  }
  let m = create ?? sorted[from++]!;
  for (let i = from; i < sorted.length; i++) m = applied(m, sorted[i]!);
  return m;
}

/** The message as it stands after one more version `v` (the latest). */
function applied(m: Message, v: Message): Message {
  return v.action === MessageAction.APPEND ? appended(m, v) : { ...v, id: m.id };
}

/** The size of `next`, the message of size `size` after version `v`: an append without extras adds its data. */
function sizeAfter(size: number, v: Message, next: Message): number {
  return v.action === MessageAction.APPEND && v.extras === undefined ? size + messageSize({ data: v.data }) : messageSize(next);
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
    if (sizeAfter(size, change, appended(current, change)) > maxSize) {
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

/** A message with versions as it stands, as Versions keeps it. */
interface Standing {
  m: Message | null;
  size: number;
  /** The highest version serial joined in, and the log serial of the last version. */
  last: string;
  logSerial: number;
  /** The log serial of its create: kept only with one, and valid while the log holds it. */
  createLog: number;
}

/**
 * A channel's retained messages as they stand: its log, read through the index of the
 * versions it holds (kept as entries are appended, restored, and dropped by retention).
 */
export class Versions {
  private readonly index = new VersionIndex();
  /**
   * Messages with versions as they stand (only with their create), kept as versions
   * come in their serials' order: each append would otherwise read every version before
   * it again. Made again when one comes out of that order (another region's), when the
   * create comes after versions of it, and once retention drops the create or a version.
   */
  private readonly stand = new Map<string, Standing>();

  constructor(
    private readonly log: ChannelLog,
    /** Where each message's create is (shared with annotations.ts). */
    private readonly creates: CreateLookup,
  ) {}

  /** An entry just appended: a version is kept; a create drops what was kept of its message without it. */
  note(e: LogEntry): void {
    if (e.kind !== 'message' || isAnnotation(e.message)) return;
    const target = e.message.serial;
    if (target === undefined) return;
    if (e.message.action === undefined) {
      if (this.stand.size) this.stand.delete(target);
      return;
    }
    const vs = e.message.version?.serial ?? '';
    this.index.add(target, e.serial);
    const s = this.stand.get(target);
    if (!s) return;
    if (vs > s.last && s.m !== null) {
      const m = applied(s.m, e.message);
      Object.assign(s, { m, last: vs, logSerial: e.serial, size: sizeAfter(s.size, e.message, m) });
    } else this.stand.delete(target); // came after a later one (another region's): made again when read
  }

  /** As `note`, for an entry read only as far as a restore needs. */
  noteHead(h: EntryHead): void {
    if (h.kind !== 'version') return;
    this.index.add(h.target, h.serial);
    this.stand.delete(h.target);
  }

  trim(base: number): void {
    this.index.trim(base, (target) => this.stand.delete(target));
  }

  /** The retained create of the message of `serial` (up to log serial `upto`). */
  private create(serial: string, upto?: number): MessageEntry | null {
    return this.creates.entry(serial, upto);
  }

  /** Its retained versions (up to log serial `upto`), in log order. */
  private versions(serial: string, upto = Infinity): MessageEntry[] {
    return this.index.entries(this.log, serial, upto);
  }

  /**
   * The message of `serial` as it stands, with nothing after log serial `upto` (null:
   * none of it retained, or appends alone), and its size. `create`: its create's entry
   * where the caller has it (null: not retained).
   */
  private standingOf(serial: string, create?: MessageEntry | null, upto = Infinity): { m: Message | null; size: number } {
    const s = this.stand.get(serial);
    if (s && s.logSerial <= upto && s.createLog <= upto && s.createLog > this.log.baseSerial) return s;
    const c = create === undefined ? this.create(serial, upto) : create;
    const versions = this.versions(serial, upto);
    const m = standing(c?.message ?? null, versions.map((e) => e.message));
    const found = { m, size: m ? messageSize(m) : 0 };
    const last = versions.at(-1);
    // Kept only where the read saw all there is: a bounded one may stop before some of it.
    if (c && last && upto >= this.log.lastSerial) {
      const top = versions.reduce((a, e) => ((e.message.version?.serial ?? '') > a ? e.message.version!.serial! : a), '');
      this.stand.set(serial, { ...found, last: top, logSerial: last.serial, createLog: c.serial });
    }
    return found;
  }

  /**
   * The message of `serial` as it stands, to be changed by a client: 40400 where it is
   * not retained (never published here, older than history, or not here yet).
   */
  current(serial: string): { m: Message; size: number } {
    const { m, size } = this.standingOf(serial);
    if (!m) throw AblyError.of('notFound', `no message with serial ${serial} in the channel's retained history`);
    return { m, size };
  }

  /**
   * Checks a batch's changes in order, each against the message as the ones before it in
   * the batch left it, before any is stored (a publish is taken whole or not at all), to
   * be stored at `at` (ms): one whose message's latest version was made more than
   * MAX_VERSION_AHEAD_MS after that (another region's clock far ahead) is refused (50001).
   * Returns each changed message as it stood before the batch, for `make` (null: none).
   */
  check(batch: readonly Message[], isNew: (m: Message) => boolean, at: number, maxSize?: number): Map<string, { m: Message; size: number }> | null {
    let before: Map<string, { m: Message; size: number }> | null = null;
    let scratch: Map<string, { m: Message; size: number }> | null = null;
    for (const c of batch) {
      if (c.action === undefined || isAnnotation(c) || !isNew(c)) continue;
      let cur = scratch?.get(c.serial!);
      if (!cur) (before ??= new Map()).set(c.serial!, (cur = this.current(c.serial!)));
      const ahead = (parseMessageSerial(latestOf(cur.m))?.at ?? 0) - at;
      if (ahead > MAX_VERSION_AHEAD_MS) {
        throw AblyError.of('internalChannel', `message ${c.serial}'s latest version was made ${Math.round(ahead / 1000)} s ahead of this region's clock: a change now would be ordered before it`);
      }
      const next = applied(cur.m, versionOf(cur.m, c, '', maxSize, cur.size));
      (scratch ??= new Map()).set(c.serial!, { m: next, size: sizeAfter(cur.size, c, next) });
    }
    return before;
  }

  /**
   * The version `change` makes of the message as it stands (versionOf; 40400 where none is
   * retained), stored at `at` by `origin`: its serial is made at `at`, or where that would
   * not come after the message's latest version (made by a region whose clock is ahead),
   * 1 ms after that version's time (checked before: at most MAX_VERSION_AHEAD_MS after `at`).
   * `base`: the message as it stands where the caller has it (`check`'s, for the batch's
   * first change of it; later ones look again, after the versions before them).
   */
  make(change: Message, at: number, origin: OriginPosition, maxSize?: number, base = this.current(change.serial!)): Message {
    const { m, size } = base;
    const latest = latestOf(m);
    let serial = formatMessageSerial(at, origin);
    if (serial <= latest) serial = formatMessageSerial(Math.max(at, (parseMessageSerial(latest)?.at ?? at) + 1), origin);
    return versionOf(m, change, serial, maxSize, size);
  }

  /**
   * `getMessage`: the message of `serial` as it stands, in its create's entry (or its
   * latest version's); `getMessageVersions` (`all`): its create and versions, in the order
   * of their serials. Nothing where none is retained. Nothing after log serial `upto`.
   */
  lookup(serial: string, all: boolean, upto = Infinity): LogEntry[] {
    const create = this.create(serial, upto);
    if (all) return [...(create ? [create] : []), ...this.versions(serial, upto)].sort((a, b) => bySerial(a.message, b.message));
    const { m } = this.standingOf(serial, create, upto);
    const at = create ?? this.versions(serial, upto).at(-1);
    return m && at ? [{ ...at, message: m }] : [];
  }

  /** A page of history (up to log serial `upto`): each message that has versions as it stands, in its create's place. */
  page(items: LogEntry[], upto = Infinity): LogEntry[] {
    if (this.index.size === 0) return items;
    return items.map((e) => {
      if (e.kind !== 'message' || e.message.serial === undefined || !this.index.has(e.message.serial)) return e;
      return { ...e, message: this.standingOf(e.message.serial, e, upto).m ?? e.message };
    });
  }
}
