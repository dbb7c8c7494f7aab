/**
 * Annotations (Ably's message annotations, on channels whose namespace has the
 * `mutableMessages` rule): an annotation is held as a message of its own in the channel's
 * stream (action ANNOTATION), ordered, replicated, broadcast and sent to other regions
 * like any other; its `serial` names the message it annotates, and `annotation` says
 * what it is (create or delete, type, count) and its own serial, made where it was
 * accepted: after the latest of its message's annotations held there (as a version's is
 * after its message's latest version), so a delete is never ordered before the create
 * it takes back, whatever the regions' clocks. Like a version it is in the stream but
 * not in history's list.
 *
 * The master that stores one (of this region, or another region's as it arrives) gives
 * it `summary` where it is a batch's last of its message (the others none): its
 * message's annotations summed up (summary.ts) as this region holds them with it,
 * whatever order they came in, so every region comes to the same. One whose message this
 * region does not hold (not here yet, or gone) is stored without.
 * Subscribers are sent the annotation (those that asked for ANNOTATION_SUBSCRIBE) and a
 * MESSAGE with action 4 and that summary (those that take messages); history and
 * `getMessage` show each message with its summary now. A summary counts the annotations
 * history retains.
 */
import { AblyError } from '../errors.js';
import { isAnnotation, type Message, type Summary } from '../protocol/message.js';
import { formatMessageSerial, parseMessageSerial } from '../protocol/message-serial.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { EntryHead } from '../transport/entry-codec.js';
import type { LogEntry, MessageEntry } from './entry.js';
import type { ChannelLog } from './log.js';
import { SummaryFold, type Pending } from './summary.js';
import type { CreateLookup } from './creates.js';
import { MAX_VERSION_AHEAD_MS, VersionIndex } from './versions.js';

export class Annotations {
  private readonly index = new VersionIndex();
  /** Per annotated message, its summary so far: made from the log at the first need, then kept as annotations come, until retention drops one. */
  private readonly folds = new Map<string, SummaryFold>();
  /** The annotation `take` last added: the next entry noted, if it is that one, is in its fold. */
  private taken: Message | null = null;

  constructor(
    private readonly log: ChannelLog,
    /** Where each message's create is (shared with versions.ts). */
    private readonly creates: CreateLookup,
  ) {}

  /** An entry just appended: an annotation is indexed, and added to its message's fold if one is kept. */
  note(e: LogEntry): void {
    if (e.kind !== 'message' || !isAnnotation(e.message)) return;
    const target = e.message.serial!;
    this.index.add(target, e.serial);
    if (e.message !== this.taken) this.folds.get(target)?.add(e.message);
    this.taken = null;
  }

  /** As `note`, for an entry read only as far as a restore needs. */
  noteHead(h: EntryHead): void {
    if (h.kind !== 'annotation') return;
    this.index.add(h.target, h.serial);
    this.folds.delete(h.target);
  }

  trim(base: number): void {
    this.index.trim(base, (target) => this.folds.delete(target));
  }

  /** Whether the message of `serial` (its create) is retained here. */
  held(serial: string): boolean {
    return this.creates.logSerial(serial) !== undefined;
  }

  /** The fold of the message of `target`'s retained annotations, made from the log where none is kept. */
  private foldOf(target: string): SummaryFold {
    let fold = this.folds.get(target);
    if (fold) return fold;
    fold = new SummaryFold();
    for (const e of this.index.entries(this.log, target)) fold.add(e.message);
    this.folds.set(target, fold);
    return fold;
  }

  /**
   * Checks a batch's annotations before any is stored (`isNew`: not a repeat), to be
   * stored at `at` (ms): each one's message must be retained (40400), its summary must not
   * grow past its limits with the batch's before it (40003), and the latest of its
   * message's annotations must not have been made more than MAX_VERSION_AHEAD_MS after
   * `at` (another region's clock far ahead: 50001).
   */
  check(batch: readonly Message[], isNew: (m: Message) => boolean, at: number): void {
    const pending = new Map<string, Pending>();
    for (const a of batch) {
      if (!isAnnotation(a) || !isNew(a)) continue;
      const target = a.serial!;
      if (!this.held(target)) throw AblyError.of('notFound', `no message with serial ${target} in the channel's retained history`);
      const fold = this.foldOf(target);
      let p = pending.get(target);
      if (!p) pending.set(target, (p = { types: new Set(), names: new Map() }));
      const why = fold.tooLarge(a, p);
      if (why) throw AblyError.of('invalidParameterValue', why);
      const ahead = (parseMessageSerial(fold.last)?.at ?? 0) - at;
      if (ahead > MAX_VERSION_AHEAD_MS) {
        throw AblyError.of('internalChannel', `message ${target}'s latest annotation was made ${Math.round(ahead / 1000)} s ahead of this region's clock: one now would be ordered before it`);
      }
    }
  }

  /**
   * The serial of an annotation of `target` stored at `at` by `origin`: made at `at`, or
   * where that would not come after the message's latest annotation (made where the clock
   * is ahead), 1 ms after that one's time (checked before: at most MAX_VERSION_AHEAD_MS).
   */
  serialFor(target: string, at: number, origin: OriginPosition): string {
    const last = this.foldOf(target).last;
    const serial = formatMessageSerial(at, origin);
    return serial > last ? serial : formatMessageSerial(Math.max(at, (parseMessageSerial(last)?.at ?? at) + 1), origin);
  }

  /**
   * Adds `a` (an annotation about to be stored, its serial given) to its message's fold;
   * with `summarize`, returns the summary of its message with it and the ones this region
   * holds (a batch's last annotation of a message: its summary is made with the others).
   */
  take(a: Message, summarize: boolean): Summary | undefined {
    const fold = this.foldOf(a.serial!);
    fold.add(a);
    this.taken = a;
    return summarize ? fold.summary() : undefined;
  }

  /**
   * The summary of the message of `serial` (undefined: none of its annotations retained):
   * now, or as its last annotation up to log serial `upto` had it.
   */
  summaryOf(serial: string, upto?: number): Summary | undefined {
    if (!this.index.has(serial)) return undefined;
    if (upto === undefined || upto >= this.log.lastSerial) return this.foldOf(serial).summary();
    return this.index.entries(this.log, serial, upto).findLast((e) => e.message.summary)?.message.summary;
  }

  /** Whether any message has retained annotations. */
  get any(): boolean {
    return this.index.size > 0;
  }

  /**
   * The annotations of the message of `serial` (up to log serial `upto`), oldest first (by
   * their serials), after the one of serial `after`, at most `limit` (and whether there
   * are more); without the summaries they were stored with.
   */
  list(serial: string, o: { upto?: number; after?: string; limit: number }): { items: MessageEntry[]; more: boolean } {
    const all: MessageEntry[] = [];
    for (const e of this.index.entries(this.log, serial, o.upto)) {
      if (o.after !== undefined && (e.message.annotation?.serial ?? '') <= o.after) continue;
      const { summary: _summary, ...message } = e.message;
      all.push({ ...e, message });
    }
    all.sort((a, b) => ((a.message.annotation?.serial ?? '') < (b.message.annotation?.serial ?? '') ? -1 : 1));
    return { items: all.slice(0, o.limit), more: all.length > o.limit };
  }
}
