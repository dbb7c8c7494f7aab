/**
 * Which entries of a batch each local subscriber of a channel client takes (client.ts):
 * whole batches shared between subscribers where nothing is filtered for them, and what
 * a client that came from another region, or whose channel restarted in a new epoch,
 * had already seen.
 */
import { formatSerial, parseSerial, type OriginPosition } from '../protocol/serial.js';
import type { LocalSubscriber } from './subscriber.js';
import { isAnnotation, messageSize, type PresenceMessage } from '../protocol/message.js';
import type { LogEntry } from './entry.js';
import type { AblyError, ErrorInfo } from '../errors.js';
import { ANNOTATIONS, entryFrames, SUMMARIES } from '../protocol/frames.js';
import { SharedFrame } from '../protocol/shared-frame.js';
import type { WireFormat } from '../protocol/types.js';
import { asDeltas, DeltaRuns, type DeltaBase, type DeltaRun } from './delta.js';
import type { MessageFilter } from './filter.js';

/**
 * Whether a client from another region saw this message there (`floors`: by origin,
 * what it had seen). A floor goes once an entry from there is past it (the rest are
 * too) or of another epoch (a new stream from there). Presence is not held back: the
 * client's ATTACHED here began its presence set afresh, and a repeated event is
 * harmless (members are compared by newness).
 */
export function seenElsewhere(floors: Map<string, OriginPosition>, e: LogEntry): boolean {
  const floor = floors.get(e.origin.region);
  if (!floor) return false;
  if (floor.epoch === e.origin.epoch && e.origin.seq <= floor.seq) return e.kind === 'message';
  floors.delete(e.origin.region);
  return false;
}

/**
 * The floors of a client that came from another region having seen `origins` there, as
 * far as this stream had not passed them at the client's attach point (`here`: that
 * point's channelSerial): only from those origins can entries it saw still come (a
 * stream behind it, or one reaching back for it). None where the stream was past them
 * all, so the client takes shared batches like any other.
 */
export function floorsAt(origins: readonly OriginPosition[], here: string): Map<string, OriginPosition> | undefined {
  const at = parseSerial(here);
  const floors = new Map<string, OriginPosition>();
  for (const o of origins) {
    if (at && o.region === at.region) continue; // this region's own: only new entries come
    const mine = at?.origins.find((x) => x.region === o.region);
    if (!mine || (mine.epoch === o.epoch && mine.seq < o.seq)) floors.set(o.region, o);
  }
  return floors.size ? floors : undefined;
}

/**
 * Floors `a` and `b` as one: per origin the further of two of one epoch, else `b`'s (at a
 * restart, `b` is the old stream's position; a moved client's floor `a` of a newer epoch
 * of that origin then goes, which can only let a repeat through).
 */
export function mergeFloors(a: ReadonlyMap<string, OriginPosition> | undefined, b: ReadonlyMap<string, OriginPosition>): Map<string, OriginPosition> {
  const out = new Map(a);
  for (const [region, f] of b) {
    const had = out.get(region);
    if (!had || had.epoch !== f.epoch || had.seq < f.seq) out.set(region, f);
  }
  return out;
}

/**
 * The channelSerial to give a client with `floors`: the stream's, with each floored
 * origin's position raised to what the client had seen there. So the client carries its
 * floors wherever it resumes: on another node of this region (the channel client's
 * floors are gone; `unseen` and floorsAt read them back), or in the region it came from.
 */
export function withFloors(channelSerial: string, floors: ReadonlyMap<string, OriginPosition>): string {
  const p = parseSerial(channelSerial);
  if (!p || floors.size === 0) return channelSerial;
  let raised = false;
  // A stream that carried only its own region's messages has no vector: its serial is
  // that region's position, which a vector must then name (resumePoint reads a vector
  // as the whole of what the client saw).
  const base = p.origins.length ? p.origins : [{ region: p.region, epoch: p.epoch, seq: p.serial }];
  const origins = base.map((o) => {
    const f = floors.get(o.region);
    if (!f || f.epoch !== o.epoch || f.seq <= o.seq) return o;
    raised = true;
    return f;
  });
  for (const f of floors.values()) {
    if (f.region === p.region || origins.some((o) => o.region === f.region)) continue;
    origins.push(f);
    raised = true;
  }
  return raised ? formatSerial({ ...p, origins }) : channelSerial;
}

/**
 * A backlog for a client resuming with this region's serial, without the messages its
 * serial's origin vector (`seen`) says it had: none, unless it came from another region
 * ahead of this stream (withFloors) and the stream caught up while it was away. `here`:
 * the attach point's channelSerial (its region's own origin is left to the serial).
 */
