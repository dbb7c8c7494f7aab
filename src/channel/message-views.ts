/**
 * What a channel's stream says of each message besides its create: its versions
 * (versions.ts: updates, deletes, appends) and its annotations (annotations.ts), kept as
 * entries are appended, restored and dropped; what a master stores for a message it
 * accepts or takes from another region; and history as clients read it (each message as
 * it stands, with its latest summary).
 */
import { isAnnotation, type Message } from '../protocol/message.js';
import { HISTORY_PAGE_MAX_BYTES } from '../config/defaults.js';
import { formatMessageSerial } from '../protocol/message-serial.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { EntryHead } from '../transport/entry-codec.js';
import { Annotations } from './annotations.js';
import { entryBytes, type LogEntry, type MessageEntry } from './entry.js';
import type { ChannelLog, HistoryQuery } from './log.js';
import { Versions } from './versions.js';
import { CreateLookup } from './creates.js';

/** Each changed message as it stood before a batch (Versions.check), for `made`. */
type Before = ReturnType<Versions['check']>;

export class MessageViews {
  private readonly versions: Versions;
  private readonly annotations: Annotations;

  constructor(log: ChannelLog) {
    const creates = new CreateLookup(log);
    this.versions = new Versions(log, creates);
    this.annotations = new Annotations(log, creates);
  }

  /** An entry just appended. */
  note(e: LogEntry): void {
    this.versions.note(e);
    this.annotations.note(e);
  }

  /** As `note`, for an entry read only as far as a restore needs. */
  noteHead(h: EntryHead): void {
    this.versions.noteHead(h);
    this.annotations.noteHead(h);
  }

  trim(base: number): void {
    this.versions.trim(base);
    this.annotations.trim(base);
  }

  /**
   * Checks a batch before any of it is stored (a publish is taken whole or not at all):
   * its changes (Versions.check) and its annotations (Annotations.check: their messages
   * retained, their summaries within limits). `isNew`: not a repeat.
   */
  check(batch: readonly Message[], isNew: (m: Message) => boolean, at: number, maxSize?: number): Before {
    const before = this.versions.check(batch, isNew, at, maxSize);
    this.annotations.check(batch, isNew, at);
    return before;
  }

  /**
   * What a master stores for `message`, accepted at `at` by `origin`: a create with its
   * serial, a change as the version it makes (`before`: check's), an annotation with its
   * serial (and, with `summarize`, its message's summary: `summarized`).
   */
  made(message: Message, at: number, origin: OriginPosition, maxSize: number | undefined, before: Before, summarize: boolean): Message {
    if (isAnnotation(message)) return this.annotated({ ...message, annotation: { ...message.annotation!, serial: this.annotations.serialFor(message.serial!, at, origin) } }, summarize);
    if (message.action !== undefined) {
      const base = before?.get(message.serial!);
      if (base) before!.delete(message.serial!);
      return this.versions.make(message, at, origin, maxSize, base);
    }
    // A copy where it was given a serial before (a stopped master may hold that object).
    const m = message.serial === undefined ? message : { ...message };
    m.serial = formatMessageSerial(at, origin);
    return m;
  }

  /**
   * What a master stores for a message another region accepted: an annotation with its
   * summary here, or without one where its message is not held here (not here yet, or
   * gone: what this region holds of its annotations would not be its summary).
   */
  arrived(message: Message, summarize: boolean): Message {
    if (!isAnnotation(message)) return message;
    const { summary: _theirs, ...m } = message;
    return this.annotated(m, summarize && this.annotations.held(m.serial!));
  }

  /** An annotation about to be stored here; with `summarize`, with its message's summary as this region then holds it. */
  private annotated(m: Message, summarize: boolean): Message {
    const summary = this.annotations.take(m, summarize);
    if (summary !== undefined) m.summary = summary;
    return m;
  }

  /**
   * Of a batch's annotations (messages, or entries' messages), those given a summary:
   * each message's last in the batch (its summary made with the others; subscribers are
   * sent one a delivery: frames.ts). The others are stored without one.
   */
  summarized(batch: readonly Message[]): Set<Message> {
    const last = new Map<string, Message>();
    for (const m of batch) if (isAnnotation(m)) last.set(m.serial!, m);
    return new Set(last.values());
  }

  /**
   * History (each message as it stands, with its latest summary) from `page`, the log's
   * answer to `q`; or one message by its serial (`q.messageSerial`: as it stands, its
   * versions, or its annotations).
   */
  query(q: HistoryQuery, page: () => { items: LogEntry[]; more: boolean }): { items: LogEntry[]; more: boolean } {
    const s = q.messageSerial;
    if (s !== undefined && q.annotations) return this.annotations.list(s, { upto: q.untilSerial, limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) });
    if (s !== undefined) return { items: this.summed(this.versions.lookup(s, q.versions === true, q.untilSerial), q.untilSerial), more: false };
    const p = page();
    return q.kind === 'message' ? withinPageBytes(this.summed(this.versions.page(p.items, q.untilSerial), q.untilSerial), p.more) : p;
  }

  /** Messages with their latest summaries, where they have any (up to log serial `upto`). */
  private summed(items: LogEntry[], upto?: number): LogEntry[] {
    if (!this.annotations.any) return items;
    return items.map((e) => {
      const summary = e.kind === 'message' && e.message.serial !== undefined ? this.annotations.summaryOf(e.message.serial, upto) : undefined;
      return summary === undefined ? e : { ...e, message: { ...(e as MessageEntry).message, summary } };
    });
  }
}

/**
 * A page cut where its messages as they stand pass HISTORY_PAGE_MAX_BYTES (at least one):
 * the log cut it by its creates' bytes, but a message's latest version (up to
 * maxMessageSize) and its summary can be far larger than its create (a review: 300
 * creates of a few bytes, each updated to 60 KB, made one page of 18 MB).
 */
function withinPageBytes(items: LogEntry[], more: boolean): { items: LogEntry[]; more: boolean } {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const e = items[i]!;
    if (e.kind !== 'message') continue;
    bytes += entryBytes(e);
    if (bytes > HISTORY_PAGE_MAX_BYTES && i > 0) return { items: items.slice(0, i), more: true };
  }
  return { items, more };
}
