/**
 * The state of one channel in one region, as its master (and replica) hold it: epoch,
 * serial counter, retained stream, deduplication window, and how far the stream has got
 * in each origin region's order. Pure: every method that needs time takes `now`.
 *
 * The master changes it with `accept` (new messages) and ships the resulting entries
 * to its replica, which applies them with `applyEntries`; both end in the same state.
 * `snapshot`/`restore` move it whole (handoff, new replica).
 */
import { AblyError } from '../errors.js';
import { dedupKey, type Message, type PresenceMessage } from '../protocol/message.js';
import { formatSerial, newEpoch, type OriginPosition } from '../protocol/serial.js';
import { MessageViews } from './message-views.js';
import { DedupWindow } from './dedup.js';
import { ChannelInterest, NOTHING_ANNOUNCED, nothingAnnounced, sameAnnounced } from './channel-interest.js';
import { Gaps } from './gaps.js';
import { ConnectionOrder, type MessageIds } from './connection-order.js';
import { OwnEntries, type OwnAnswer } from './own-entries.js';
import { vectorRange, type VectorAnswer } from './vector-range.js';
import { OriginPositions } from './origin-positions.js';
import { dedupSerial, type ChannelKey, type LogEntry, type MessageEntry, type PresenceEntry } from './entry.js';
import { ChannelLog, type HistoryQuery } from './log.js';
import { entryListCodec, type EntryHead } from '../transport/entry-codec.js';
import { SnapshotDedup } from '../transport/dedup-list.js';
import { knownElements, rememberLogEntries, SnapshotEntries } from '../transport/entry-lists.js';
import { PresenceSet, remoteHost, remoteLeave, synthesizedLeave, type HoldHow } from './presence.js';
import type { ChannelSettings } from './settings.js';
import type { ChannelPositionInfo, ChannelSnapshot, PresenceHold } from './snapshot.js';

export type { ChannelPositionInfo, ChannelSnapshot, PresenceHold } from './snapshot.js';
export type { ChannelSettings } from './settings.js';

export class ChannelState {
  private readonly log: ChannelLog;
  /** Its messages as they stand, and annotated: their versions and annotations (message-views.ts). */
  private readonly views: MessageViews;
  private readonly dedup = new DedupWindow();
  private localSeq: number;
  /** How far this stream has got in each other region's order (origin-positions.ts). */
  readonly origins = new OriginPositions();
  /** When this region's interest began, and other regions' as the master knows them (channel-interest.ts). */
  readonly interest = new ChannelInterest();
  /** Where subscribers were told that another region's messages were lost (gaps.ts). */
  readonly gaps = new Gaps();
  private lastStoredAt: number;
  private lastChannelSerial: string;
  private termNo = 0;
  private presenceSet = new PresenceSet();
  /** Where this region's own entries are, by their local seq (own-entries.ts). */
  private readonly own = new OwnEntries();
  /** Each realtime connection's highest msgSerial ordered in this stream (connection-order.ts). */
  readonly connectionOrder = new ConnectionOrder();

  private constructor(
    readonly key: ChannelKey,
    readonly epoch: string,
    readonly settings: ChannelSettings,
    base: number,
    localSeq: number,
    lastStoredAt: number,
  ) {
    this.log = new ChannelLog(base);
    this.views = new MessageViews(this.log);
    this.localSeq = localSeq;
    this.lastStoredAt = lastStoredAt;
    this.lastChannelSerial = this.formatAt(base);
  }

  /**
   * A new epoch (a new channel, a claim that found no copy, a restart after lost state).
   * Its mastership terms start at the time (ms), or at `lost` (the terms of the epoch it
   * replaces) if that is higher. Terms grow by one per change of master, so an epoch made
   * later ranks above every copy of one made before it, also one a claim could not ask (a
   * node out of reach, back later with an old replica or stale copy): such a copy never
   * wins a later claim, or keeps a handoff of the new epoch out (it did while terms began at 0).
   */
  static fresh(key: ChannelKey, settings: ChannelSettings, now: number, epoch = newEpoch(), lost = 0): ChannelState {
    const st = new ChannelState(key, epoch, settings, 0, 0, now);
    st.termNo = Math.max(lost, now);
    return st;
  }

