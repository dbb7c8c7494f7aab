/**
 * The channel master: one channel on the node that owns it in the region's ring.
 * It orders and deduplicates publishes (ChannelState), has each batch copied to the
 * replica, and only then is it broadcast once per subscribing node (by the replica as
 * it takes the batch, one hop sooner, and by the master to those the replica was not
 * asked to tell: batches.ts) and the publishers' nodes ACKed. One batch is replicated at
 * a time; the batches that queue behind it meanwhile are merged and go out as one
 * (group commit), so a busy channel
 * makes fewer, larger replications and broadcasts rather than a growing queue of small
 * ones. Everything a client can observe (broadcasts, replies, range and history reads)
 * stops at the last replicated serial, so nothing seen is ever lost by the failure of
 * one node. A node can have a batch from the replica before this master has its reply;
 * a read up to that node's position waits for it to be published here (publishedTo).
 */
import type { OriginPosition } from '../protocol/serial.js';
import { hashName } from './sub-digest.js';
import { AblyError } from '../errors.js';
import { RateLimiter } from '../rate.js';
import type { Message, PresenceMessage } from '../protocol/message.js';
import { MAX_MERGED_BYTES, MAX_MERGED_ENTRIES } from '../transport/entry-lists.js';
import type { Broadcast, ChannelStatus, ForwardedBatch, NodeId } from '../transport/messages.js';
import { batchBytes, broadcastOf, NOT_BY_REPLICA, ownEntriesBatch, SubscribingNodes, type Batch, type ReplicaBroadcast, type Replicated, type Said } from './batches.js';
import type { ChannelKey, LogEntry } from './entry.js';
import type { HistoryQuery } from './log.js';
import { PresenceSet } from './presence.js';
import { RegionStreams } from './region-streams.js';
import type { ChannelState, PresenceHold } from './state.js';
import type { Gap } from './gaps.js';
import { INHERITED_INTEREST_MS } from './settings.js';
import { hasUnreplicated } from './unreplicated.js';
import { ChannelLifecycle, type LifecycleDeps } from './lifecycle.js';

export interface MasterDeps {
  /** The wall clock: message timestamps, presence leave times. */
  now(): number;
  /** For durations (the publish rate, how long it inherits): a clock no step of the wall clock moves; `now` by default. */
  monotonic?(): number;
  /** Messages per second the channel accepts (Ably's per-channel publish rate); excess is refused with 42913. */
  maxPublishRate?: number;
  /** This node (it is told of a batch by the replica's reply, not by a broadcast from there). */
  self?: NodeId;
  /** One-way send to a node (self included). */
  sendBroadcast(to: NodeId, msg: Broadcast): void;
  /**
   * Copies entries (and presence holds) to the channel's replica; resolves when the
   * replica holds them, with whether the replica also sent them on to other regions
   * (asked with `forward`) and broadcast them (asked with `broadcast`; replication.ts).
   * Rejects when this node must stop acting as master (the batch is then not ACKed).
   */
  replicate(master: ChannelMaster, entries: LogEntry[], holds: PresenceHold[], forward: boolean, broadcast: ReplicaBroadcast | null): Promise<Replicated>;
  /** Per batch broadcast: count of nodes it went to (metrics). */
  onBroadcast?(nodes: number, entries: number): void;
  /** A hold or presence operation came from a node its connection had left (metrics; PresenceSet.hold's `stale`). */
  onPresenceStale?(): void;
  /** This region's name (entries that originated here are the ones forwarded). */
  region?: string;
  /**
   * Sends this region's new entries towards other regions (to one, or all with interest);
   * `more`: a start that continues in history after these (the globalmaster pages on).
   */
  toRegions?(batch: ForwardedBatch, to: string | null, more?: boolean): void;
  /** This region's interest in the channel began (since, ms) or ended. */
  interestChanged?(key: ChannelKey, on: boolean, since: number): void;
  /** Its lifecycle events (lifecycle.ts; absent: none, as for a metachannel), less what the master itself gives. */
  lifecycle?(master: ChannelMaster): Omit<LifecycleDeps, 'changed'> | null;
  /** Its subscribing nodes changed, or it stopped (the registry's audit digests: audit-digests.ts). */
  subscribersChanged?(): void;
}