export function unseen(entries: LogEntry[], seen: readonly OriginPosition[], here: string): LogEntry[] {
  const region = parseSerial(here)?.region;
  const ahead = seen.filter((o) => o.region !== region);
  if (ahead.length === 0) return entries;
  return entries.filter((e) => {
    if (e.kind !== 'message') return true;
    const o = ahead.find((x) => x.region === e.origin.region);
    return !o || o.epoch !== e.origin.epoch || e.origin.seq > o.seq;
  });
}

/** A local subscriber as its channel client tracks it (client.ts). */
export interface SubRec {
  /** The last serial it has been sent (or does not want). */
  after: number;
  /** Entries held while the subscriber waits for ATTACHED to be written, or catches up. */
  queue: LogEntry[] | null;
  backlog: LogEntry[];
  /** The presence set at the attach point, sent as a SYNC after the backlog. */
  sync: PresenceMessage[] | null;
  /** A backlog picked from the stream (a client from another region): only these serials, up to `liveFrom`. */
  only?: Set<number>;
  liveFrom?: number;
  /**
   * A client from another region, or one whose channel restarted in a new epoch: by
   * origin, what it had seen. Entries from there up to that are not sent to it (this
   * region's stream may reach back before it, for subscribers here since earlier, or a
   * new stream for its start); once one is past it, the rest are.
   */
  floors?: Map<string, OriginPosition>;
  /** Floors taken when the channel restarted in a new epoch go at this time (performance.now(); RESTART_FLOORS_MS). */
  floorsUntil?: number;
  /**
   * With deltas (delta.ts): the last message it was sent, as its SDK holds it (none: the
   * next goes whole). A record is made at each attach, so each attach starts whole: the
   * SDK may not have taken what it was sent before (RTL17, or a delta it could not apply,
   * after which it attaches again).
   */
  deltaBase?: DeltaBase | null;
  /** With a subscription filter: when it was last sent frames or told its position (performance.now(); told). */
  toldAt?: number;
  /** With a subscription filter: the position after a batch it was sent nothing of, not yet told (tellLater). */
  untold?: string;
  /** It came (from another node) with a position in an epoch this node had not joined: not given that again when it does. */
  seenIn?: { epoch: string; serial: number };
}

/**
 * A subscriber whose filter held back a whole batch is told how far the stream has gone
 * (an ATTACHED with RESUMED: the SDK takes its channelSerial, RTL15b, and emits nothing,
 * RTL12): at once if it was last sent or told something this long ago, else this long
 * after that (tellLater). Without it, its channelSerial would stay at the last message
 * it took, and a resume from there, once history no longer reached back so far, would
 * be told of a gap it never had.
 */
export const FILTER_POSITION_MS = 2000;

/** A filtered subscriber was sent something of a batch (`sent`), or nothing of one whose last entry has `channelSerial`. */
function told(sub: LocalSubscriber, rec: SubRec, sent: boolean, channelSerial: string): void {
  const now = performance.now();
  if (sent) {
    rec.toldAt = now;
    delete rec.untold;
  } else if (rec.toldAt === undefined || now - rec.toldAt >= FILTER_POSITION_MS) {
    tell(sub, rec, channelSerial, now);
  } else {
    rec.untold = channelSerial;
  }
}

function tell(sub: LocalSubscriber, rec: SubRec, channelSerial: string, now: number): void {
  rec.toldAt = now;
  delete rec.untold;
  sub.position?.(channelSerial);
}

/** A channel client's subscribers (the map) with a position not yet told, and the timer that will. */
const telling = new WeakMap<Map<LocalSubscriber, SubRec>, NodeJS.Timeout>();

/** Tells, FILTER_POSITION_MS from now, each of these subscribers its position not yet told, if it is due by then (else later again). */
export function tellLater(subs: Map<LocalSubscriber, SubRec>): void {
  if (telling.has(subs)) return;
  const timer = setTimeout(() => {
    telling.delete(subs);
    const now = performance.now();
    let more = false;
    for (const [sub, rec] of subs) {
      if (rec.untold === undefined) continue;
      if (rec.queue === null && now - (rec.toldAt ?? 0) >= FILTER_POSITION_MS) tell(sub, rec, rec.untold, now);
      else more = true;
    }
    if (more) tellLater(subs);
  }, FILTER_POSITION_MS);
  timer.unref?.();
  telling.set(subs, timer);
}

