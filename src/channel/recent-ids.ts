/**
 * The message ids this node's channel clients delivered last, with the serial each was
 * ordered under, for every channel together (one ring per node, bounded in count and in
 * time): what survives a channel's master and replica lost together.
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
 * Presence operations are not kept: the new epoch's set starts empty, and a member's
 * enter sent again belongs in it.
 *
 * Held: the message entries of the last `spanMs`, at most `capacity` of them, in the
 * order they were delivered. Each slot keeps the strings the entry already had (its id,
 * connectionId and serial: no copy, and not its data); the dedup key is made only when
 * a claim asks. Each slot links to its channel's slot before it, so that a claim's
 * question reads that channel's slots only: a node asked about 10,000 channels lost at
 * once does not scan the whole ring for each.
 */
import { dedupKey } from '../protocol/message.js';
import type { RecentId } from '../transport/messages.js';
import { dedupSerial, type ChannelKey, type LogEntry } from './entry.js';

/** Message entries kept (all channels together). */
export const RECENT_CAPACITY = 65_536;
/** How long one is kept (ms): a claim comes within seconds of its master's loss. */
export const RECENT_SPAN_MS = 15_000;

export class RecentIds {
  private readonly channels: ChannelKey[] = [];
  private readonly ids: string[] = [];
  private readonly connections: (string | undefined)[] = [];
  private readonly serials: string[] = [];
  private readonly times: number[] = [];
  /** Each slot's place in the order noted (1, 2, …), and the slot of its channel's entry before it (-1: none). */
  private readonly order: number[] = [];
  private readonly prev: number[] = [];
  /** Each channel's newest slot: `of` walks back from it, through its own slots only. */
  private readonly newest = new Map<ChannelKey, number>();
  private noted = 0;
  /** The oldest slot, once the ring is full. */
  private head = 0;

  constructor(
    /** A clock no step of the wall clock moves (ms). */
    private readonly now: () => number = () => performance.now(),
    private readonly capacity = RECENT_CAPACITY,
    private readonly spanMs = RECENT_SPAN_MS,
  ) {}

  get size(): number {
    return this.ids.length;
  }

  /** Channels with an id held. */
  get channelCount(): number {
    return this.newest.size;
  }

  /** A channel client delivered these entries. */
  note(channel: ChannelKey, entries: readonly LogEntry[]): void {
    const now = this.now();
    let last = this.newest.get(channel) ?? -1;
    for (const e of entries) {
      if (e.kind !== 'message') continue;
      const full = this.ids.length === this.capacity;
      const i = full ? this.head : this.ids.length;
      if (full) {
        this.head = (this.head + 1) % this.capacity;
        // The oldest slot goes: where it was its channel's newest, that channel has none left.
        const old = this.channels[i]!;
        if (old === channel && last === i) last = -1;
        else if (old !== channel && this.newest.get(old) === i) this.newest.delete(old);
      }
      this.channels[i] = channel;
      this.ids[i] = e.message.id;
      this.connections[i] = e.message.connectionId;
      this.serials[i] = dedupSerial(e);
      this.times[i] = now;
      this.order[i] = ++this.noted;
      this.prev[i] = last;
      last = i;
    }
    if (last >= 0) this.newest.set(channel, last);
  }

  /** One channel's ids of the last `spanMs`, oldest first (its own slots only are read). */
  of(channel: ChannelKey): RecentId[] {
    const since = this.now() - this.spanMs;
    const out: RecentId[] = [];
    // A slot taken since by a newer entry ends the walk: another channel's, or a later one of this.
    let before = Infinity;
    for (let i = this.newest.get(channel) ?? -1; i >= 0; i = this.prev[i]!) {
      if (this.channels[i] !== channel || this.order[i]! >= before || this.times[i]! < since) break;
      before = this.order[i]!;
      out.push({ key: dedupKey(this.ids[i]!, this.connections[i]), serial: this.serials[i]! });
    }
    return out.reverse();
  }
}