  static restore(s: ChannelSnapshot, settings: ChannelSettings): ChannelState {
    const st = new ChannelState(s.key, s.epoch, settings, s.base, s.localSeq, s.lastStoredAt);
    st.termNo = s.term;
    st.presenceSet = PresenceSet.restore(s.presence);
    for (const o of s.origins) st.origins.set(o.region, o);
    st.interest.apply({ interestSince: s.interestSince ?? 0, remoteInterest: s.remoteInterest ?? [], ...(s.lifecycle ? { lifecycle: s.lifecycle } : {}) });
    st.origins.applyReach(s.reach ?? []);
    st.gaps.apply(s.gaps ?? []);
    s.dedup.addTo(st.dedup);
    const bytes = s.entries.encoded();
    const read = entryListCodec.scanLogEntryList(bytes, (h) => st.recordHead(h, bytes));
    if (read.count !== s.entries.length) throw new Error(`snapshot entries do not match their count (${read.count} of ${s.entries.length})`);
    st.lastChannelSerial = read.count ? read.lastChannelSerial : st.formatAt(s.base);
    return st;
  }

  /** The whole state; without `data`, only where it stands (no entries, dedup window or presence). */
  snapshot(data = true): ChannelSnapshot {
    const reach = this.origins.reachList();
    return {
      key: this.key,
      epoch: this.epoch,
      term: this.termNo,
      base: this.log.baseSerial,
      localSeq: this.localSeq,
      origins: [...this.origins.values()],
      ...(this.interest.since ? { interestSince: this.interest.since } : {}),
      ...(reach.length ? { reach } : {}),
      ...(this.interest.remote.size ? { remoteInterest: this.interest.remoteList } : {}),
      ...(sameAnnounced(this.interest.announced, NOTHING_ANNOUNCED) ? {} : { lifecycle: this.interest.announced }),
      ...(this.gaps.all().length ? { gaps: this.gaps.all() } : {}),
      lastStoredAt: this.lastStoredAt,
      entries: data && this.log.size ? SnapshotEntries.fromBytes(this.log.encoded(this.log.baseSerial, this.log.lastSerial), this.log.size) : SnapshotEntries.none,
      dedup: data ? SnapshotDedup.ofWindow(this.dedup) : SnapshotDedup.none,
      presence: data ? this.presenceSet.snapshot() : [],
    };
  }

  /** This region's interest began (`at`) or ended (0: then no stream need reach back for clients that came). */
  setInterest(at: number): void {
    this.interest.set(at);
    if (at === 0) this.origins.forgetReach();
  }

  get presence(): PresenceSet {
    return this.presenceSet;
  }

  get serial(): number {
    return this.log.lastSerial;
  }

  get term(): number {
    return this.termNo;
  }

  /** A node becomes master with this state: a new mastership generation. */
  nextTerm(): void {
    this.termNo++;
  }

  position(): ChannelPositionInfo {
    return { epoch: this.epoch, serial: this.log.lastSerial, channelSerial: this.lastChannelSerial };
  }

  /** The channelSerial of `serial`, with this region's own seq at `localSeq` (now, or the next entry's). */
  private formatAt(serial: number, localSeq = this.localSeq): string {
    const origins: OriginPosition[] = [];
    if (this.origins.size > 0) {
      origins.push({ region: this.settings.region, epoch: this.epoch, seq: localSeq });
      for (const o of this.origins.values()) origins.push(o);
    }
    return formatSerial({ region: this.settings.region, epoch: this.epoch, serial, origins });
  }

  /** storedAt never goes backwards: history by time and by serial agree, and so do message serials' times and seqs. */
  private stamp(now: number): number {
    if (now > this.lastStoredAt) this.lastStoredAt = now;
    return this.lastStoredAt;
  }