/**
 * How long a read up to a node's position waits for this master to publish that far
 * (publishedTo): a replication round trip, or a reply lost and the batch sent again
 * (INTERNAL_REQUEST_TIMEOUT_MS, 3 s), then the asker is told to try again.
 */
const PUBLISHED_WAIT_MS = 4000;

export class ChannelMaster {
  private readonly subscribing: SubscribingNodes;
  /** Last serial every subscriber has been sent (and the replica holds). */
  private published: { serial: number; channelSerial: string };
  private open: Batch | null = null;
  /** Batches flushed while a replication was in flight, in order. */
  private readonly waiting: Batch[] = [];
  /** The replication and broadcast in flight (one at a time, in order). */
  private running: Promise<void> | null = null;
  /** Whether the replica was asked to send the batch in flight on to other regions. */
  private replicaForwards = false;
  private stopped: AblyError | null = null;
  /** The presence set as of `published` (what a new subscriber syncs from). */
  private readonly view: PresenceSet;
  private readonly rate: RateLimiter | null;
  /** Its streams to and from other regions (region-streams.ts). */
  readonly regions: RegionStreams;
  /** Until when a first subscriber takes the interest start the state came with (ChannelSettings.inheritedInterestMs). */
  private inheritUntil: number;

  /** ChannelSettings.inheritedInterestMs, or its default. */
  private get inheritedMs(): number {
    return this.state.settings.inheritedInterestMs ?? INHERITED_INTEREST_MS;
  }

  /** The nodes subscribed to this master's broadcasts. */
  get subscribers(): ReadonlySet<NodeId> {
    return this.subscribing.nodes;
  }

  /** The channel name's hash, for subscription audits (sub-digest.ts). */
  readonly keyHash: number;
  /** Its lifecycle events (null: none). Told when attachments here or elsewhere change (reconcile). */
  readonly lifecycle: ChannelLifecycle | null;

  constructor(
    readonly key: ChannelKey,
    readonly state: ChannelState,
    private readonly deps: MasterDeps,
  ) {
    this.keyHash = hashName(key);
    this.subscribing = new SubscribingNodes(deps.subscribersChanged);
    const p = state.position();
    this.published = { serial: p.serial, channelSerial: p.channelSerial };
    this.view = PresenceSet.restore(state.presence.snapshot());
    this.rate = deps.maxPublishRate ? new RateLimiter(deps.maxPublishRate) : null;
    this.inheritUntil = state.interest.since > 0 ? this.elapsed() + this.inheritedMs : 0;
    const master = this;
    this.regions = new RegionStreams({
      key,
      state,
      deps,
      get stopReason() {
        return master.stopped;
      },
      get publishedSerial() {
        return master.published.serial;
      },
      get subscribers() {
        return master.subscribers;
      },
      get inheritedMs() {
        return master.inheritedMs;
      },
      ownMembers: () => this.view.own(),
      enqueue: (entries, holds, lost) => this.enqueue(entries, holds, lost),
      replicateSoon: () => this.replicateSoon(),
      get forwardingInFlight() {
        return master.running !== null && master.replicaForwards;
      },
      publishedTo: (seen, timeoutMs) => this.publishedTo(seen, timeoutMs),
    });
    const lifecycle = deps.lifecycle?.(this);
    // What was announced changed: the replica hears of it now (a replication with nothing else).
    const changed = () => this.enqueue([]);
    this.lifecycle = lifecycle ? new ChannelLifecycle(key, state.interest, { ...lifecycle, changed }, () => this.subscribers.size > 0) : null;
  }

