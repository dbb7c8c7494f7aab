/**
 * The message ids a channel client delivered last, with the serial each was ordered
 * under: what survives a channel's master and replica lost together.
 *
 * Such a channel starts again in a new epoch, with an empty dedup window. A publish
 * ordered in the lost epoch and delivered, whose ACK went with its publisher's node, is
 * sent again by the SDK when its connection resumes elsewhere, with the same id; the node
 * it resumed on knew nothing of its first sending, and the new master would order it again
 * and have it reach subscribers twice (chaos `two-of-three-killed`, the README's "not
 * covered" case until the fifty-sixth session). The claim that starts the new epoch asks
 * every node for these ids (ClaimRequest.recent) and puts them in the new state's window
 * (registry.ts), so that the resend is answered with its first serial instead. What no
 * surviving node delivered is taken as new (README: not covered).
 *
 * Held per channel client, so that a busy channel cannot push a quiet one's ids out
 * before the claim comes (4 s or more after the loss): this region's own messages (another
 * region's come again from there after a loss, and must then be taken, not skipped as
 * repeats; only this region's publishers send here again) delivered within `spanMs` of the
 * newest, at most `capacity` of them. A stream stops at its loss, so those are what a claim
 * needs however long after it comes; the span covers a publisher whose node stopped
 * answering a while before the loss (an SDK takes up to about 25 s to give up on a silent
 * transport, and sends again only then). Each id goes with its age, so that the new window
 * lets it go when the old one would have. All go once the newest is older than the dedup
 * window (`expire`, from the hub's audit each second): a quiet channel holds nothing.
 * Each slot keeps the strings the entry already had (its id and serial: no copy, and not
 * its data). Presence operations are not kept: the new epoch's set starts empty, and a
 * member's enter sent again belongs in it.
 */
import { DEDUP_WINDOW_MS } from '../config/defaults.js';
import { dedupKey } from '../protocol/message.js';
import type { RecentId } from '../transport/messages.js';
import { dedupSerial, type LogEntry } from './entry.js';

/** Messages kept per channel client at most: what one publish of a full group and more (publisher.ts MAX_GROUP_ITEMS) make. */
export const RECENT_PER_CHANNEL = 1024;
/** Those delivered within this long of the newest are kept (ms). */
export const RECENT_SPAN_MS = 30_000;

const monotonicNow = (): number => performance.now();

export class RecentIds {
  /** Dedup keys (dedupKey: the id itself, for the service's own ids), serials and times of delivery, oldest first from `head`. */
  private keys: string[] = [];
  private serials: string[] = [];
  private times: number[] = [];
  private head = 0;

  constructor(
    /** A clock no step of the wall clock moves (ms). */
    private readonly now: () => number = monotonicNow,
    private readonly capacity = RECENT_PER_CHANNEL,
    private readonly spanMs = RECENT_SPAN_MS,
    private readonly keepMs = DEDUP_WINDOW_MS,
  ) {}

  get size(): number {
    return this.keys.length - this.head;
  }

  /** The client delivered these entries of `epoch`: its messages of this region (their origin's epoch is the stream's) are kept. */
  note(entries: readonly LogEntry[], epoch: string): void {
    let now = -1;
    for (const e of entries) {
      if (e.kind !== 'message' || e.origin.epoch !== epoch) continue;
      if (now < 0) now = this.now();
      this.keys.push(dedupKey(e.message.id, e.message.connectionId));
      this.serials.push(dedupSerial(e));
      this.times.push(now);
    }
    if (now < 0) return;
    let head = this.head;
    while (head < this.times.length && (this.times.length - head > this.capacity || this.times[head]! < now - this.spanMs)) head++;
    this.head = head;
    // The slots before `head` go in one copy once they are as many as those kept.
    if (head > 64 && head * 2 > this.times.length) this.compact();
  }

  /** The ids kept, oldest first, each with its age (ms). */
  of(): RecentId[] {
    const now = this.now();
    const out: RecentId[] = [];
    for (let i = this.head; i < this.keys.length; i++) {
      const age = now - this.times[i]!;
      if (age < this.keepMs) out.push({ key: this.keys[i]!, serial: this.serials[i]!, age: Math.round(age) });
    }
    return out;
  }

  /** Lets everything go once the newest is older than the dedup window; whether it did (and holds nothing). */
  expire(): boolean {
    const newest = this.times[this.times.length - 1];
    if (newest === undefined || newest >= this.now() - this.keepMs) return false;
    this.keys = [];
    this.serials = [];
    this.times = [];
    this.head = 0;
    return true;
  }

  private compact(): void {
    this.keys = this.keys.slice(this.head);
    this.serials = this.serials.slice(this.head);
    this.times = this.times.slice(this.head);
    this.head = 0;
  }
}
