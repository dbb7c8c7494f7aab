/**
 * How far a channel's stream has got in each other region's order (the origin seq of the
 * last entry from there), and which of those positions moved with no entry the replica
 * has seen (a start or an answer with none, entries dropped as already held): those go
 * to the replica in the next replication, so a master it becomes does not ask again.
 *
 * Before a stream from a region has begun, clients that came from there with its
 * channelSerial, or that were here before the channel's state was lost, say what it must
 * reach back to (the lowest of their positions, per epoch of that region's stream: the
 * one the stream begins in counts): a start that begins at or before that is taken whole,
 * so subscribers here since earlier lose nothing of it; one that begins after it is
 * refused and asked for again from there.
 * That is not a position (channelSerials do not show it); it travels with the channel's
 * state on its own (snapshots, and replication when it changed: takeReach).
 */
import type { OriginPosition } from '../protocol/serial.js';
import type { Message } from '../protocol/message.js';
import type { LogEntry } from './entry.js';

/** The least of `list`'s positions per region and epoch (what reach-back requests carry). */
export function leastPerEpoch(list: readonly OriginPosition[]): OriginPosition[] {
  const least = new Map<string, OriginPosition>();
  for (const o of list) {
    const k = `${o.region}~${o.epoch}`;
    const at = least.get(k);
    if (!at || o.seq < at.seq) least.set(k, o);
  }
  return [...least.values()];
}

export class OriginPositions {
  private readonly byRegion = new Map<string, OriginPosition>();
  private readonly moved = new Set<string>();
  /** Least positions, per region and epoch, streams not yet begun must reach back to (not positions: get() does not see them). */
  private readonly reach = new Map<string, OriginPosition[]>();
  /** Whether `reach` changed since the replica was last told. */
  private reachChanged = false;
  /**
   * Per region, the seq up to which this stream may lack the origin's messages: its
   * position moved there with none (a start, or past what the origin's history no longer
   * held). This master's knowledge only; a replica promoted starts without it.
   */
  private readonly unheld = new Map<string, number>();
  /** Regions whose stream gave seqs again (forked) since this stream last told its subscribers. */
  private readonly forks = new Set<string>();

  get(region: string): OriginPosition | undefined {
    return this.byRegion.get(region);
  }

  set(region: string, o: OriginPosition): void {
    this.byRegion.set(region, o);
    this.reach.delete(region);
  }

  /** The position from `region` moved to `seq` with no entry: what came before may not be here. */
  jumped(region: string, seq: number): void {
    this.unheld.set(region, seq);
  }

  /** The position from `region` moves to `seq` of its `epoch` with no entry (jumped); returns `seq`. */
  jumpTo(region: string, epoch: string, seq: number): number {
    this.set(region, { region, epoch, seq });
    this.jumped(region, seq);
    return seq;
  }

  /**
   * Whether a batch of `region`'s gives a seq this stream already has (up to `last`) to a
   * message it does not have (`held`: in the channel's dedup window): the origin's master went
   * on from an old copy of the channel and gave its seqs again. Taken as repeats, its new
   * messages would be skipped without a word. Asked for what follows this stream's
   * position, that master sees it is behind and restarts the channel in a new epoch
   * (ChannelMaster.behindOwn). A repeat older than the dedup window looks the same; it
   * costs one replay, answered from where this stream stands, and a needless 90003
   * (takeFork). Not before where the position moved with no entry (`jumped`): those
   * messages were never here (a replica promoted does not know where that was).
   */
  forked(region: string, entries: readonly LogEntry[], last: number, held: (m: Message) => boolean): boolean {
    if (!entries.length || entries[0]!.origin.seq > last) return false;
    const unheld = this.unheld.get(region) ?? 0;
    for (const e of entries) {
      if (e.origin.seq > last) return false;
      if (e.origin.seq > unheld && e.kind === 'message' && !held(e.message)) {
        this.forks.add(region);
        return true;
      }
    }
    return false;
  }

  /**
   * Whether `region`'s stream forked since this was last asked. The messages it gave seqs
   * this stream already had are lost here whatever the origin does next (restarts, or,
   * its seqs past ours by the time it is asked, goes on): the next batch taken from there
   * tells the subscribers so (90003).
   */
  takeFork(region: string): boolean {
    return this.forks.delete(region);
  }

