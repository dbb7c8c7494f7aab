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
  /** `region\0channel` of every other region's interest the masters knew of at the last audit. */
  private mastersKnow: Set<string> | null = null;
  /** The channels that audit heard of from their masters (the others are not known to wait). */
  private audit: Set<ChannelKey> = new Set();
  /** Waits begun on a first snapshot before the role's first audit, which decides them. */
  private readonly undecided = new Set<string>();
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
    const timer = setTimeout(() => this.give(key, region, 'timeout'), this.o.timeoutMs);
    timer.unref?.();
    this.waiting.set(key, { held: [], bytes: 0, timer });
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
    const key = InterestStarts.key(region, channel);
    if (told) this.begin(region, channel);
    else if (this.mastersKnow === null) {
      if (this.open(region, key)) this.undecided.add(key);
    } else if (this.startComes(key, channel)) this.begin(region, channel);
  }

  /** Whether the last audit heard from the channel's master, and it did not know of this interest. */
  private startComes(key: string, channel: ChannelKey): boolean {
    return this.audit.has(channel) && !this.mastersKnow!.has(key);
  }

  /**
   * An interest audit: the channels whose masters answered (`listed`), and the other
   * regions each of them knows of. Waits it finds needless (the master knew, or did not
   * answer) end, sending what they held.
   */
  audited(listed: Iterable<ChannelKey>, known: readonly { region: string; channel: ChannelKey }[]): void {
    this.audit = new Set(listed);
    this.mastersKnow = new Set(known.map((k) => InterestStarts.key(k.region, k.channel)));
    for (const key of this.undecided) {
      if (this.startComes(key, key.slice(key.indexOf('\u0000') + 1))) {
        this.counts.waited++;
        continue;
      }
      const w = this.take(key)!;
      if (w.held.length) this.release({ region: key.slice(0, key.indexOf('\u0000')), batches: w.held, why: 'known' });
    }
    this.undecided.clear();
  }

  /** The role was given up: what the masters know is not known until the next term's audit. */
  forgetAudit(): void {
    this.mastersKnow = null;
    this.audit = new Set();
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
    if (w.bytes > this.o.maxBytes) this.give(key, region, 'full');
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

  private give(key: string, region: string, why: 'timeout' | 'full'): void {
    const w = this.take(key);
    if (!w) return;
    // A start that never comes for a channel nobody here published on released nothing.
    if (!w.held.length) return;
    if (why === 'timeout') this.counts.timedOut++;
    else this.counts.full++;
    this.release({ region, batches: w.held, why });
  }
}
