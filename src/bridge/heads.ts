/**
 * Heads of quiet channels, between the globalmasters of two regions. Pure.
 *
 * A hole in a channel's stream to another region (a live batch lost between this
 * region's master and the link, or one the other region failed to store) is seen there
 * when the channel's next batch does not follow on, and is then asked for again. Where
 * the hole is the last thing sent and the channel goes quiet, nothing shows it. So each
 * interest audit, the globalmaster reads every channel's head (its last seq, from the
 * masters' interest lists), and tells the regions with interest in a channel the head
 * of a channel that went quiet: one whose head did not move since the previous audit,
 * and that this link session has not been told yet. Every full audit tells them all
 * again (a receiver that could not act on one gets it again then). A receiving master
 * behind a head asks for the rest, as after a relink; one that has it does nothing.
 *
 * Active channels are not told: their next batch shows any hole, and a head sent while
 * a batch is still on its way would ask for what is coming anyway.
 */
import type { ChannelKey } from '../channel/entry.js';
import type { Ring } from '../cluster/ring.js';
import type { ChannelHead, MasteredChannel, NodeId } from '../transport/messages.js';

/** Heads per frame on the region link. */
export const HEADS_PER_FRAME = 1000;

/** What a session was told of each channel's head ("epoch seq"). */
export type HeadsTold = Map<ChannelKey, string>;

export class QuietHeads {
  /** Each channel's head at the last audit ("epoch seq"). */
  private last = new Map<ChannelKey, string>();

  /**
   * An audit's lists: per region, the heads to tell it, for channels it wants whose head
   * did not move since the last audit and that its session (`told`: null when it has no
   * live session) was not told, or (`all`) every such channel.
   */
  audit(mastered: readonly MasteredChannel[], told: (region: string) => HeadsTold | null, all: boolean): Map<string, ChannelHead[]> {
    const now = new Map<ChannelKey, string>();
    const out = new Map<string, ChannelHead[]>();
    for (const m of mastered) {
      if (!m.head || m.remote.length === 0 || m.head.seq === 0) continue;
      const key = `${m.head.epoch} ${m.head.seq}`;
      now.set(m.channel, key);
      if (this.last.get(m.channel) !== key) continue;
      for (const { region } of m.remote) {
        const t = told(region);
        if (!t || (!all && t.get(m.channel) === key)) continue;
        t.set(m.channel, key);
        let list = out.get(region);
        if (!list) out.set(region, (list = []));
        list.push({ channel: m.channel, epoch: m.head.epoch, seq: m.head.seq });
      }
    }
    this.last = now;
    return out;
  }

  /** The channels the last audit listed heads of. */
  get listed(): ReadonlySet<ChannelKey> {
    return new Set(this.last.keys());
  }

  /** The role moved away: the next term starts afresh. */
  forget(): void {
    this.last.clear();
  }
}

/** Forgets what a session was told of channels no longer listed (their interest ended). */
export function pruneTold(told: HeadsTold, listed: ReadonlySet<ChannelKey>): void {
  for (const channel of told.keys()) if (!listed.has(channel)) told.delete(channel);
}

/**
 * A peer's heads, per master of their channel here, leaving out channels with a batch of
 * that peer's still being stored (`busy`): that batch may be what the head counts.
 */
export function headsByMaster(ring: Ring, heads: readonly ChannelHead[], busy: (channel: ChannelKey) => boolean): Map<NodeId, ChannelHead[]> {
  const out = new Map<NodeId, ChannelHead[]>();
  for (const h of heads) {
    if (busy(h.channel)) continue;
    const owner = ring.owner(h.channel);
    if (!owner) continue;
    let list = out.get(owner);
    if (!list) out.set(owner, (list = []));
    list.push(h);
  }
  return out;
}

/** Splits a list into frames of at most `size`. */
export function chunks<T>(list: readonly T[], size = HEADS_PER_FRAME): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