  /**
   * Orders messages first accepted in this region (each with its id), giving each its
   * serial for good (to a copy of one given one before: a stopped master may hold it), or
   * a change its version (versions.ts; all are checked before any is stored, and each
   * version's serial comes after its message's latest). Returns the new entries (none
   * for duplicates) and each one's serial (a change's: its version's).
   */
  accept(messages: readonly Message[], now: number): { entries: MessageEntry[]; serials: string[] } {
    const entries: MessageEntry[] = [];
    const serials: string[] = [];
    const max = this.settings.maxMessageSize;
    const storedAt = this.stamp(now);
    const isNew = (m: Message) => this.orderedAs(m) === undefined;
    const before = this.views.check(messages, isNew, storedAt, max);
    const summarized = this.views.summarized(messages.filter(isNew));
    for (const message of messages) {
      const dup = this.orderedAs(message);
      if (dup !== undefined) {
        serials.push(dup);
        continue;
      }
      // The seq is taken once the log has the entry: local seqs stay contiguous.
      const seq = this.localSeq + 1;
      const serial = this.log.lastSerial + 1;
      const origin: OriginPosition = { region: this.settings.region, epoch: this.epoch, seq };
      const channelSerial = this.formatAt(serial, seq);
      const m = this.views.made(message, storedAt, origin, max, before, summarized.has(message));
      const own = m.annotation?.serial ?? m.version?.serial ?? m.serial!;
      const e: MessageEntry = { kind: 'message', serial, channelSerial, storedAt, origin, message: m };
      this.record(e, undefined, true);
      this.localSeq = seq;
      this.lastChannelSerial = channelSerial;
      entries.push(e);
      serials.push(own);
    }
    // The count cap holds at all times, not only at the next housekeeping pass.
    if (entries.length) this.trim(storedAt);
    return { entries, serials };
  }

  /**
   * Appends an entry, puts its id in the dedup window, and notes it if this region's own.
   * The window takes the id of every message entry, and of every presence event of this
   * region (what this region's clients may name: a publish may have to follow one), one
   * slot each, and nothing else, on the master and on its replica alike: the two windows
   * hold the same slots, so where the byte cap binds they drop the same ids. (A snapshot
   * lists each id once: a client's presence op repeated under the same id, which makes a
   * second event, holds one slot more on the node that applied it than on one restored
   * from a snapshot since.) A message's slot holds its serial (a repeat's ACK gives it).
   * `looked`: its id has just been looked up and not found.
   */
  private record(e: LogEntry, element?: Uint8Array, looked = false): void {
    this.log.append(e, element);
    if (e.kind === 'message') {
      this.dedup[looked ? 'addNew' : 'add'](dedupKey(e.message.id, e.message.connectionId), dedupSerial(e), e.storedAt);
      this.views.note(e);
    } else if (e.origin.region === this.settings.region) this.dedup.add(dedupKey(e.presence.id, e.presence.connectionId), e.channelSerial, e.storedAt);
    this.noteOwn(e.origin.region, e.serial, e.origin.seq, e.kind === 'message' ? e.message : null);
  }

  /** As `record`, for an entry of `list` read only as far as that needs (a restored snapshot's). */
  private recordHead(h: EntryHead, list: Buffer): void {
    this.log.appendElement(h.serial, h.storedAt, h.kind, list.subarray(h.start, h.end));
    this.views.noteHead(h);
    this.noteOwn(h.region, h.serial, h.seq, h.kind !== 'presence' ? h : null);
  }

  /** An entry just appended, if this region's own: indexed by its local seq, and its message's connection order noted. */
  private noteOwn(region: string, serial: number, seq: number, message: MessageIds | null): void {
    if (region !== this.settings.region) return;
    this.own.add(serial, seq);
    if (message) this.connectionOrder.note(message);
  }

  /** Drops what retention no longer covers, from the log and the local index. */
  private trim(now: number): void {
    this.log.expire(now, this.settings.historyMs, this.settings.maxMessages, this.settings.maxBytes);
    const base = this.log.baseSerial;
    this.gaps.trim(base);
    this.own.trim(base);
    this.views.trim(base);
  }

  // ---- other regions --------------------------------------------------------------------

  /** This region's seq so far (its own messages and presence events). */
  get seq(): number {
    return this.localSeq;
  }

  /**
   * This region's own entries after `afterSeq` (up to `limit`, none beyond serial `upto`),
   * for another region that missed them. `gap`: history no longer reaches back that far
   * (or the epoch is not this one), so some are lost; `startSeq` is the seq before the
   * first entry returned.
   */
  localAfter(epoch: string, afterSeq: number, limit: number, upto: number, maxBytes = Infinity): OwnAnswer {
    const sameEpoch = epoch === '' || epoch === this.epoch;
    return this.own.after(this.log, sameEpoch ? afterSeq : null, this.localSeq, limit, upto, maxBytes);
  }

  /**
   * This region's own entries stored since `since` (ms), up to serial `upto`: the oldest
   * `limit` of them, in at most `maxBytes` (`more`: others follow, for `localAfter`).
   * `gap`: retention has dropped entries that may have been stored since then.
   */
  localSince(since: number, upto: number, limit: number, maxBytes = Infinity): OwnAnswer & { more: boolean } {
    return this.own.storedSince(this.log, since, upto, limit, maxBytes, this.localSeq);
  }