/**
 * How long floors taken at a restart of the channel (a new epoch) hold at most. Each goes
 * as soon as an entry from its region passes it (the new stream's reach-back comes within
 * a second or two of its first subscriber, or when a cut link heals), and the subscriber
 * goes back to the frames it shares with the others. Only a region that sends nothing more
 * keeps one: for that long (its subscriber's frames are its own meanwhile). A floor can
 * only hold back, so dropping one risks a repeat, never a loss: at 30 s (before the
 * thirty-fourth session), a reach-back after a partition longer than that gave again what
 * a subscriber had from the least position reached back to up to its own.
 */
const RESTART_FLOORS_MS = 10 * 60_000;

/** The channelSerial to give `rec`'s client: with its floors, if it has any (withFloors). */
export function serialFor(rec: SubRec, channelSerial: string): string {
  return rec.floors?.size ? withFloors(channelSerial, rec.floors) : channelSerial;
}

/**
 * A subscriber's floors when its channel restarted in a new epoch (its state was lost):
 * what it had seen of other regions' streams (`seen`, its old position's origin vector)
 * is held back from the new stream, which reaches back for those regions' messages from
 * shortly before its interest began; for RESTART_FLOORS_MS. `here`: the new stream's
 * channelSerial.
 */
export function floorsAtRestart(rec: SubRec, seen: readonly OriginPosition[], here: string): void {
  const floors = floorsAt(seen, here);
  if (!floors) return;
  rec.floors = mergeFloors(rec.floors, floors);
  rec.floorsUntil = performance.now() + RESTART_FLOORS_MS;
}

/**
 * The channel's state restarted (or continuity was lost) and its stream goes on from
 * `serial` (`channelSerial`): every subscriber is told (UPDATE without RESUMED, with the
 * presence set `present`), and keeps as floors what it had of other regions' streams
 * (`seen`, where it was live). What it was to be given of the old stream is moot.
 */
export function restartSubscribers(subs: Map<LocalSubscriber, SubRec>, epoch: string, serial: number, channelSerial: string, seen: readonly OriginPosition[], error: AblyError, present: PresenceMessage[]): void {
  for (const [sub, rec] of subs) {
    if (!rec.queue && rec.backlog.length === 0) floorsAtRestart(rec, seen, channelSerial);
    delete rec.only;
    delete rec.liveFrom;
    rec.after = rec.seenIn?.epoch === epoch ? Math.max(serial, rec.seenIn.serial) : serial;
    delete rec.seenIn;
    rec.backlog = [];
    if (rec.queue) rec.queue = [];
    sub.discontinuity(error, serialFor(rec, channelSerial), present);
  }
}

/** Where a node's stream had got in the epochs it left (the last few): one it comes back to goes on from there. */
export class LeftEpochs {
  private readonly list: { epoch: string; serial: number; channelSerial: string }[] = [];

  add(epoch: string, serial: number, channelSerial: string): void {
    const i = this.list.findIndex((x) => x.epoch === epoch);
    if (i >= 0) this.list.splice(i, 1);
    this.list.push({ epoch, serial, channelSerial });
    if (this.list.length > LEFT_EPOCHS_KEPT) this.list.shift();
  }

  get(epoch: string): { serial: number; channelSerial: string } | undefined {
    return this.list.find((x) => x.epoch === epoch);
  }
}

const LEFT_EPOCHS_KEPT = 4;

/** The subscriber takes whatever comes from every origin again. */
export function dropFloors(rec: SubRec): void {
  delete rec.floors;
  delete rec.floorsUntil;
}

/**
 * What a subscriber is sent of an annotation's entry (frames.ts): its summary where it
 * takes messages, the annotation where it asked for them; nothing with a subscription
 * filter (a filter is on messages).
 */
export function viewOf(sub: LocalSubscriber): number {
  if (sub.filter) return 0;
  return (sub.wants('message') ? SUMMARIES : 0) | (sub.annotations ? ANNOTATIONS : 0);
}

/** What a batch holds, for telling in O(1) whether a subscriber takes all of it. */
export interface BatchShape {
  messages: boolean;
  presence: boolean;
  /** Annotations' entries (annotations.ts), which each subscriber takes as its view says. */
  annotations: boolean;
  /** Connections that published the batch's messages (echo filtering). */
  publishers: Set<string>;
}

export function batchShape(entries: readonly LogEntry[]): BatchShape {
  const shape: BatchShape = { messages: false, presence: false, annotations: false, publishers: new Set() };
  for (const e of entries) {
    if (e.kind === 'presence') {
      shape.presence = true;
      continue;
    }
    if (isAnnotation(e.message)) {
      shape.annotations = true;
      continue;
    }
    shape.messages = true;
    if (e.message.connectionId) shape.publishers.add(e.message.connectionId);
  }
  return shape;
}

