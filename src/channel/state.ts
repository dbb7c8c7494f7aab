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
import { PresenceAction } from '../protocol/actions.js';
import type { Message, PresenceMessage } from '../protocol/message.js';
import { formatSerial, newEpoch, type OriginPosition } from '../protocol/serial.js';
import { DedupWindow } from './dedup.js';
import type { ChannelKey, LogEntry, MessageEntry, PresenceEntry } from './entry.js';
import { ChannelLog, type HistoryQuery } from './log.js';
import { PresenceSet, type PresenceMember } from './presence.js';

export interface ChannelSettings {
  /** This region's name: serials are formatted with it. */
  region: string;
  historyMs: number;
  dedupMs: number;
  maxMessages: number;
  /** Presence members a channel may have (Ably: 200). */
  maxPresenceMembers?: number;
  /** How long members of a connection that dropped stay (ms; Ably: 15 s). */
  presenceLeaveDelayMs?: number;
  /** Messages per second one channel accepts (Ably: 50 by default). */
  maxPublishRate?: number;
}

export interface ChannelSnapshot {
  key: ChannelKey;
  epoch: string;
  /**
   * Mastership generation: raised each time a node becomes the channel's master. Of two
   * copies of one channel, the one of the higher term is the truth (a copy left behind by
   * an older master may hold entries that were never acknowledged and were superseded).
   */
  term: number;
  /** Serials ≤ base are gone from the log. */
  base: number;
  /** Last seq given to a message first accepted in this region. */
  localSeq: number;
  /** Positions in other regions' orders reached by this stream. */
  origins: OriginPosition[];
  lastStoredAt: number;
  entries: LogEntry[];
  dedup: { id: string; channelSerial: string; at: number }[];
  /** Set when the sender was the channel's master (its state is authoritative). */
  wasMaster?: boolean;
  /** Nodes subscribed at the master, so the new master broadcasts to them at once. */
  subscribers?: string[];
  /** The presence set (members outlive the history that entered them). */
  presence: PresenceMember[];
}

/** A change to when a connection's presence members leave (replicated with entries). */
export interface PresenceHold {
  connectionId: string;
  host: string | null;
  leaveAt: number | null;
}

export interface ChannelPositionInfo {
  epoch: string;
  serial: number;
  channelSerial: string;
}

export class ChannelState {
  private readonly log: ChannelLog;
  private readonly dedup = new DedupWindow();
  private localSeq: number;
  private readonly origins = new Map<string, OriginPosition>();
  private lastStoredAt: number;
  private lastChannelSerial: string;
  private termNo = 0;
  private presenceSet = new PresenceSet();

  private constructor(
    readonly key: ChannelKey,
    readonly epoch: string,
    private readonly settings: ChannelSettings,
    base: number,
    localSeq: number,
    lastStoredAt: number,
  ) {
    this.log = new ChannelLog(base);
    this.localSeq = localSeq;
    this.lastStoredAt = lastStoredAt;
    this.lastChannelSerial = this.formatAt(base);
  }

  static fresh(key: ChannelKey, settings: ChannelSettings, now: number, epoch = newEpoch()): ChannelState {
    return new ChannelState(key, epoch, settings, 0, 0, now);
  }

  static restore(s: ChannelSnapshot, settings: ChannelSettings): ChannelState {
    const st = new ChannelState(s.key, s.epoch, settings, s.base, s.localSeq, s.lastStoredAt);
    st.termNo = s.term;
    st.presenceSet = PresenceSet.restore(s.presence);
    for (const o of s.origins) st.origins.set(o.region, o);
    for (const d of s.dedup) st.dedup.add(d.id, d.channelSerial, d.at);
    for (const e of s.entries) st.log.append(e);
    st.lastChannelSerial = s.entries.length ? s.entries[s.entries.length - 1]!.channelSerial : st.formatAt(s.base);
    return st;
  }