  /** Debug switch: new interests get no start (ChannelSettings.debugSkipStart). */
  get skipsStarts(): boolean {
    return this.settings.debugSkipStart === true;
  }

  /** What this stream lacks behind `region`'s head (OriginPositions.behind); nothing under the debug switch. */
  behindHead(region: string, head: { epoch: string; seq: number }): { epoch: string; afterSeq: number } | 'start' | null {
    return this.settings.debugSkipReplay ? null : this.origins.behind(region, head);
  }

  /** This region's own seq reached at serial `serial` (at the published serial: the head of its stream to other regions). */
  ownSeqAt(serial: number): number {
    return this.own.seqAt(serial, this.localSeq);
  }

  /**
   * Stores messages another region accepted, in its order: each gets a serial here, its
   * origin position is kept, and one already seen (by origin seq, or by message id) is
   * skipped. A batch that does not follow on from what this stream has from that region
   * is refused: `replayAfter` says where the origin must resend from. `discontinuity`:
   * messages were lost in between (the origin's history did not reach back, or its
   * channel state restarted). `members`, sent with a start: the origin's own presence
   * members, which a stream begun or begun again here takes as that region's set
   * (syncMembersOf), since what the stream carried of them before may be lost.
   */
  ingest(
    b: { region: string; epoch: string; startSeq?: number; gapBefore: boolean; entries: readonly LogEntry[]; members?: readonly PresenceMessage[] },
    now: number,
  ): { entries: LogEntry[]; seq: number; replayAfter: number | null; discontinuity: boolean; needStart?: true; lostBefore?: number } {
    const pos = this.origins.get(b.region);
    // Clients here had seen that region's stream: in this epoch of it (reach back to there), or only in others.
    const reachBack = pos ? undefined : this.origins.reachBackOf(b.region, b.epoch);
    const reachOther = !pos && !reachBack && this.origins.reachBackOf(b.region) !== undefined;
    let discontinuity = b.gapBefore;
    /** The stream begins here, or begins again after a loss: its members are taken afresh. */
    let begins = false;
    let last: number;
    if (pos && pos.epoch === b.epoch) {
      last = pos.seq;
      const first = b.entries.find((e) => e.origin.seq > last);
      const start = b.startSeq ?? (first ? first.origin.seq - 1 : last);
      // A hole before the batch, or seqs given again to other messages (forked): asked for again from here.
      const hole = first && first.origin.seq > last + 1 && !b.gapBefore && start > last;
      if (!this.settings.debugSkipReplay && (hole || this.origins.forked(b.region, b.entries, last, (m) => this.orderedAs(m) !== undefined))) {
        return { entries: [], seq: last, replayAfter: last, discontinuity: false };
      }
      if (b.gapBefore) {
        // The origin's history no longer held what came before `start`: the stream moves on
        // to it (entries or none), and the loss is signalled only where it skips something.
        discontinuity = start > last;
        if (discontinuity) {
          begins = true;
          last = this.origins.jumpTo(b.region, b.epoch, start);
        }
      }
    } else if (b.startSeq === undefined && !this.settings.debugSkipReplay) {
      // A live batch of a stream not begun here (its start lost or on its way): taken as the
      // beginning, the start's earlier messages would be skipped. Or of another epoch: the
      // origin restarted (its start says from where), or an old epoch's batch held up (a
      // cut-off globalmaster's retries) was delivered after newer ones (chaos seed 1120).
      return { entries: [], seq: 0, replayAfter: null, discontinuity: false, needStart: true };
    } else if (reachBack && b.startSeq !== undefined && b.startSeq > reachBack.seq && !b.gapBefore && !this.settings.debugSkipReplay) {
      // A start that begins after what a client that came from there has seen: from that.
      return { entries: [], seq: 0, replayAfter: reachBack.seq, discontinuity: false };
    } else {
      // A new stream from that region (first contact, or its state restarted; also since
      // what a client that came from there saw).
      if (pos || reachOther) discontinuity = true;
      begins = true;
      last = this.origins.jumpTo(b.region, b.epoch, b.startSeq ?? (b.entries[0] ? b.entries[0].origin.seq - 1 : 0));
    }
    const storedAt = this.stamp(now);
    const out: LogEntry[] = [];
    if (begins && b.members) this.syncMembersOf(b.region, b.members, { region: b.region, epoch: b.epoch, seq: last }, storedAt, out);
    const synced = out.length;
    // Of the messages it will store (past `last`, not held already), each annotated message's last annotation is summed up.
    const fresh: Message[] = [];
    for (let i = 0, l = last; i < b.entries.length; i++) {
      const e = b.entries[i]!;
      if (e.origin.seq <= l) continue;
      l = e.origin.seq;
      if (e.kind === 'message' && this.orderedAs(e.message) === undefined) fresh.push(e.message);
    }
    const summarized = this.views.summarized(fresh);
    for (const e of b.entries) {
      if (e.origin.seq <= last) continue;
      last = e.origin.seq;
      const origin: OriginPosition = { region: b.region, epoch: b.epoch, seq: e.origin.seq };
      this.origins.set(b.region, origin);
      if (e.kind === 'message' && this.orderedAs(e.message) !== undefined) continue;
      if (e.kind === 'presence') {
        out.push(this.appendRemote(e.presence, b.region, origin, storedAt));
        continue;
      }
      const serial = this.log.lastSerial + 1;
      const channelSerial = this.formatAt(serial);
      const entry: LogEntry = { kind: 'message', serial, channelSerial, storedAt, origin, message: this.views.arrived(e.message, summarized.has(e.message)) };
      this.record(entry, undefined, true);
      this.lastChannelSerial = channelSerial;
      out.push(entry);
    }
    if (out.length) this.trim(storedAt);
    if (this.origins.takeFork(b.region)) discontinuity = true;
    // The position moved with no entry to show it (a start or an answer with none, or
    // the last entries dropped as already held): the replica is told (OriginPositions.takeMoved).
    const reached = this.origins.get(b.region);
    if (reached !== pos && reached !== out[out.length - 1]?.origin) this.origins.markMoved(b.region);
    // Where a loss is said: just before the first of the origin's entries stored after it
    // (the members taken at the start are at the start's own seq), or where the stream is.
    const lostBefore = out.length > synced ? out[synced]!.origin.seq - 1 : last;
    return { entries: out, seq: last, replayAfter: null, discontinuity, ...(discontinuity ? { lostBefore } : {}) };
  }

