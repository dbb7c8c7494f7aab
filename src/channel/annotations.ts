/**
 * Annotations (Ably's message annotations, on channels whose namespace has the
 * `mutableMessages` rule): an annotation is held as a message of its own in the channel's
 * stream (action ANNOTATION), ordered, replicated, broadcast and sent to other regions
 * like any other; its `serial` names the message it annotates, and `annotation` says
 * what it is (create or delete, type, count) and its own serial, made where it was
 * accepted. Like a version it is in the stream but not in history's list.
 *
 * The master that stores one (of this region, or another region's as it arrives) gives
 * it `summary`: its message's annotations summed up (summary.ts) as this region holds
 * them with it, folded in their serials' order, so the last one stored carries the
 * summary of all of them and every region comes to the same. Subscribers are sent the
 * annotation (those that asked for ANNOTATION_SUBSCRIBE) and a MESSAGE with action 4
 * and that summary (those that take messages); history and `getMessage` show each
 * message with its latest summary. A summary counts the annotations history retains.
 */
import { AblyError } from '../errors.js';
import { isAnnotation, type Message, type Summary } from '../protocol/message.js';
import { parseMessageSerial } from '../protocol/message-serial.js';
import type { EntryHead } from '../transport/entry-codec.js';
import type { LogEntry, MessageEntry } from './entry.js';
import type { ChannelLog } from './log.js';
import { byAnnotationSerial, SummaryFold } from './summary.js';
import { VersionIndex } from './versions.js';

export class Annotations {
  private readonly index = new VersionIndex();
  /**
   * Per annotated message, its summary as folded so far (a master's, as it stores
   * annotations in their serials' order): made again from the log when one comes out of
   * that order (another region's), and once retention drops one of them.
   */
  private readonly folds = new Map<string, SummaryFold>();
  /** Per annotated message, its create's log serial (valid while the log retains it). */
  private readonly creates = new Map<string, number>();

  constructor(private readonly log: ChannelLog) {}

  /** The annotation summaryWith last folded in: the next entry noted, if it is that one, is in its fold. */
  private taken: Message | null = null;

  /** An entry just appended: an annotation is indexed, and a fold that has not taken it made again. */
  note(e: LogEntry): void {
    if (e.kind !== 'message' || !isAnnotation(e.message)) return;
    const target = e.message.serial!;
    this.index.add(target, e.serial);
    if (e.message !== this.taken) this.folds.delete(target);
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
    if (this.creates.size) for (const [target, at] of this.creates) if (at <= base) this.creates.delete(target);
  }

  /** Whether the message of `serial` (its create) is retained: 40400 where not (never published here, older than history, or not here yet). */
  requireMessage(serial: string): void {
    const at = this.creates.get(serial);
    if (at !== undefined && at > this.log.baseSerial) return;
    const p = parseMessageSerial(serial);
    const e = p && this.log.created(p);
    if (e?.kind !== 'message' || e.message.serial !== serial) throw AblyError.of('notFound', `no message with serial ${serial} in the channel's retained history`);
    this.creates.set(serial, e.serial);
  }

  /** Its retained annotations (up to log serial `upto`), in log order. */
  private entries(target: string, upto = Infinity): MessageEntry[] {
    const out: MessageEntry[] = [];
    for (const logSerial of this.index.of(target) ?? []) {
      if (logSerial > upto) break;
      const e = this.log.range(logSerial - 1, logSerial)?.[0];
      if (e?.kind === 'message') out.push(e);
    }
    return out;
  }

  /**
   * The summary of `a`'s message with `a` (an annotation about to be stored, its serial
   * given), and the ones this region holds: in their serials' order.
   */
  summaryWith(a: Message): Summary {
    const target = a.serial!;
    let fold = this.folds.get(target);
    if (!fold || (a.annotation!.serial ?? '') <= fold.last) {
      fold = new SummaryFold();
      const held = this.entries(target).map((e) => e.message);
      for (const m of held.sort(byAnnotationSerial)) if ((m.annotation!.serial ?? '') < (a.annotation!.serial ?? '')) fold.add(m);
      const after = held.filter((m) => (m.annotation!.serial ?? '') > (a.annotation!.serial ?? ''));
      fold.add(a);
      for (const m of after) fold.add(m);
      this.folds.set(target, fold);
    } else fold.add(a);
    this.taken = a;
    return fold.summary();
  }

  /** The latest summary of the message of `serial` (its last annotation's, up to log serial `upto`), or undefined: none annotated. */
  summaryOf(serial: string, upto = Infinity): Summary | undefined {
    if (this.index.size === 0) return undefined;
    const at = this.index.lastOf(serial, upto);
    if (at === undefined) return undefined;
    const e = this.log.range(at - 1, at)?.[0];
    return e?.kind === 'message' ? e.message.summary : undefined;
  }

  /** Whether any message has retained annotations. */
  get any(): boolean {
    return this.index.size > 0;
  }

  /** The annotations of the message of `serial` (up to log serial `upto`), oldest first (by their serials). */
  list(serial: string, upto = Infinity): MessageEntry[] {
    return this.entries(serial, upto).sort((a, b) => byAnnotationSerial(a.message, b.message));
  }
}