  /** Clients here had seen other regions' streams up to `origins` (ChannelState.reachBackFor); a change goes to the replica at once. */
  reachBack(origins: readonly OriginPosition[]): void {
    if (this.state.reachBackFor(origins)) void this.enqueue([]).catch(() => undefined);
  }

  /** When this region's current interest began (ms; meaningful while there are subscribers). */
  private get interestSince(): number {
    return this.state.interest.since;
  }

  get epoch(): string {
    return this.state.epoch;
  }

  /** Position clients can see: the last replicated and broadcast entry. */
  position(): { epoch: string; serial: number; channelSerial: string } {
    return { epoch: this.state.epoch, ...this.published };
  }

  /** Now on the clock durations are measured with (MasterDeps.monotonic). */
  private elapsed(): number {
    return this.deps.monotonic?.() ?? this.deps.now();
  }

  /** Whether batches are waiting for replication. */
  get busy(): boolean {
    return this.running !== null || this.open !== null;
  }

  /**
   * Orders messages (each with its id) and resolves with their channelSerials once they
   * are replicated and broadcast. A duplicate resolves with its original serial.
   */
  publish(messages: Message[]): Promise<string[]> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (this.rate && !this.rate.take(messages.length, this.elapsed())) {
      return Promise.reject(AblyError.of('channelRateLimited', `channel accepts at most ${this.deps.maxPublishRate} messages per second`));
    }
    const { entries, serials } = this.state.accept(messages, this.deps.now());
    return this.enqueue(entries).then(() => serials);
  }

  /** A message of these, not ordered yet, that comes after a later one of its connection ordered in this stream (connection-order.ts), or null. */
  behindItsConnection(messages: readonly Message[]): Message | null {
    return this.state.connectionOrder.behind(messages, (m) => this.state.hasOrdered(m.id, m.connectionId));
  }

  /** Whether a message id (of that connection: dedupKey) has been ordered (and is still in the dedup window). */
  hasOrdered(id: string, connectionId?: string): boolean {
    return this.state.hasOrdered(id, connectionId);
  }

  /**
   * Orders presence operations of one connection hosted on `host`; resolves once they
   * are replicated and broadcast (an op that changes nothing resolves too).
   */
  presence(ops: PresenceMessage[], host: NodeId, since = 0): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    const { entries, hold, stale } = this.state.acceptPresence(ops, host, this.deps.now(), since);
    if (stale) this.deps.onPresenceStale?.();
    return this.enqueue(entries, hold ? [hold] : []);
  }

  /**
   * A connection's members stay (null) or leave at `leaveAt` (`atOnce`: now, whoever says
   * so), as `host` says, at the connection's version `since` there (PresenceSet.hold).
   */
  hold(connectionId: string, host: NodeId | null, leaveAt: number | null, atOnce = false, since = 0): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    const now = atOnce || (leaveAt !== null && leaveAt <= this.deps.now());
    const h = this.state.hold(connectionId, host, leaveAt, { now, since });
    if (h === 'stale') this.deps.onPresenceStale?.();
    if (h === null || h === 'stale') return Promise.resolve();
    const done = this.enqueue([], [h]);
    // A connection that closed or detached leaves now, not at the next housekeeping pass.
    if (now) this.leaveDue();
    return done;
  }

  /** Members of connections hosted on a node that died leave after the usual delay. */
  holdHost(host: NodeId, leaveAt: number): void {
    for (const c of this.state.presence.connectionsOn(host)) void this.hold(c, null, leaveAt).catch(() => undefined);
  }

  /** Housekeeping: members whose connection did not come back leave now (returned: who left, for the log). */
  leaveDue(): string[] {
    if (this.stopped) return [];
    const entries = this.state.leaveDue(this.deps.now());
    if (entries.length) void this.enqueue(entries).catch(() => undefined);
    return entries.map((e) => `${e.presence.clientId} ${e.presence.connectionId} (${e.host})`);
  }

  /** Presence members as of the last broadcast. */
  members(filter: { clientId?: string; connectionId?: string } = {}): PresenceMessage[] {
    return this.view.list(filter);
  }

  /**
   * Queues entries (already in the state) for replication and broadcast; `lost`: another
   * region's messages were lost before them (said with them, and kept with the history).
   */
  enqueue(entries: LogEntry[], holds: PresenceHold[] = [], lost: Omit<Gap, 'serial'> | null = null): Promise<void> {
    if (this.stopped) return Promise.reject(this.stopped);
    let batch = this.open ?? this.openBatch();
    if (lost) {
      // A gap must be signalled before these entries and after those already queued.
      if (batch.entries.length) {
        this.flushNow(batch);
        batch = this.openBatch();
      }
      const gap = { serial: entries.length ? entries[0]!.serial : this.state.serial + 1, ...lost };
      batch.gap = gap;
      // Kept with the history too (replicated with this batch): a node or a client that
      // catches up across this point from history is told as well (gaps.ts).
      this.state.gaps.add(gap);
    }
    for (const e of entries) batch.entries.push(e);
    for (const h of holds) batch.holds.push(h);
    return new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** The channel's status as its master tells it (`GET /channels/{name}`): this node is `self`. */
  status(self: NodeId, replica: NodeId | null): ChannelStatus {
    const p = this.position();
    return {
      channel: this.key,
      master: self,
      replica,
      epoch: p.epoch,
      serial: p.serial,
      channelSerial: p.channelSerial,
      retained: this.state.retained,
      subscriberNodes: [...this.subscribers],
      remoteInterest: this.state.interest.remoteList,
      presenceHosts: this.state.presence.hostCounts(),
    };
  }

  /**
   * Whether a subscribing node has seen this epoch further than this master holds
   * (registry.restartBehind). Held, not published: what is being replicated counts.
   */
  behindSeen(seen: { epoch: string; serial: number }): boolean {
    return seen.epoch === this.state.epoch && seen.serial > this.state.serial;
  }

  /**
   * Resolves once this master has published as far as a subscribing node has seen its
   * epoch. The replica broadcasts a batch before this master hears back: a subscribe
   * answered with a position behind what the node has would look like lost state to it,
   * and a read up to the node's position (a resume's range, a rewind) that stopped short
   * would leave the entries in between to neither the read nor the node's stream.
   * Resolves false if that takes longer than `timeoutMs` (the replica's replies lost
   * again and again: the asker tries again later); rejects if this master stops first.
   */
  async publishedTo(seen: { epoch: string; serial: number }, timeoutMs = PUBLISHED_WAIT_MS): Promise<boolean> {
    const behind = () => seen.epoch === this.state.epoch && seen.serial > this.published.serial && seen.serial <= this.state.serial;
    if (!behind()) return true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      while (behind()) {
        if (this.stopped) throw this.stopped;
        const inFlight = this.running;
        if (!inFlight) return true;
        if ((await Promise.race([inFlight.then(() => true), late])) === false) return false;
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** When this region's current interest began (ms; meaningful while there are subscribers). */
  get interestBegan(): number {
    return this.interestSince;
  }

  /** Tells the globalmaster where this channel's interest stands (on install, and when asked). */
  reportInterest(): void {
    this.deps.interestChanged?.(this.key, this.subscribers.size > 0, this.interestSince);
  }

  private openBatch(): Batch {
    const batch: Batch = { entries: [], holds: [], gap: null, waiters: [] };
    this.open = batch;
    // Everything published in this turn of the event loop goes out as one batch: one
    // replication round trip and one broadcast per node for all of it.
    setImmediate(() => this.flush(batch));
    return batch;
  }

  private flushNow(batch: Batch): void {
    this.flush(batch);
  }

  private flush(batch: Batch): void {
    if (this.open !== batch) return; // already flushed
    this.open = null;
    this.waiting.push(batch);
    if (!this.running) this.next();
  }

  /** Starts the next replication: every batch waiting, merged (group commit). */
  private next(): void {
    const group = this.takeGroup();
    this.running = group ? this.commit(group).then(() => this.next()) : null;
  }

  /**
   * The waiting batches that can go out as one: in order, up to MAX_MERGED_ENTRIES
   * entries and MAX_MERGED_BYTES, and only the first may carry a discontinuity (it comes
   * before its entries).
   */
  private takeGroup(): Batch | null {
    const first = this.waiting.shift();
    if (!first) return null;
    let n = first.entries.length;
    let bytes = this.waiting.length ? batchBytes(first) : 0;
    while (this.waiting.length) {
      const b = this.waiting[0]!;
      if (b.gap || n + b.entries.length > MAX_MERGED_ENTRIES) break;
      const more = batchBytes(b);
      if (bytes + more > MAX_MERGED_BYTES) break;
      this.waiting.shift();
      n += b.entries.length;
      bytes += more;
      for (const e of b.entries) first.entries.push(e);
      for (const h of b.holds) first.holds.push(h);
      for (const w of b.waiters) first.waiters.push(w);
    }
    return first;
  }

  /** Replicates a batch, then broadcasts it and settles its publishers; never rejects. */
  private async commit(batch: Batch): Promise<void> {
    try {
      if (this.stopped) throw this.stopped;
      // The log holds the batch encoded already: the replica and every subscribing node get those bytes.
      this.state.shareEncoded(batch.entries);
      // Other regions want the channel: the replica sends the batch on once it holds it.
      const forward = this.forwardingRegion() !== null;
      this.replicaForwards = forward;
      // A loss said with no entry to go with it is said again with the first entry after it:
      // a node that subscribed again in between, at the same position, hears it there.
      const first = batch.entries[0];
      const said = batch.gap ?? (first && this.state.gaps.at(first.serial)) ?? null;
      const asked = this.subscribing.askReplica(this.deps.self, batch.entries, said);
      let done = NOT_BY_REPLICA;
      // (Also with nothing but changes no entry shows to carry: unreplicated.ts.)
      if (batch.entries.length || batch.holds.length || hasUnreplicated(this.state)) {
        done = await this.deps.replicate(this, batch.entries, batch.holds, forward, asked);
      }
      if (this.stopped) throw this.stopped;
      this.broadcast(batch.entries, said, done.forwarded, done.broadcast ? asked : null);
      for (const w of batch.waiters) w.resolve();
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
    }
  }

  /**
   * `forwarded`: the replica already sent these entries on to other regions; `sent`: it
   * broadcast them to these nodes.
   */
  private broadcast(entries: LogEntry[], said: Said | null, forwarded: boolean, sent: ReplicaBroadcast | null): void {
    if (entries.length === 0 && !said) return;
    if (entries.length) {
      const last = entries[entries.length - 1]!;
      this.published = { serial: last.serial, channelSerial: last.channelSerial };
    }
    for (const e of entries) if (e.kind === 'presence') this.view.apply(e.presence, e.host);
    const msg = broadcastOf(this.key, this.state.epoch, entries, said);
    // This node, and those the replica was not asked to tell (SubscribingNodes.masterTells).
    for (const node of this.subscribers) if (this.subscribing.masterTells(node, sent)) this.deps.sendBroadcast(node, msg);
    this.deps.onBroadcast?.(this.subscribers.size, entries.length);
    // Asked again here: interest that began during the replication sends this batch too.
    const region = forwarded ? null : this.forwardingRegion();
    if (region) {
      const batch = ownEntriesBatch(this.key, region, this.state.epoch, entries);
      if (batch) this.deps.toRegions!(batch, null);
    }
  }

  /** This region's name when other regions want the channel and batches can go to them; else null. */
  private forwardingRegion(): string | null {
    return this.state.interest.remote.size > 0 && this.deps.toRegions && this.deps.region ? this.deps.region : null;
  }

  /** A node subscribes: it gets every broadcast after the returned position (and the presence set there). */
  subscribe(node: NodeId): { epoch: string; serial: number; channelSerial: string; presence: PresenceMessage[]; term: number } {
    const first = this.subscribers.size === 0;
    if (this.subscribing.add(node) && first) {
      if (this.interestSince === 0 || this.elapsed() > this.inheritUntil) this.interestChangedTo(this.deps.now());
      this.inheritUntil = 0;
      this.reportInterest();
      this.lifecycle?.reconcile();
    }
    return { ...this.position(), presence: this.view.list(), term: this.state.term };
  }

  /** A subscriber it had before it moved here (a handover's or a claim's copy): no interest change, no subscribe counted. */
  restoreSubscriber(node: NodeId): void {
    this.subscribing.restore(node);
  }

  unsubscribe(node: NodeId): void {
    if (!this.subscribing.delete(node) || this.subscribers.size > 0) return;
    this.interestChangedTo(0);
    this.reportInterest();
    this.lifecycle?.reconcile();
  }

  /**
   * Interest here began (`at`) or ended (0). With other regions about, the replica hears
   * of it at once (a replication with nothing else), so a master it becomes asks them for
   * their streams from when interest really began.
   */
  private interestChangedTo(at: number): void {
    this.state.setInterest(at);
    this.replicateSoon();
  }

  /** With other regions about, a replication with nothing but changes no entry shows (unreplicated.ts). */
  private replicateSoon(): void {
    if (this.deps.toRegions && !this.stopped) void this.enqueue([]).catch(() => undefined);
  }

  /** Entries in (after, upto] of this epoch, never beyond what was broadcast; null if expired, 'over' if more than `maxBytes`. */
  range(after: number, upto: number): LogEntry[] | null;
  range(after: number, upto: number, maxBytes: number): LogEntry[] | null | 'over';
  range(after: number, upto: number, maxBytes = Infinity): LogEntry[] | null | 'over' {
    return this.state.range(after, Math.min(upto, this.published.serial), maxBytes);
  }

  /** Where subscribers were told of lost messages in (after, upto], never beyond what was broadcast. */
  gapsWithin(after: number, upto: number): Gap[] {
    return this.state.gaps.within(after, Math.min(upto, this.published.serial));
  }

  /**
   * A page of this epoch's history. A cursor or untilAttach point of another epoch points
   * into a history that was lost (both copies, the channel started again): refused with
   * 90005, which the reader sees, rather than an empty last page that says the history ends there.
   */
  history(q: HistoryQuery): { items: LogEntry[]; more: boolean } {
    if (q.epoch !== undefined && q.epoch !== this.state.epoch) {
      const why = `the channel's history was lost and started again (epoch ${this.state.epoch}) since this cursor or attach point (epoch ${q.epoch}) was given: what it pointed into is gone; read again from the first page`;
      throw AblyError.of('channelNoMatchingEpoch', why);
    }
    const until = q.untilSerial === undefined ? this.published.serial : Math.min(q.untilSerial, this.published.serial);
    return this.state.query({ ...q, untilSerial: until });
  }

  /**
   * Stops acting as master: batches not yet replicated fail with `reason` (their
   * publishers retry at the new master, which dedups what it already has). Resolves
   * once no replication is in flight, so the state can then be handed over whole.
   */
  async stop(reason: AblyError): Promise<void> {
    this.stopped = reason;
    this.deps.subscribersChanged?.();
    this.lifecycle?.stop();
    const unsent = this.open ? [this.open, ...this.waiting] : [...this.waiting];
    this.open = null;
    this.waiting.length = 0;
    for (const b of unsent) for (const w of b.waiters) w.reject(reason);
    await this.running;
  }

  get isStopped(): boolean {
    return this.stopped !== null;
  }
}