  /**
   * Another region's members at the (re)start of its stream here, as its master held them:
   * those of that region this set holds that it no longer has leave, the others enter (or
   * update; unchanged ones say nothing). The stream's entries after the start apply on top,
   * and what they repeat of this changes nothing. Entries go to `out`, at `origin` (the
   * stream's start).
   */
  private syncMembersOf(region: string, members: readonly PresenceMessage[], origin: OriginPosition, storedAt: number, out: LogEntry[]): void {
    const append = (presence: PresenceMessage) => out.push(this.appendRemote(presence, region, origin, storedAt));
    const { gone, changed } = this.presenceSet.differences(remoteHost(region), members);
    // In the member's region's clock, not ours (remoteLeave).
    for (const m of gone) append(remoteLeave(m, `leave:${this.epoch}:${this.log.lastSerial + 1}:0`));
    for (const ev of changed) append(ev);
  }

  /** Stores another region's presence event at `origin`, under its region's host (remoteHost): only that region removes the member. */
  private appendRemote(presence: PresenceMessage, region: string, origin: OriginPosition, storedAt: number): PresenceEntry {
    const serial = this.log.lastSerial + 1;
    const channelSerial = this.formatAt(serial);
    const entry: PresenceEntry = { kind: 'presence', serial, channelSerial, storedAt, origin, presence, host: remoteHost(region) };
    this.presenceSet.apply(presence, entry.host);
    this.record(entry);
    this.lastChannelSerial = channelSerial;
    return entry;
  }

  /**
   * For a client that comes from another region (`from`) with a channelSerial of that
   * region's stream: the entries here (up to serial `upto`) it has not seen, by each
   * origin's own order, and what it cannot be given (vector-range.ts).
   */
  vectorRange(origins: readonly OriginPosition[], upto: number, from?: string, now = Date.now()): VectorAnswer {
    const r = vectorRange(
      {
        region: this.settings.region,
        epoch: this.epoch,
        localSeq: this.localSeq,
        position: (region) => (region === this.settings.region ? this.localSeq : this.origins.get(region)?.seq),
        carried: [...this.origins.values()].map((o) => o.region),
        meets: (o) => this.origins.meets(o),
        entries: (to) => this.log.range(this.log.baseSerial, to) ?? [],
        interestSince: (region) => this.interest.earliestSince(region, now),
        ownInterestSince: this.interest.since,
        ownDroppedSince: (ms) => this.localSince(ms, upto, 0).gap,
        droppedSince: (ms) => this.log.droppedUpTo >= ms,
        gaps: (to) => this.gaps.within(0, to),
      },
      origins,
      upto,
      from,
    );
    // Resumed: where this stream has nothing from a region yet (no interest, or out of reach), it reaches back for the client.
    if (r.gap === null) this.reachBackFor(origins);
    return r;
  }