  snapshot(): ChannelSnapshot {
    return {
      key: this.key,
      epoch: this.epoch,
      term: this.termNo,
      base: this.log.baseSerial,
      localSeq: this.localSeq,
      origins: [...this.origins.values()],
      lastStoredAt: this.lastStoredAt,
      entries: this.log.all(),
      dedup: this.dedup.entries(),
      presence: this.presenceSet.snapshot(),
    };
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

  private formatAt(serial: number): string {
    const origins: OriginPosition[] = [];
    if (this.origins.size > 0) {
      origins.push({ region: this.settings.region, epoch: this.epoch, seq: this.localSeq });
      for (const o of this.origins.values()) origins.push(o);
    }
    return formatSerial({ region: this.settings.region, epoch: this.epoch, serial, origins });
  }

  private stamp(now: number): number {
    // storedAt never goes backwards, so history by time and by serial agree.
    if (now > this.lastStoredAt) this.lastStoredAt = now;
    return this.lastStoredAt;
  }

  /**
   * Orders messages first accepted in this region. Each message must carry its id.
   * Returns the new entries (duplicates make none) and, per message, the channelSerial
   * it is stored under (the original one for a duplicate).
   */
  accept(messages: readonly Message[], now: number): { entries: MessageEntry[]; serials: string[] } {
    const entries: MessageEntry[] = [];
    const serials: string[] = [];
    const storedAt = this.stamp(now);
    for (const message of messages) {
      const dup = this.dedup.lookup(message.id);
      if (dup !== undefined) {
        serials.push(dup);
        continue;
      }
      this.localSeq++;
      const serial = this.log.lastSerial + 1;
      const origin: OriginPosition = { region: this.settings.region, epoch: this.epoch, seq: this.localSeq };
      const channelSerial = this.formatAt(serial);
      const e: MessageEntry = { kind: 'message', serial, channelSerial, storedAt, origin, message };
      this.log.append(e);
      this.dedup.add(message.id, channelSerial, storedAt);
      this.lastChannelSerial = channelSerial;
      entries.push(e);
      serials.push(channelSerial);
    }
    // The count cap holds at all times, not only at the next housekeeping pass.
    if (entries.length) this.log.expire(storedAt, this.settings.historyMs, this.settings.maxMessages);
    return { entries, serials };
  }

  /**
   * Orders presence operations of one connection hosted on `host`. Each op's id is
   * remembered for ordering (a later publish may name it), but presence is applied by
   * state, not deduplicated: a repeat of the current ENTER is a no-op, a re-ENTER after a
   * LEAVE enters again. Any op shows the connection is alive: its pending leave is
   * cancelled (returned as a hold to replicate). Throws 91003 past the member limit.
   */
  acceptPresence(ops: readonly PresenceMessage[], host: string, now: number): { entries: PresenceEntry[]; hold: PresenceHold | null } {
    const storedAt = this.stamp(now);
    const entries: PresenceEntry[] = [];
    const max = this.settings.maxPresenceMembers ?? Number.MAX_SAFE_INTEGER;
    const connectionId = ops[0]?.connectionId;
    let hold: PresenceHold | null = null;
    if (connectionId !== undefined && this.presenceSet.hold(connectionId, host, null)) {
      hold = { connectionId, host, leaveAt: null };
    }
    for (const op of ops) {
      const ev = this.presenceSet.decide(op);
      if (ev && ev.action === PresenceAction.ENTER && this.presenceSet.size >= max) {
        throw AblyError.of('presenceMemberLimit', `channel has ${max} presence members`);
      }
      if (ev) entries.push(this.appendPresence(ev, host, storedAt));
      this.dedup.add(op.id, this.lastChannelSerial, storedAt);
    }
    if (entries.length) this.log.expire(storedAt, this.settings.historyMs, this.settings.maxMessages);
    return { entries, hold };
  }

  private appendPresence(ev: PresenceMessage, host: string, storedAt: number): PresenceEntry {
    this.localSeq++;
    const serial = this.log.lastSerial + 1;
    const origin: OriginPosition = { region: this.settings.region, epoch: this.epoch, seq: this.localSeq };
    const channelSerial = this.formatAt(serial);
    const e: PresenceEntry = { kind: 'presence', serial, channelSerial, storedAt, origin, presence: ev, host };
    this.log.append(e);
    this.presenceSet.apply(ev, host);
    this.lastChannelSerial = channelSerial;
    return e;
  }

  /** Sets when a connection's members leave (null: they stay). Returns the hold if it changed anything. */
  hold(connectionId: string, host: string | null, leaveAt: number | null): PresenceHold | null {
    return this.presenceSet.hold(connectionId, host, leaveAt) ? { connectionId, host, leaveAt } : null;
  }

  applyHolds(holds: readonly PresenceHold[]): void {
    for (const h of holds) this.presenceSet.hold(h.connectionId, h.host, h.leaveAt);
  }

  /** LEAVE entries for members whose connection did not come back in time. */
  leaveDue(now: number): PresenceEntry[] {
    const due = this.presenceSet.due(now);
    if (due.length === 0) return [];
    const storedAt = this.stamp(now);
    const entries: PresenceEntry[] = [];
    for (const m of due) {
      // An id that does not start with the member's connectionId marks the leave as
      // synthesized: the SDKs then compare it by timestamp (which is now, so newer).
      const ev: PresenceMessage = {
        id: `leave:${this.epoch}:${this.log.lastSerial + 1}:0`,
        action: PresenceAction.LEAVE,
        clientId: m.message.clientId,
        connectionId: m.message.connectionId,
        timestamp: storedAt,
      };
      if (m.message.data !== undefined) ev.data = m.message.data;
      if (m.message.encoding !== undefined) ev.encoding = m.message.encoding;
      entries.push(this.appendPresence(ev, m.host, storedAt));
    }
    this.log.expire(storedAt, this.settings.historyMs, this.settings.maxMessages);
    return entries;
  }

  /**
   * Applies entries made by the master (replica side). Entries at or below the current
   * serial are ignored, so a resent batch is harmless; a gap is an error the caller
   * answers with a full snapshot.
   */
  applyEntries(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.serial <= this.log.lastSerial) continue;
      this.log.append(e);
      if (e.storedAt > this.lastStoredAt) this.lastStoredAt = e.storedAt;
      if (e.origin.region === this.settings.region) {
        if (e.origin.seq > this.localSeq) this.localSeq = e.origin.seq;
      } else {
        this.origins.set(e.origin.region, e.origin);
      }
      if (e.kind === 'message') this.dedup.add(e.message.id, e.channelSerial, e.storedAt);
      else {
        this.presenceSet.apply(e.presence, e.host);
        this.dedup.add(e.presence.id, e.channelSerial, e.storedAt);
      }
      this.lastChannelSerial = e.channelSerial;
    }
    if (entries.length) this.log.expire(this.lastStoredAt, this.settings.historyMs, this.settings.maxMessages);
  }

  hasOrdered(id: string): boolean {
    return this.dedup.lookup(id) !== undefined;
  }

  covers(after: number): boolean {
    return this.log.covers(after);
  }

  range(after: number, upto?: number): LogEntry[] | null {
    return this.log.range(after, upto);
  }

  query(q: HistoryQuery): { items: LogEntry[]; more: boolean } {
    return this.log.query(q);
  }

  /** Oldest retained entry's serial minus one: resuming from below it leaves a gap. */
  get baseSerial(): number {
    return this.log.baseSerial;
  }

  /** Drops what retention no longer covers. */
  expire(now: number): void {
    this.log.expire(now, this.settings.historyMs, this.settings.maxMessages);
    this.dedup.expire(now, this.settings.dedupMs);
  }

  /** Nothing retained: the state can be disposed once nobody is attached. */
  get empty(): boolean {
    return this.log.size === 0 && this.dedup.size === 0 && this.presenceSet.size === 0;
  }

  get retained(): number {
    return this.log.size;
  }
}
