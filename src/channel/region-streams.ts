/**
 * A channel master's streams to and from the other regions of its deployment: it stores
 * what another region accepted (`ingest`, forwarded by the globalmaster), answers another
 * region's replay from its own entries (`replayLocal`), starts a new interest's stream
 * (`setRemoteInterest`), knows which regions already have it when it takes the channel
 * over (`inheritRemote`), and says where each stream stands (`behind`, `ownHead`,
 * `behindOwn`). What it keeps is in the channel's state (replicated); the rest is here:
 * which regions' interest came with the state and whether the globalmaster has spoken.
 */
import { AblyError } from '../errors.js';
import type { PresenceMessage } from '../protocol/message.js';
import type { ForwardedEntries } from '../transport/entry-lists.js';
import type { ForwardedBatch, NodeId } from '../transport/messages.js';
import { INTEREST_START_MARGIN_MS, type RegionInterest } from './channel-interest.js';
import type { ChannelKey, LogEntry } from './entry.js';
import type { Gap } from './gaps.js';
import type { MasterDeps } from './master.js';
import type { ChannelState } from './state.js';
import { hasUnreplicated } from './unreplicated.js';

/** Entries per replay answer to another region. */
const REPLAY_PAGE = 1000;
/**
 * And at most this many bytes of entries (but at least one entry): a page is one frame on
 * the region link, and a link that brings no whole frame for 4 s is closed as silent
 * (links.ts), so a page must cross in less at any bandwidth a region link has.
 */
const REPLAY_PAGE_BYTES = 1024 * 1024;
/**
 * A new interest's start waits at most this long for what is held here to be published,
 * then is read anyway. The globalmaster's wait for the start (START_WAIT_MS) allows for it.
 */
const START_AFTER_COMMIT_MS = 500;

/** What the streams need of their master. */
export interface RegionStreamsHost {
  readonly key: ChannelKey;
  readonly state: ChannelState;
  readonly deps: Pick<MasterDeps, 'now' | 'region' | 'toRegions'>;
  /** Set once the master stopped: what its callers are told. */
  readonly stopReason: AblyError | null;
  /** The last serial replicated and broadcast. */
  readonly publishedSerial: number;
  /** The nodes subscribed here. */
  readonly subscribers: ReadonlySet<NodeId>;
  /** ChannelSettings.inheritedInterestMs, or its default. */
  readonly inheritedMs: number;
  /** This region's own presence members as published. */
  ownMembers(): PresenceMessage[];
  /** Queues entries for replication and broadcast (`lost`: another region's messages lost before them). */
  enqueue(entries: LogEntry[], holds: [], lost: Omit<Gap, 'serial'> | null): Promise<void>;
  /** A replication with nothing but changes no entry shows. */
  replicateSoon(): void;
  /** Whether a replication is in flight whose replica was asked to send its batch on to other regions. */
  readonly forwardingInFlight: boolean;
  /** ChannelMaster.publishedTo: once published as far as `seen` (false after `timeoutMs`). */
  publishedTo(seen: { epoch: string; serial: number }, timeoutMs: number): Promise<boolean>;
}

export class RegionStreams {
  /**
   * Regions whose interest this master inherited (inheritRemote; their starts are the
   * state's): the first word from the globalmaster that names one with the same start
   * sends it no start again. null once that word came.
   */
  private inherited: Set<string> | null = null;
  /** Whether the globalmaster has told this master which regions want the channel. */
  private told = false;
  /** Regions whose start waits for the commit in flight (setRemoteInterest). */
  private readonly deferred = new Set<string>();

  constructor(private readonly host: RegionStreamsHost) {
    // What the state came with is what the master before knew (inheritRemote's rule).
    // (No replication from here: the state moved goes with the next one, or the replica's sync.)
    this.inherit(host.state.interest.remoteList, new Map());
  }

  private get state(): ChannelState {
    return this.host.state;
  }