  /** Clients here had seen other regions' streams up to `origins`: a stream not yet begun reaches back to them (OriginPositions). Whether that changed anything. */
  reachBackFor(origins: readonly OriginPosition[]): boolean {
    return origins.filter((o) => o.region !== this.settings.region && this.origins.reachBackTo(o)).length > 0;
  }

  /**
   * Orders presence operations of one connection hosted on `host`, at its version there
   * (`since`, PresenceMember.since). Applied by state: a repeat of the current ENTER is a
   * no-op, a re-ENTER after a LEAVE enters again. An op's id is remembered (a publish may
   * be ordered after it) when it makes an entry; a no-op's by the op it repeats, unless
   * that left the window or it is a LEAVE of no member (a publish naming it is told to
   * retry). Any op cancels the connection's pending leave (a hold to replicate). Ops from
   * a node the connection has left change nothing: unacknowledged, they come again from
   * where it resumed (RTN19a); late, they could undo a newer op or node's leave. 91003
   * past the member limit.
   */
  acceptPresence(ops: readonly PresenceMessage[], host: string, now: number, since = 0): { entries: PresenceEntry[]; hold: PresenceHold | null; stale?: true } {
    const connectionId = ops[0]?.connectionId;
    if (connectionId === undefined) return { entries: [], hold: null };
    const max = this.settings.maxPresenceMembers ?? Number.MAX_SAFE_INTEGER;
    // All of them or none (nothing changed yet): Ably applies a ProtocolMessage whole.
    if (this.presenceSet.size + ops.length > max && this.presenceSet.sizeAfter(ops) > Math.max(max, this.presenceSet.size)) {
      throw AblyError.of('presenceMemberLimit', `channel has ${max} presence members`);
    }
    const held = this.presenceSet.hold(connectionId, host, null, { since });
    if (held === 'stale') return { entries: [], hold: null, stale: true };
    const storedAt = this.stamp(now);
    const entries: PresenceEntry[] = [];
    for (const op of ops) {
      const ev = this.presenceSet.decide(op);
      if (ev) entries.push(this.appendPresence(ev, host, storedAt, since));
    }
    if (entries.length) this.trim(storedAt);
    // Replicated after the entries, so the replica's members they entered get the version too.
    const hold = held === 'changed' || (entries.length > 0 && since > 0) ? { connectionId, host, leaveAt: null, ...(since ? { since } : {}), after: this.log.lastSerial } : null;
    return { entries, hold };
  }

  private appendPresence(ev: PresenceMessage, host: string, storedAt: number, since = 0): PresenceEntry {
    const seq = this.localSeq + 1;
    const serial = this.log.lastSerial + 1;
    const origin: OriginPosition = { region: this.settings.region, epoch: this.epoch, seq };
    const channelSerial = this.formatAt(serial, seq);
    const e: PresenceEntry = { kind: 'presence', serial, channelSerial, storedAt, origin, presence: ev, host };
    this.record(e);
    this.localSeq = seq;
    this.presenceSet.apply(ev, host, since);
    this.lastChannelSerial = channelSerial;
    return e;
  }

  /** Sets when a connection's members leave (null: they stay; PresenceSet.hold). Returns the hold if it changed anything, `stale` if said by a node the connection left. */
  hold(connectionId: string, host: string | null, leaveAt: number | null, how: HoldHow = {}): PresenceHold | 'stale' | null {
    const r = this.presenceSet.hold(connectionId, host, leaveAt, how);
    return r === 'changed' ? { connectionId, host, leaveAt, ...(how.since ? { since: how.since } : {}), after: this.log.lastSerial } : r === 'stale' ? r : null;
  }