  /** Whether a client that saw `o.region`'s stream up to `o` can be met here (not: a stream, begun or to reach back to, of another epoch). */
  meets(o: OriginPosition): boolean {
    const at = this.byRegion.get(o.region);
    if (at) return at.epoch === o.epoch;
    const reach = this.reach.get(o.region);
    return !reach || reach.some((r) => r.epoch === o.epoch);
  }

  /**
   * A client resumed here having seen `o.region`'s stream up to `o`: where no stream from
   * there has begun, it must reach back to that (the lowest of such clients').
   */
  reachBackTo(o: OriginPosition): boolean {
    if (this.byRegion.has(o.region)) return false;
    const list = this.reach.get(o.region) ?? [];
    const at = list.findIndex((r) => r.epoch === o.epoch);
    if (at >= 0 && o.seq >= list[at]!.seq) return false;
    const least = { region: o.region, epoch: o.epoch, seq: o.seq };
    this.reach.set(o.region, at >= 0 ? list.map((r, i) => (i === at ? least : r)) : [...list, least]);
    this.reachChanged = true;
    return true;
  }

  /** Interest here ended: no stream need reach back for clients that came. */
  forgetReach(): void {
    if (this.reach.size === 0) return;
    this.reach.clear();
    this.reachChanged = true;
  }

  /** All of it (snapshots). */
  reachList(): OriginPosition[] {
    return [...this.reach.values()].flat();
  }

  get reachMoved(): boolean {
    return this.reachChanged;
  }

  /** All of it, for the next replication, if it changed since the last (else undefined). */
  takeReach(): OriginPosition[] | undefined {
    if (!this.reachChanged) return undefined;
    this.reachChanged = false;
    return this.reachList();
  }

  /** The replica's side (and a restored snapshot): the master's, whole; positions begun here win. */
  applyReach(list: readonly OriginPosition[]): void {
    this.reach.clear();
    for (const o of list) if (!this.byRegion.has(o.region)) this.reach.set(o.region, [...(this.reach.get(o.region) ?? []), o]);
  }

  /** What a stream from `region`, not yet begun, must reach back to (reachBackTo) in its `epoch` (any: one of them), if anything. */
  reachBackOf(region: string, epoch?: string): OriginPosition | undefined {
    const list = this.reach.get(region);
    return epoch === undefined ? list?.[0] : list?.find((r) => r.epoch === epoch);
  }

  get size(): number {
    return this.byRegion.size;
  }

  values(): IterableIterator<OriginPosition> {
    return this.byRegion.values();
  }

  /** `region`'s position moved with no entry to show it. */
  markMoved(region: string): void {
    this.moved.add(region);
  }

  /** Whether some position moved with no entry the replica has seen. */
  get hasMoved(): boolean {
    return this.moved.size > 0;
  }

  /** Those positions, for the next replication (and forgets them). */
  takeMoved(): OriginPosition[] {
    const out: OriginPosition[] = [];
    for (const region of this.moved) {
      const o = this.byRegion.get(region);
      if (o) out.push(o);
    }
    this.moved.clear();
    return out;
  }

  /** The replica's side: positions the master's stream moved to with no entry. */
  apply(origins: readonly OriginPosition[]): void {
    for (const o of origins) this.set(o.region, o);
  }

  /**
   * Whether this stream lacks messages that `region` says its stream of the channel has
   * (`head`: its last message): where to ask it to resend from (a new epoch of it: from
   * its beginning), 'start' if no stream from it has begun here, or null. Also where this
   * stream is ahead of the head (below).
   */
  behind(region: string, head: { epoch: string; seq: number }): { epoch: string; afterSeq: number } | 'start' | null {
    const pos = this.byRegion.get(region);
    if (!pos) return head.seq === 0 ? null : 'start';
    if (pos.epoch !== head.epoch) return head.seq === 0 ? null : { epoch: head.epoch, afterSeq: 0 };
    // Ahead of the head: the origin's master holds less of its own stream than this one
    // has (it went on from an old copy of the channel). Asked for what follows ours, it
    // sees that, and restarts the channel in a new epoch (ChannelMaster.behindOwn).
    return pos.seq !== head.seq ? { epoch: pos.epoch, afterSeq: pos.seq } : null;
  }
}