  /**
   * Stores messages another region accepted (forwarded by the globalmaster). Resolves
   * with the origin seq reached, or with where the origin must resend from.
   */
  async ingest(batch: ForwardedBatch): Promise<{ seq: number; replayAfter: number | null; startSince?: number }> {
    const stopped = this.host.stopReason;
    if (stopped) throw stopped;
    const entries = batch.entries.list(batch.region, batch.epoch);
    const r = this.state.ingest({ region: batch.region, epoch: batch.epoch, startSeq: batch.startSeq, gapBefore: batch.gapBefore, entries, members: batch.members }, this.host.deps.now());
    if (r.replayAfter !== null) return { seq: r.seq, replayAfter: r.replayAfter };
    // No stream from that region yet: its start is wanted, from when interest here began
    // (none here now: nothing is wanted).
    if (r.needStart) {
      const w = this.startWanted();
      return { seq: r.seq, replayAfter: null, ...(w ? { startSince: w.since } : {}) };
    }
    const gap = r.discontinuity
      ? {
          error: AblyError.of('channelMessagesExpired', `messages from region ${batch.region} were lost (its history no longer covered them)`).toInfo(),
          // Whose, and up to where (just before the first of its messages that came after the loss).
          origin: { region: batch.region, epoch: batch.epoch, seq: r.lostBefore ?? r.seq },
        }
      : null;
    // A position that moved with no entry still goes to the replica (in the next replication).
    if (r.entries.length || gap || hasUnreplicated(this.state)) await this.host.enqueue(r.entries, [], gap);
    return { seq: r.seq, replayAfter: null };
  }

  /**
   * This region's own entries after `afterSeq`, for another region (as replicated and
   * broadcast); or (`since`) the start of its stream there, as for a new interest.
   * `withMembers`: also this region's own presence members as published, which a stream
   * begun (or begun again) there takes as this region's set.
   */
  replayLocal(
    epoch: string,
    afterSeq: number,
    since?: number,
    withMembers = false,
  ): { epoch: string; startSeq: number; gap: boolean; entries: ForwardedEntries; members?: PresenceMessage[] } {
    const r =
      since === undefined
        ? this.state.localAfter(epoch, afterSeq, REPLAY_PAGE, this.host.publishedSerial, REPLAY_PAGE_BYTES)
        : this.state.localSince(since - INTEREST_START_MARGIN_MS, this.host.publishedSerial, REPLAY_PAGE, REPLAY_PAGE_BYTES);
    return { epoch: this.state.epoch, startSeq: r.startSeq, gap: r.gap, entries: r.entries, ...(withMembers ? { members: this.host.ownMembers() } : {}) };
  }

  /**
   * Other regions that want this channel now (replaces the previous set, but for the
   * regions in `keep`, whose interest the globalmaster has not heard of yet).
   */
  setRemoteInterest(regions: RegionInterest[], keep: readonly string[] = []): void {
    const before = this.state.interest.remote; // still the previous word after setRemote (which replaces the map)
    const inherited = this.inherited;
    this.inherited = null;
    this.told = true;
    const next = new Map<string, number>();
    for (const region of keep) {
      const since = before.get(region);
      if (since !== undefined) next.set(region, since);
    }
    for (const r of regions) next.set(r.region, r.since);
    // Changed: the replica hears of it (a replication with nothing else), so a master it becomes knows it.
    const clocks = this.state.interest.setClocks(regions);
    if (this.state.interest.setRemote(next, this.host.deps.now()) || clocks) this.host.replicateSoon();
    const starts = regions.filter((r) => {
      // Known: heard before, or handed over with this very start (not an interest begun again since).
      const known = before.has(r.region) && (!inherited?.has(r.region) || before.get(r.region) === r.since);
      // Waiting for the commit in flight (below): it goes then, from the interest's time then.
      if (known || this.deferred.has(r.region)) return false;
      return !!this.host.deps.toRegions && !!this.host.deps.region && !this.state.skipsStarts;
    });
    if (!starts.length) return;
    // The replica sends a batch on to other regions as it takes it, before this master
    // publishes it: one in flight now went only to the regions the globalmaster knew of
    // then, and a start read now stops before it. The new region would have had a hole,
    // and asked for everything after it again (interest-start.test.ts, under load).
    // Batches after this one the globalmaster holds for the start.
    if (!this.host.forwardingInFlight) return this.sendStarts(starts);
    const epoch = this.state.epoch;
    for (const r of starts) this.deferred.add(r.region);
    const held = { epoch, serial: this.state.serial };
    void this.host.publishedTo(held, START_AFTER_COMMIT_MS).catch(() => false).then(() => {
      for (const r of starts) this.deferred.delete(r.region);
      if (this.host.stopReason || this.state.epoch !== epoch) return;
      // Those still wanted, from when their interest began as the globalmaster says now.
      const remote = this.state.interest.remote;
      this.sendStarts(starts.flatMap((r) => (remote.has(r.region) ? [{ region: r.region, since: remote.get(r.region)! }] : [])));
    });
  }