/**
 * Whether the subscriber takes the batch as shared frames: every entry of it (no echo or
 * mode filtering), but for what its subscription filter holds back (SharedFrames applies
 * that once per filter; a filter with deltas goes by sendTo).
 */
export function takesAll(sub: LocalSubscriber, shape: BatchShape): boolean {
  if (shape.messages && !sub.wants('message')) return false;
  if (shape.presence && !sub.wants('presence')) return false;
  if (shape.messages && sub.filter && sub.delta) return false;
  if (shape.annotations && viewOf(sub) === 0) return false;
  return sub.echo || !shape.publishers.has(sub.connectionId);
}

/**
 * Whether a subscriber takes an entry: of a kind it wants, not its own message where it
 * asked for no echo, and a message that passes its subscription filter.
 */
function wanted(sub: LocalSubscriber, e: LogEntry): boolean {
  if (e.kind === 'message' && isAnnotation(e.message)) return viewOf(sub) !== 0;
  if (!sub.wants(e.kind)) return false;
  if (e.kind !== 'message') return true;
  if (!sub.echo && e.message.connectionId === sub.connectionId) return false;
  return !sub.filter || sub.filter.matches(e.message);
}

/** Sends the entries this subscriber has not had and wants, in its own frames; whether there were any. */
export function sendTo(sub: LocalSubscriber, rec: SubRec, entries: LogEntry[]): boolean {
  if (rec.floorsUntil !== undefined && performance.now() >= rec.floorsUntil) dropFloors(rec);
  // The floors as the batch began: each frame's serial (and a position told) carries those its entries were under.
  const floors = rec.floors?.size ? new Map(rec.floors) : undefined;
  const serialOf = floors && ((e: LogEntry) => withFloors(e.channelSerial, floors));
  const mine: LogEntry[] = [];
  let seen = rec.after;
  let last: LogEntry | null = null;
  for (const e of entries) {
    if (e.serial <= seen) continue;
    seen = e.serial;
    last = e;
    if (rec.only && e.serial <= rec.liveFrom! && !rec.only.has(e.serial)) continue;
    if (rec.floors && seenElsewhere(rec.floors, e)) continue;
    if (wanted(sub, e)) mine.push(e);
  }
  if (rec.only && seen >= rec.liveFrom!) {
    delete rec.only;
    delete rec.liveFrom;
  }
  if (rec.floors?.size === 0) dropFloors(rec);
  if (seen > rec.after) rec.after = seen;
  if (sub.filter && last) told(sub, rec, mine.length > 0, serialOf ? serialOf(last) : last.channelSerial);
  if (mine.length === 0) return false;
  let out: readonly LogEntry[] = mine;
  if (sub.delta) {
    const run = asDeltas(mine, rec.deltaBase ?? null);
    out = run.entries;
    rec.deltaBase = run.base;
  }
  const frames = entryFrames(sub.channelName, out, sub.format, serialOf, viewOf(sub));
  if (frames.length === 0) return false; // annotations alone, whose summaries it takes, stored without one
  sub.send(frames);
  return true;
}

/**
 * One delivery's frames shared between subscribers: by format and name form, and (with
 * deltas) base. A filtered name is its own name form: its entries are picked once per
 * filter, and its frames made from those.
 */
class SharedFrames {
  private readonly plain: Record<WireFormat, Map<string, SharedFrame[]>> = { json: new Map(), msgpack: new Map() };
  private deltas: { runs: DeltaRuns; frames: Map<DeltaRun, Record<WireFormat, Map<string, SharedFrame[]>>> } | null = null;
  private filtered: Map<MessageFilter, LogEntry[]> | null = null;

  constructor(
    private readonly entries: LogEntry[],
    /** Whether the batch has annotations: then frames are kept by each subscriber's view too. */
    private readonly annotations: boolean,
  ) {}

  for(sub: LocalSubscriber, rec: SubRec): SharedFrame[] {
    if (sub.filter) return this.forFilter(sub, sub.filter);
    if (sub.delta) return this.forDelta(sub, rec);
    return framesOf(this.plain, sub, this.entries, this.annotations);
  }

