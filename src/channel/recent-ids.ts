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
 * (registry.ts), so that the resend is answered with its first serial instead. A message
 * that no surviving node delivered was seen by no one here, and is taken as new.
 *
 * Held per channel client: the last `capacity` of this region's own messages (another
 * region's come again from there after a loss, and must then be taken, not skipped as
 * repeats; only this region's publishers send here again). A stream stops at its loss, so
 * the last few before it are what a claim needs, however long it comes after; those older
 * than `spanMs` are not given. Each slot keeps the strings the entry already had (its id
 * and serial: no copy, and not its data). Per channel, so that a busy channel
 * cannot push a quiet one's ids out before the claim comes (4 s or more after the loss).
 * Presence operations are not kept: the new epoch's set starts empty, and a member's
 * enter sent again belongs in it.
 */
import { dedupKey } from '../protocol/message.js';
import type { RecentId } from '../transport/messages.js';
import { dedupSerial, type LogEntry } from './entry.js';

/** Messages kept per channel client: more than a channel's publishers have unanswered at once, as a rule. */
export const RECENT_PER_CHANNEL = 32;
/** None older than this is given (ms): the dedup window would have let it go meanwhile anyway. */
export const RECENT_SPAN_MS = 60_000;

export class RecentIds {
  /** Dedup keys (dedupKey: the id itself, for the service's own ids). */
  private readonly keys: string[] = [];
  private readonly serials: string[] = [];
  private readonly times: number[] = [];
  /** The oldest slot, once all are taken. */
  private head = 0;

  constructor(
    /** A clock no step of the wall clock moves (ms). */
    private readonly now: () => number = () => performance.now(),
    private readonly capacity = RECENT_PER_CHANNEL,
    private readonly spanMs = RECENT_SPAN_MS,
  ) {}

  get size(): number {
    return this.keys.length;
  }

  /** The client delivered these entries of `epoch`: its messages of this region (their origin's epoch is the stream's) are kept. */
  note(entries: readonly LogEntry[], epoch: string): void {
    let now = -1;
    for (const e of entries) {
      if (e.kind !== 'message' || e.origin.epoch !== epoch) continue;
      if (now < 0) now = this.now();
      const full = this.keys.length === this.capacity;
      const i = full ? this.head : this.keys.length;
      if (full) this.head = (this.head + 1) % this.capacity;
      this.keys[i] = dedupKey(e.message.id, e.message.connectionId);
      this.serials[i] = dedupSerial(e);
      this.times[i] = now;
    }
  }

  /** The ids of the last `spanMs`, oldest first. */
  of(): RecentId[] {
    const since = this.now() - this.spanMs;
    const out: RecentId[] = [];
    const n = this.keys.length;
    for (let k = 0; k < n; k++) {
      const i = (this.head + k) % n;
      if (this.times[i]! >= since) out.push({ key: this.keys[i]!, serial: this.serials[i]! });
    }
    return out;
  }
}