  /**
   * New interests: each region's stream starts with what was published here since
   * (shortly before) its interest began, its oldest page first; it deduplicates by
   * message id.
   */
  private sendStarts(regions: readonly RegionInterest[]): void {
    for (const r of regions) {
      const start = this.state.localSince(this.state.interest.onOurClock(r.region, r.since) - INTEREST_START_MARGIN_MS, this.host.publishedSerial, REPLAY_PAGE, REPLAY_PAGE_BYTES);
      this.host.deps.toRegions!(
        {
          channel: this.host.key,
          region: this.host.deps.region!,
          epoch: this.state.epoch,
          startSeq: start.startSeq,
          gapBefore: start.gap,
          entries: start.entries,
          members: this.host.ownMembers(),
        },
        r.region,
        start.more,
      );
    }
  }

  /**
   * A master that takes the channel over knows which other regions already have its
   * stream: from the state it is made from (a handoff's snapshot, a claim's copy, a
   * promoted replica's state, which replication kept up), or handed over late (here),
   * so it does not send them their start again, all of it since their interest began
   * (they would drop it as duplicates: only traffic). Interest younger than
   * the settings' inheritedInterestMs (30 s) is left out: its start may not have arrived, and goes again.
   */
  inheritRemote(regions: readonly RegionInterest[]): void {
    if (this.told) return; // the globalmaster's word came first: it is the whole of it
    if (this.inherit(regions, new Map(this.state.interest.remote))) this.host.replicateSoon();
  }

  /** inheritRemote's rule, adding to `next`; returns whether the state's interest changed. */
  private inherit(regions: readonly RegionInterest[], next: Map<string, number>): boolean {
    const now = this.host.deps.now();
    const clocks = this.state.interest.setClocks(regions);
    for (const r of regions) {
      if (r.since <= 0 || now - this.state.interest.onOurClock(r.region, r.since) < this.host.inheritedMs) continue;
      next.set(r.region, r.since);
      (this.inherited ??= new Set()).add(r.region);
    }
    return this.state.interest.setRemote(next, now) || clocks;
  }

  get remoteRegions(): string[] {
    return [...this.state.interest.remote.keys()];
  }

  /** Other regions that want this channel, and since when: as the globalmaster last said, or as inherited. */
  get remoteInterest(): RegionInterest[] {
    return this.state.interest.remoteList;
  }

  /**
   * Whether another region has seen this region's own stream of this epoch further than
   * this master holds. Held, not published: the replica sends a batch on to other regions
   * as it takes it, before this master hears back and publishes it.
   */
  behindOwn(epoch: string, seq: number): boolean {
    return epoch === this.state.epoch && seq > this.state.seq;
  }

  /** Where this region's own stream of the channel stands: the local seq of the last message published. */
  ownHead(): { epoch: string; seq: number } {
    return { epoch: this.state.epoch, seq: this.state.ownSeqAt(this.host.publishedSerial) };
  }

  /**
   * What to ask `region` for, given where its stream of this channel stands there (its
   * globalmaster's heads): the rest after this stream's position; a start since interest
   * here began, if the stream has not begun here; or null, if nothing is missing.
   */
  behind(region: string, head: { epoch: string; seq: number }): { epoch: string; afterSeq: number; since?: number } | null {
    const w = this.state.behindHead(region, head);
    return w === 'start' ? this.startWanted() : w;
  }

  /** The start of another region's stream, as wanted here: since interest here began (null without subscribers). */
  startWanted(): { epoch: string; afterSeq: number; since: number } | null {
    return this.host.subscribers.size > 0 ? { epoch: '', afterSeq: 0, since: this.state.interest.since } : null;
  }
}