  /** A subscriber on the shared path takes all the batch (takesAll): here, messages only. */
  private forFilter(sub: LocalSubscriber, filter: MessageFilter): SharedFrame[] {
    const byFilter = (this.filtered ??= new Map());
    let entries = byFilter.get(filter);
    if (!entries) byFilter.set(filter, (entries = this.entries.filter((e) => e.kind === 'message' && !isAnnotation(e.message) && filter.matches(e.message))));
    return entries.length ? framesOf(this.plain, sub, entries, false) : [];
  }

  private forDelta(sub: LocalSubscriber, rec: SubRec): SharedFrame[] {
    const d = (this.deltas ??= { runs: new DeltaRuns(this.entries), frames: new Map() });
    const run = d.runs.from(rec.deltaBase ?? null);
    rec.deltaBase = run.base;
    // Nothing made a delta (presence, a first message, ones sent whole): the plain frames.
    if (run.entries === this.entries) return framesOf(this.plain, sub, this.entries, this.annotations);
    let byFormat = d.frames.get(run);
    if (!byFormat) d.frames.set(run, (byFormat = { json: new Map(), msgpack: new Map() }));
    return framesOf(byFormat, sub, run.entries, this.annotations);
  }
}

/**
 * The frames of `entries` for the subscriber's format and name form (and, where they
 * have `annotations`, its view), made at the first that needs them.
 */
function framesOf(cache: Record<WireFormat, Map<string, SharedFrame[]>>, sub: LocalSubscriber, entries: readonly LogEntry[], annotations: boolean): SharedFrame[] {
  const byName = cache[sub.format];
  const view = annotations ? viewOf(sub) : SUMMARIES;
  const key = view === SUMMARIES ? sub.channelName : `${view}\u0000${sub.channelName}`;
  let frames = byName.get(key);
  if (!frames) byName.set(key, (frames = shareFrames(sub.channelName, entries, sub.format, view)));
  return frames;
}

function shareFrames(channel: string, entries: readonly LogEntry[], format: WireFormat, view: number): SharedFrame[] {
  return entryFrames(channel, entries, format, undefined, view).map((f) => new SharedFrame(f));
}

/**
 * Delivers entries beyond each subscriber's position (or queues them for one still
 * attaching); returns how many subscribers were sent some. Encoded at most once per
 * format (and name form, and delta base) for all subscribers that take the whole batch,
 * and written to each of them as the same bytes.
 */
export function deliverEntries(subs: Map<LocalSubscriber, SubRec>, entries: LogEntry[]): number {
  const first = entries[0]!.serial;
  const lastSerial = entries[entries.length - 1]!.serial;
  const shape = batchShape(entries);
  let shared: SharedFrames | null = null;
  let reached = 0;
  let untold = false;
  for (const [sub, rec] of subs) {
    if (rec.queue !== null) {
      for (const e of entries) rec.queue.push(e);
      continue;
    }
    if (rec.after >= lastSerial) continue;
    if (rec.after >= first || rec.floors || rec.only || !takesAll(sub, shape)) {
      if (sendTo(sub, rec, entries)) reached++;
    } else {
      const frames = (shared ??= new SharedFrames(entries, shape.annotations)).for(sub, rec);
      if (frames.length) {
        sub.send(frames);
        reached++;
      }
      if (sub.filter) told(sub, rec, frames.length > 0, entries[entries.length - 1]!.channelSerial);
      rec.after = lastSerial;
    }
    if (rec.untold !== undefined) untold = true;
  }
  if (untold) tellLater(subs);
  return reached;
}

/** A broadcast waiting for a subscribe or a fill to end; `n`: its place in the order they came. */
export interface Held {
  n: number;
  epoch: string;
  entries: LogEntry[];
  discontinuity?: ErrorInfo | undefined;
  gapAt?: number | undefined;
}

/**
 * How far the held broadcasts of `epoch` run unbroken from its first entry (serial 1), in
 * the order they came; -1 where they do not begin with it.
 */
export function reachFromStart(held: readonly Held[], epoch: string): number {
  let reach = -1;
  for (const h of held) {
    if (h.epoch !== epoch || h.entries.length === 0) continue;
    const first = h.entries[0]!.serial;
    if (first > (reach < 0 ? 1 : reach + 1)) break;
    reach = Math.max(reach, h.entries[h.entries.length - 1]!.serial);
  }
  return reach;
}

/** The messages among entries, and their bytes (metrics and stats). */
export function messageTotals(entries: readonly LogEntry[]): { messages: number; bytes: number } {
  let messages = 0;
  let bytes = 0;
  for (const e of entries) {
    if (e.kind !== 'message') continue;
    messages++;
    bytes += messageSize(e.message);
  }
  return { messages, bytes };
}
