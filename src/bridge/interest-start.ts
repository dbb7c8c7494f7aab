/**
 * The start of a region's new interest in a channel, in order before its live batches.
 *
 * When a peer region begins to want a channel, the globalmaster tells the channel's
 * master, which sends a *start*: what it published since shortly before the interest
 * began (`ChannelMaster.setRemoteInterest`). Live batches of the channel keep coming
 * meanwhile, for regions that wanted it already, and the globalmaster sends each to
 * every region that wants it, the new one included. A live batch that the master had
 * sent before it heard of the new interest would then reach that region before the
 * start. The receiving master takes the first batch of a stream as its beginning and
 * skips what comes after it with a lower origin seq (a duplicate, as far as it can
 * tell), so the start's messages before that batch were lost there: among them what was
 * published after the region's subscriber attached and before the interest arrived.
 *
 * So a new interest's live batches wait here until its start has gone, then follow it.
 * Interest learned from a peer's delta waits (it began just now, and the master will send
 * a start), and so does interest that a peer's snapshot adds to what this role held of
 * it (it began while the link was down: the masters were told the rest). A role's first
 * snapshot from a peer is new to the role, not always to the masters, who may have heard
 * of it from the role's last holder and then send no start: there, only interest the
 * last interest audit found its master did not know of waits (a snapshot before the
 * role's first audit waits for it, and what the audit finds known goes then). A start that does not come
 * within `timeoutMs` (a master that already knew, a lost message) releases what waited,
 * as it would have been sent without waiting, and so does holding more than `maxBytes`.
 */
import type { ChannelKey } from '../channel/entry.js';
import type { ForwardedBatch } from '../transport/messages.js';

interface Waiting {
  region: string;
  held: ForwardedBatch[];
  bytes: number;
  timer: NodeJS.Timeout;
}

/**
 * Held live batches released without their start: after the timeout, or when too many
 * waited, or (`known`) when the role's first audit found that the master knew of the
 * interest already (no start comes, and none is needed).
 */
export interface Release {
  region: string;
  batches: ForwardedBatch[];
  why: 'timeout' | 'full' | 'known';
}

export class InterestStarts {
  private readonly waiting = new Map<string, Waiting>();
  /**
   * What the last interest audit heard from the channels' masters: channel → the other
   * regions its master knew wanted it (a channel whose master did not answer is absent).
   * null before this role's first audit.
   */
  private mastersKnow: Map<ChannelKey, Set<string>> | null = null;
  /** Waits begun on a first snapshot before the role's first audit, which decides them. */
  private readonly undecided = new Map<string, ChannelKey>();
  /** New interests seen, and those whose held batches went without their start (timeout, or too many). */
  readonly counts = { waited: 0, timedOut: 0, full: 0 };

  constructor(
    private readonly o: { timeoutMs: number; maxBytes: number },
    /** Sends held batches, in order, released without a start (a start's come back from `started`). */
    private readonly release: (r: Release) => void,
  ) {}

  private static key(region: string, channel: ChannelKey): string {
    return `${region}\u0000${channel}`;
  }

  /** `region`'s interest in `channel` began just now: its live batches wait for the start. */
  begin(region: string, channel: ChannelKey): void {
    if (this.open(region, InterestStarts.key(region, channel))) this.counts.waited++;
  }

  private open(region: string, key: string): boolean {
    if (this.waiting.has(key)) return false;
    const timer = setTimeout(() => this.give(key, 'timeout'), this.o.timeoutMs);
    timer.unref?.();
    this.waiting.set(key, { region, held: [], bytes: 0, timer });
    return true;
  }

  /**
   * A peer's delta or snapshot added `region`'s interest in `channel`. `told`: this role
   * held that region's interest before, and told the masters: this is new to them.
   * Otherwise it is the role's first snapshot from the region, and it waits only if the
   * last audit heard from the channel's master that it did not know of it (no audit yet:
   * it waits until the first; a master that did not answer: it does not wait).
   */
  added(region: string, channel: ChannelKey, told: boolean): void {
    if (told) this.begin(region, channel);
    else if (this.mastersKnow === null) {
      const key = InterestStarts.key(region, channel);
      if (this.open(region, key)) this.undecided.set(key, channel);
    } else if (this.startComes(region, channel)) this.begin(region, channel);
  }

  /** Whether the last audit heard from the channel's master, and it did not know of this interest. */
  private startComes(region: string, channel: ChannelKey): boolean {
    const known = this.mastersKnow!.get(channel);
    return known !== undefined && !known.has(region);
  }

  /**
   * An interest audit: the channels whose masters answered, each with the other regions
   * its master knows of. Waits it finds needless (the master knew, or did not answer)
   * end, sending what they held.
   */
  audited(mastered: readonly { channel: ChannelKey; remote: readonly { region: string }[] }[]): void {
    this.mastersKnow = new Map(mastered.map((m) => [m.channel, new Set(m.remote.map((r) => r.region))]));
    for (const [key, channel] of this.undecided) {
      const w = this.waiting.get(key)!;
      if (this.startComes(w.region, channel)) {
        this.counts.waited++;
        continue;
      }
      this.take(key);
      if (w.held.length) this.release({ region: w.region, batches: w.held, why: 'known' });
    }
    this.undecided.clear();
  }

  /** The role was given up: what the masters know is not known until the next term's audit. */
  forgetAudit(): void {
    this.mastersKnow = null;
    this.undecided.clear();
  }

  /** `region`'s interest in `channel` ended (or its link went down): what waited is dropped. */
  end(region: string, channel: ChannelKey): void {
    this.take(InterestStarts.key(region, channel));
  }

  /** Everything waiting for `region` is dropped (its link went down: it will ask for a replay). */
  endRegion(region: string): void {
    const prefix = `${region}\u0000`;
    for (const key of [...this.waiting.keys()]) if (key.startsWith(prefix)) this.take(key);
  }

  /** A live batch for `region`: true if it waits here (sent later), false to send it now. */
  hold(region: string, batch: ForwardedBatch): boolean {
    if (this.waiting.size === 0) return false; // the usual case: no new interest
    const key = InterestStarts.key(region, batch.channel);
    const w = this.waiting.get(key);
    if (!w) return false;
    w.held.push(batch);
    w.bytes += batch.entries.encoded().length;
    if (w.bytes > this.o.maxBytes) this.give(key, 'full');
    return true;
  }

  /** The start for `region` is being sent: the live batches to send after it, in order. */
  started(region: string, channel: ChannelKey): ForwardedBatch[] {
    return this.take(InterestStarts.key(region, channel))?.held ?? [];
  }

  /** New interests whose start has not come yet. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Ends a wait (its timer too) and returns it. */
  private take(key: string): Waiting | undefined {
    const w = this.waiting.get(key);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.waiting.delete(key);
    this.undecided.delete(key);
    return w;
  }

  private give(key: string, why: 'timeout' | 'full'): void {
    const w = this.take(key);
    if (!w) return;
    // A start that never comes for a channel nobody here published on released nothing.
    if (!w.held.length) return;
    if (why === 'timeout') this.counts.timedOut++;
    else this.counts.full++;
    this.release({ region: w.region, batches: w.held, why });
  }
}