  /** LEAVE entries for members whose connection did not come back in time. */
  leaveDue(now: number): PresenceEntry[] {
    const due = this.presenceSet.due(now);
    if (due.length === 0) return [];
    const storedAt = this.stamp(now);
    const entries: PresenceEntry[] = [];
    for (const m of due) {
      const ev = synthesizedLeave(m.message, `leave:${this.epoch}:${this.log.lastSerial + 1}:0`, storedAt);
      entries.push(this.appendPresence(ev, m.host, storedAt));
    }
    this.trim(storedAt);
    return entries;
  }

  /**
   * Applies entries made by the master (replica side), and the presence holds it applied
   * among them, each after the entry it names (PresenceHold.after; without one, first). A
   * resent batch is harmless; a gap is an error the caller answers with a full snapshot.
   */
  applyEntries(entries: readonly LogEntry[], holds: readonly PresenceHold[] = []): void {
    const element = knownElements(entries);
    let h = this.presenceSet.mirror(holds, 0, this.log.lastSerial);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.serial <= this.log.lastSerial) continue;
      this.record(e, element?.(i));
      if (e.storedAt > this.lastStoredAt) this.lastStoredAt = e.storedAt;
      if (e.origin.region === this.settings.region) {
        if (e.origin.seq > this.localSeq) this.localSeq = e.origin.seq;
      } else {
        this.origins.set(e.origin.region, e.origin);
      }
      if (e.kind === 'presence') this.presenceSet.apply(e.presence, e.host);
      this.lastChannelSerial = e.channelSerial;
      if (h < holds.length) h = this.presenceSet.mirror(holds, h, e.serial);
    }
    this.presenceSet.mirror(holds, h);
    if (entries.length) this.trim(this.lastStoredAt);
  }

  /**
   * Remembers for the wire the bytes the log holds of these entries, when they are
   * consecutive entries of it, all still retained (a master's batch, a snapshot's
   * entries): they are sent as they are, not encoded again. Returns `entries`.
   */
  shareEncoded<T extends readonly LogEntry[]>(entries: T): T {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (!first || !last || last.serial - first.serial + 1 !== entries.length) return entries;
    if (first.serial <= this.log.baseSerial || last.serial > this.log.lastSerial) return entries;
    rememberLogEntries(entries, this.log.encoded(first.serial - 1, last.serial));
    return entries;
  }

  /** Ids of a lost epoch that nodes delivered (recent-ids.ts), into a new state's window (oldest first, as it keeps them): a repeat is answered with its serial there, until its age passes the window. */
  seedDedup(ids: readonly { key: string; serial: string; age?: number }[], now: number): void {
    const oldestFirst = [...ids].sort((a, b) => (b.age ?? 0) - (a.age ?? 0));
    for (const { key, serial, age } of oldestFirst) if (this.dedup.lookup(key) === undefined) this.dedup.add(key, serial, now - (age ?? 0));
  }

  /** Whether the message of this id (and connection: dedupKey) is ordered here. */
  hasOrdered(id: string, connectionId?: string): boolean {
    return this.dedup.lookup(dedupKey(id, connectionId)) !== undefined;
  }

  /** The serial a message was ordered under here (in the dedup window, by dedupKey), if it was. */
  private orderedAs(m: Message): string | undefined {
    return this.dedup.lookup(dedupKey(m.id, m.connectionId));
  }

  range(after: number, upto?: number): LogEntry[] | null;
  range(after: number, upto: number | undefined, maxBytes: number): LogEntry[] | null | 'over';
  range(after: number, upto?: number, maxBytes = Infinity): LogEntry[] | null | 'over' {
    return this.log.rangeWithin(after, upto, maxBytes);
  }

  /** History (messages as they stand, with their summaries: message-views.ts), or one message by its serial. */
  query(q: HistoryQuery): { items: LogEntry[]; more: boolean } {
    return this.views.query(q, () => this.log.query(q));
  }

  /** Oldest retained entry's serial minus one: resuming from below it leaves a gap. */
  get baseSerial(): number {
    return this.log.baseSerial;
  }

  /** Drops what retention no longer covers. */
  expire(now: number): void {
    this.trim(now);
    this.dedup.expire(now, this.settings.dedupMs, this.settings.maxDedupBytes);
  }

  /** Nothing retained: the state can be disposed once nobody is attached. */
  get empty(): boolean {
    return this.log.size === 0 && this.dedup.empty && this.presenceSet.size === 0 && nothingAnnounced(this.interest.announced);
  }

  get retained(): number {
    return this.log.size;
  }
}
