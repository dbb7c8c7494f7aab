/**
 * The channel client: one per node per channel with local attachments. It subscribes
 * the node at the channel's master, checks that broadcasts arrive with contiguous
 * serials (filling gaps from the master's history), and delivers each batch to the
 * local subscribers, encoding it once per wire format.
 *
 * Each local subscriber has a position (`after`: the last serial it was given). A
 * subscriber that resumes from a serial behind the client's catches up from history
 * before it goes live; one ahead skips what it has already seen. While a subscriber is
 * catching up (or waiting for its ATTACHED to be written), live entries queue for it.
 */
import { HISTORY_PAGE_MAX_BYTES, RESUME_MAX_BYTES } from '../config/defaults.js';
import { AblyError, type ErrorInfo } from '../errors.js';
import type { Logger } from '../log.js';
import { nextSyncId, syncFrames } from '../protocol/frames.js';
import type { PresenceMessage } from '../protocol/message.js';
import type { ClientPosition, NodeId, RecentId } from '../transport/messages.js';
import type { ChannelKey, LogEntry } from './entry.js';
import { PresenceSet } from './presence.js';
import { hashName } from './sub-digest.js';
import { leastPerEpoch } from './origin-positions.js';
import { formatSerial, parseSerial, type OriginPosition } from '../protocol/serial.js';
import { MAX_REWIND, type ResumePoint, type Rewind } from './attach-point.js';
import { deliverEntries, messageTotals, floorsAt, floorsAtRestart, LeftEpochs, reachFromStart, restartSubscribers, sendTo, serialFor, tellLater, unseen, type Held, type SubRec } from './delivery.js';
import type { ChannelRouter } from './router.js';
import type { Gap } from './gaps.js';
import type { RequestBody } from '../transport/rpc.js';
import { readRewind } from './rewind.js';
import { attachFromRegion } from './attach-region.js';
import type { AttachOutcome, LocalSubscriber } from './subscriber.js';
import type { OccupancyHooks } from './occupancy-watch.js';
import { RecentIds } from './recent-ids.js';

export interface ClientDeps {
  router: ChannelRouter;
  /** Tells the master this node no longer wants broadcasts. */
  unsub(master: NodeId, channel: ChannelKey): void;
  requestTimeoutMs: number;
  log: Logger;
  /** Per batch delivered: the channel, subscriber count reached, entries and bytes of messages in it (metrics, stats). */
  onDeliver?(key: ChannelKey, connections: number, messages: number, bytes: number): void;
  occupancy?: OccupancyHooks;
}

/** What subscribers are told where the channel's state was lost and restarted (90005). */
const restarted = (): AblyError => AblyError.of('channelNoMatchingEpoch', 'channel state was lost and restarted');

export class ChannelClient {
  private readonly subs = new Map<LocalSubscriber, SubRec>();
  /** Master this node is subscribed at, and the stream position received so far. */
  private master: NodeId | null = null;
  /** Counts subscriptions made, so an audit answer about an earlier one is not acted on. */
  private subGen = 0;
  /** The subscription the last audit of it asked about. */
  private auditedGen = -1;
  /** The channel name's hash, for subscription audits (sub-digest.ts). */
  readonly keyHash: number;
  private epoch: string | null = null;
  private last = 0;
  private lastChannelSerial = '';
  /** Subscribing or filling a gap: broadcasts wait here until it is done. */
  private busy: Promise<void> | null = null;
  /** Nodes other than the master that sent broadcasts since the last subscribe. */
  private readonly senders = new Set<NodeId>();
  private held: Held[] = [];
  /** Attaching clients' positions in other regions' streams, for the next subscribe (subRequest). */
  private reachHints: OriginPosition[] = [];
  /** Broadcasts that came so far (Held.n). */
  private arrivals = 0;
  /** The last point where subscribers were told of another region's lost messages (signalGap). */
  private lastGap: Gap | null = null;
  private closed = false;
  /** The presence set as of `last` (or of `presenceShown`, if that is further). */
  private readonly presence = new PresenceSet();
  /** A new epoch joined from its first entry: the master's set given holds its presence entries up to here (not given again; 0: none). */
  private presenceShown = 0;
  /** The term of its epoch's master (the highest heard; 0: not known, from a build before it), to tell an older epoch from a newer. */
  private term = 0;
  /** Where this node had got in the epochs it left. */
  private readonly left = new LeftEpochs();
  /** This region's messages it delivered last (a claim after both copies are lost asks for them), from the first. */
  private recent: RecentIds | null = null;

  constructor(
    readonly key: ChannelKey,
    readonly name: string,
    private readonly deps: ClientDeps,
  ) {
    this.keyHash = hashName(key);
  }

  get subscriberCount(): number {
    return this.subs.size;
  }

  get subscribedAt(): NodeId | null {
    return this.master;
  }

  /** A broadcast came from `node`: the master, or the channel's replica, which broadcasts for it (batches.ts). */
  heard(node: NodeId): void {
    if (node !== this.master) this.senders.add(node);
  }

  /** Whether a node other than the master sent broadcasts since the last subscribe (if it goes, ask the master again). */
  heardFrom(node: NodeId): boolean {
    return this.senders.has(node);
  }

  /** The master to check this client's subscription with (none while subscribing or unsubscribed). */
  auditPoint(): NodeId | null {
    return this.closed || this.busy ? null : this.master;
  }

  /** An audit of the current subscription is being sent; returns the channel name's hash. */
  markAudited(): number {
    this.auditedGen = this.subGen;
    return this.keyHash;
  }

  /** Whether this client is subscribed at the master, or subscribing (possibly there). */
  listensAt(master: NodeId): boolean {
    return !this.closed && (this.master === master || this.busy !== null);
  }

  /** The master answered an audit that it does not have this node subscribed: unless the subscription changed since, subscribe again (what was missed is filled from history); whether it did. */
  notSubscribedAt(master: NodeId): boolean {
    if (this.closed || this.busy || this.master !== master || this.auditedGen !== this.subGen) return false;
    this.deps.log.warn({ channel: this.key, master }, 'the master does not have this node subscribed; subscribing again');
    this.resubscribe();
    return true;
  }

  /** The ids of this region's messages it delivered last (recent-ids.ts). */
  recentIds(): RecentId[] {
    return this.recent?.of() ?? [];
  }

  /** Lets those go once the newest is older than the dedup window (the hub's audit, each second). */
  expireRecent(): void {
    if (this.recent?.expire()) this.recent = null;
  }

  /** Stream position this node has reached. */
  position(): { epoch: string | null; serial: number; channelSerial: string } {
    return { epoch: this.epoch, serial: this.last, channelSerial: this.lastChannelSerial };
  }

  /**
   * Adds (or re-adds) a local subscriber. `resume` is the position it asks to continue
   * from, if any. Live entries queue for it until `activate` is called (after ATTACHED
   * has been written), so nothing reaches it before its ATTACHED.
   */
  async attach(
    sub: LocalSubscriber,
    resume: ResumePoint | null,
    resumeError: AblyError | null,
    rewind: Rewind | null = null,
  ): Promise<AttachOutcome> {
    const rec: SubRec = { after: Number.MAX_SAFE_INTEGER, queue: [], backlog: [], sync: null };
    this.subs.set(sub, rec);
    this.deps.occupancy?.attaching(this, sub);
    // A serial of another epoch here than this node's (or before it has one): the state was
    // lost since, and a new stream from another region reaches back to where the client had got.
    const reach = resume && !('origins' in resume) && resume.epoch !== this.epoch ? resume.seen : [];
    this.reachHints.push(...reach);
    try {
      await this.ensureSubscribed();
    } catch (err) {
      if (this.subs.get(sub) === rec) this.detach(sub);
      throw err;
    }
    if (reach.length && this.reachHints.length) this.tellReach();
    const here = this.last;
    const channelSerial = this.lastChannelSerial;
    const epoch = this.epoch;
    // The SYNC shows the set at exactly the attach point; later changes are live events.
    const hasPresence = this.presence.size > 0;
    if (sub.wants('presence') && hasPresence) rec.sync = this.presence.list();
    if (resume && 'origins' in resume) {
      const d = { router: this.deps.router, key: this.key, timeoutMs: this.deps.requestTimeoutMs, epoch: () => this.epoch, restartedDuring: () => this.restartedDuring(sub, rec) };
      return attachFromRegion(d, rec, resume, here, channelSerial, hasPresence);
    }
    if (resume && resume.epoch === this.epoch) {
      // A client that came from another region carries its floors in its serial.
      const floors = floorsAt(resume.seen, channelSerial);
      if (floors) rec.floors = floors;
      const attached = serialFor(rec, channelSerial);
      if (resume.serial >= here) {
        rec.after = resume.serial;
        // A client further on than this node (it had more from the node it was on) keeps its
        // own serial: told this node's, it would ask from there at its next move, and be
        // given again what it had (chaos seed 1215 with --pairs: a node cut off kept delivering).
        if (resume.serial > here && resume.channelSerial) return { resumed: true, channelSerial: resume.channelSerial, hasPresence };
        // Told of a loss just before the next entry, which has not come: so is this one.
        const ahead = this.lastGap?.serial === here + 1 && resume.serial === here ? this.lastGap : null;
        if (ahead) return { resumed: false, error: AblyError.fromInfo(ahead.error), channelSerial: attached, hasPresence };
        return { resumed: true, channelSerial: attached, hasPresence };
      }
      rec.after = resume.serial;
      try {
        const { body } = await this.deps.router.call(
          this.key,
          { type: 'range', channel: this.key, epoch: this.epoch, after: resume.serial, upto: here, maxBytes: RESUME_MAX_BYTES },
          this.deps.requestTimeoutMs,
        );
        if (this.epoch !== epoch) return this.restartedDuring(sub, rec);
        if (body.kind !== 'entries') return { resumed: true, channelSerial: attached, hasPresence };
        rec.backlog = unseen(body.entries, resume.seen, channelSerial);
        // Other regions' messages were lost in what it missed: it is told, as those here were.
        const gap = body.gaps?.[0];
        if (gap) return { resumed: false, error: AblyError.fromInfo(gap.error), channelSerial: attached, hasPresence };
        return { resumed: true, channelSerial: attached, hasPresence };
      } catch (err) {
        if (this.epoch !== epoch) return this.restartedDuring(sub, rec);
        rec.after = here;
        const e = err instanceof AblyError ? err : AblyError.of('channelMessagesExpired');
        return { resumed: false, error: e, channelSerial: attached, hasPresence };
      }
    }
    rec.after = here;
    let error = resumeError ?? undefined;
    if (!error && resume) error = AblyError.of('channelNoMatchingEpoch', 'the channel was reset since that serial');
    if (resume) {
      // The channel's state here was lost (a new epoch). What the client had seen of
      // other regions' streams it is not given again: the new stream reaches back for
      // their messages to where it had got (reachHints), or 2 s before its interest began.
      floorsAtRestart(rec, resume.seen, channelSerial);
      // Of an epoch this node has not joined yet: what it had there it is not given again then.
      rec.seenIn = { epoch: resume.epoch, serial: resume.serial };
      return { resumed: false, ...(error ? { error } : {}), channelSerial: serialFor(rec, channelSerial), hasPresence };
    }
    if (rewind && !resume) {
      const r = await readRewind(this.deps.router, this.key, this.epoch!, rewind, here, this.deps.requestTimeoutMs);
      if (this.epoch !== epoch) return this.restartedDuring(sub, rec);
      rec.backlog = r.entries;
      if (r.entries.length) rec.after = r.entries[0]!.serial - 1;
      if (r.truncated) error ??= AblyError.of('channelMessageLimit', `rewind is limited to ${MAX_REWIND} messages and ${HISTORY_PAGE_MAX_BYTES / 1024 / 1024} MiB`);
    }
    return { resumed: false, ...(error ? { error } : {}), channelSerial, hasPresence };
  }

  /** Its local subscribers that are live (their ATTACHED written). */
  *live(): IterableIterator<LocalSubscriber> {
    for (const [sub, rec] of this.subs) if (rec.queue === null) yield sub;
  }

  get presenceSize(): number {
    return this.presence.size;
  }

  /**
   * An attach whose question to the master outlasted the stream it began on: the
   * channel restarted in a new epoch meanwhile (reset() has moved this subscriber to it).
   * What the answer held is of the old epoch, so it goes, and the client is told it did
   * not resume, at the new stream's position.
   */
  private restartedDuring(sub: LocalSubscriber, rec: SubRec): AttachOutcome {
    rec.backlog = [];
    delete rec.only;
    delete rec.liveFrom;
    const hasPresence = this.presence.size > 0;
    rec.sync = sub.wants('presence') && hasPresence ? this.presence.list() : null;
    const error = restarted();
    return { resumed: false, error, channelSerial: serialFor(rec, this.lastChannelSerial), hasPresence };
  }

  /** The presence members this node knows of (as of its stream position). */
  members(): PresenceMessage[] {
    return this.presence.list();
  }

  /**
   * Sends what queued for the subscriber while it attached: the backlog it missed, then
   * the presence SYNC as of the attach point, then what arrived since; and makes it live.
   */
  activate(sub: LocalSubscriber): void {
    const rec = this.subs.get(sub);
    if (!rec || rec.queue === null) return;
    sendTo(sub, rec, rec.backlog);
    if (rec.sync) {
      sub.send(syncFrames(sub.channelName, rec.sync, sub.format, nextSyncId()));
      rec.sync = null;
    }
    const queued = rec.queue;
    rec.backlog = [];
    rec.queue = null;
    sendTo(sub, rec, queued);
    if (rec.untold !== undefined) tellLater(this.subs);
    this.deps.occupancy?.changed(this, sub);
  }

  /** A MESSAGE went to `sub` apart from the stream (an occupancy event): its SDK holds that one last, so a delta's base is gone (delta.ts). */
  sentApart(sub: LocalSubscriber): void {
    const rec = this.subs.get(sub);
    if (rec) rec.deltaBase = null;
  }

  /** Removes a local subscriber; resolves true when the client has none left. */
  detach(sub: LocalSubscriber): boolean {
    if (this.subs.delete(sub)) this.deps.occupancy?.changed(this, sub);
    return this.subs.size === 0;
  }

  /** Stops: tells the master this node no longer listens. */
  close(): void {
    this.closed = true;
    this.deps.occupancy?.closed(this);
    if (this.master) this.deps.unsub(this.master, this.key);
    this.master = null;
  }

  // ---- the stream from the master ---------------------------------------------

  private ensureSubscribed(): Promise<void> {
    if (this.master && !this.busy) return Promise.resolve();
    if (this.busy) return this.busy;
    return this.run(() => this.subscribe());
  }

  /** Runs a stream operation with broadcasts held, then releases what was held. */
  private run(op: () => Promise<void>): Promise<void> {
    const p = op().finally(() => {
      this.busy = null;
      this.release();
    });
    this.busy = p;
    return p;
  }

  private async subscribe(): Promise<void> {
    const asked = this.arrivals;
    const { from, body } = await this.deps.router.call(this.key, this.subRequest(), this.deps.requestTimeoutMs);
    if (body.kind !== 'subscribed') throw AblyError.of('internalChannel', `unexpected reply ${body.kind}`);
    if (this.closed) {
      this.deps.unsub(from, this.key);
      return;
    }
    this.deps.log.debug({ channel: this.key, master: from, epoch: body.epoch, serial: body.serial, mine: this.last }, 'channel client subscribed');
    this.subscribedTo(from);
    // Held broadcasts of another epoch than the master's that came before it was asked are
    // late ones of a stream it left: taken again they had this client subscribe for ever
    // (microtasks alone, with the master here). One that came since may be of a newer one.
    this.held = this.held.filter((h) => h.epoch === body.epoch || h.n > asked);
    if (body.epoch === this.epoch || this.epoch === null) this.term = Math.max(this.term, body.term ?? 0);
    if (this.epoch === null) {
      this.epoch = body.epoch;
      this.last = body.serial;
      this.lastChannelSerial = body.channelSerial;
      this.resetPresence(body.presence);
      return;
    }
    if (body.epoch !== this.epoch) return this.joinEpoch(body);
    // A master behind what we delivered of its epoch has lost state (one that knows our
    // position restarts in a new epoch instead: registry.restartBehind; an older build may
    // not): go on from its position and tell the subscribers.
    if (body.serial < this.last) {
      this.reset(body.epoch, body.serial, body.channelSerial, restarted(), body.presence);
      return;
    }
    if (body.serial > this.last) await this.fill(body.serial);
  }

  /**
   * Goes on in another epoch than this client's, the master's (`body`): the channel's state
   * was lost and restarted. This node's subscribers were there when it began, so they get
   * all of its messages, not only what comes after the master's position now (a master
   * that lost the state publishes before this node subscribes again: stale-handoff.test.ts).
   * Held broadcasts give what they reach from its first entry, history the rest (fill says
   * so where it no longer reaches back). An epoch this node left (a stale master of it
   * answering again) goes on from where the node had got in it, not from its start again;
   * one older than this client's (its term below: a stale master) from its master's position.
   * Presence: the master's set, with the word (an empty one would empty the SDK's for good:
   * client-presence-resync.test.ts); the epoch's presence entries up to there are in it.
   */
  private async joinEpoch(body: { epoch: string; serial: number; channelSerial: string; presence: PresenceMessage[]; term?: number }): Promise<void> {
    const back = this.left.get(body.epoch);
    const older = body.term !== undefined && body.term < this.term;
    const start = parseSerial(body.channelSerial);
    const first = { serial: 0, channelSerial: formatSerial({ region: start?.region ?? '', epoch: body.epoch, serial: 0, origins: [] }) };
    const from = back ? (back.serial <= body.serial ? back : body) : older ? body : first;
    const reach = back ? -1 : reachFromStart(this.held, body.epoch);
    this.deps.log.debug({ channel: this.key, epoch: body.epoch, from: from.serial, held: reach, master: body.serial }, 'joined another epoch');
    this.reset(body.epoch, from.serial, from.channelSerial, restarted(), body.presence);
    this.term = body.term ?? 0;
    this.presenceShown = body.serial;
    if (body.serial > Math.max(reach, from.serial)) await this.fill(body.serial);
  }

  /**
   * A subscribe, with how far this node has seen the stream (a master behind it has lost
   * state), and where it and attaching clients had got in other regions' (reached back to
   * if the master's stream restarted: registry.restartBehind).
   */
  private subRequest(): RequestBody {
    const at = this.claimPosition();
    const reach = leastPerEpoch([...(at?.reach ?? []), ...this.reachHints]);
    this.reachHints = [];
    return { type: 'sub', channel: this.key, ...(at ? { seen: { epoch: at.epoch, serial: at.serial } } : {}), ...(reach.length ? { reach } : {}) };
  }

  /** How far this node has seen the stream, and where it had got in other regions' (its last serial's origins); none before it has a position. */
  claimPosition(): ClientPosition | null {
    if (this.epoch === null) return null;
    const reach = parseSerial(this.lastChannelSerial)?.origins ?? [];
    return { epoch: this.epoch, serial: this.last, ...(reach.length ? { reach } : {}) };
  }

  /** Reach-back points no subscribe carried go to the master alone (if lost, the stream reaches back its usual 2 s). */
  private tellReach(): void {
    const origins = leastPerEpoch(this.reachHints);
    this.reachHints = [];
    this.deps.router.call(this.key, { type: 'reach', channel: this.key, origins }, this.deps.requestTimeoutMs).catch(() => undefined);
  }

  private subscribedTo(master: NodeId): void {
    if (this.master !== master) this.senders.clear();
    if (this.master && this.master !== master) this.deps.unsub(this.master, this.key);
    this.master = master;
    this.subGen++;
    this.deps.occupancy?.subscribed(this, master);
  }

  /**
   * The master moved or died: subscribe at the (new) owner and fill whatever was missed.
   * Deliveries resume in order; subscribers see no gap while history covers it.
   */
  resubscribe(): void {
    if (this.closed || this.subs.size === 0) return;
    if (this.busy) {
      void this.busy.then(() => this.resubscribe(), () => this.resubscribe());
      return;
    }
    void this.run(() => this.subscribe()).catch((err) => {
      this.deps.log.warn({ channel: this.key, err: (err as Error).message }, 'resubscribe failed; retrying');
      this.master = null;
      setTimeout(() => this.resubscribe(), 200).unref();
    });
  }

  /** Fetches (last, upto] from the master and delivers it. */
  private async fill(upto: number): Promise<void> {
    try {
      const { body } = await this.deps.router.call(
        this.key,
        { type: 'range', channel: this.key, epoch: this.epoch!, after: this.last, upto },
        this.deps.requestTimeoutMs,
      );
      if (body.kind === 'entries') this.apply(body.entries, body.gaps);
      if (this.last < upto) throw AblyError.of('channelMessagesExpired', `range ended at ${this.last}, wanted ${upto}`);
    } catch (err) {
      const e = err instanceof AblyError ? err : AblyError.of('channelMessagesExpired');
      // History no longer covers the gap: continue from the master's position and say so.
      // (The master may be of another epoch by now: joined as a subscribe would.)
      const p = await this.deps.router.call(this.key, this.subRequest(), this.deps.requestTimeoutMs);
      if (p.body.kind === 'subscribed') {
        this.subscribedTo(p.from);
        if (p.body.epoch !== this.epoch) await this.joinEpoch(p.body);
        else this.reset(p.body.epoch, p.body.serial, p.body.channelSerial, e, p.body.presence);
      }
    }
  }

  private resetPresence(members: PresenceMessage[]): void {
    this.presence.clear();
    for (const m of members) this.presence.apply(m, '');
    this.deps.occupancy?.presence(this);
  }

  /** Goes on from the master's position (and presence set there), and tells every subscriber continuity was lost. */
  private reset(epoch: string, serial: number, channelSerial: string, error: AblyError, members: PresenceMessage[]): void {
    this.deps.log.warn({ channel: this.key, code: error.code, err: error.message }, 'channel continuity lost');
    this.resetPresence(members);
    const present = this.presence.list();
    // What the subscribers had of other regions' streams (each origin's position in the
    // stream so far): the restarted stream reaches back for those regions' messages, and
    // they are not given again to a subscriber that had them all.
    const seen = parseSerial(this.lastChannelSerial)?.origins ?? [];
    // Broadcasts held back of the old epoch would only make this client subscribe again.
    const old = this.epoch;
    if (old && old !== epoch) this.left.add(old, this.last, this.lastChannelSerial);
    this.held = this.held.filter((h) => h.epoch !== old);
    this.epoch = epoch;
    this.lastGap = null;
    this.presenceShown = 0;
    this.last = serial;
    this.lastChannelSerial = channelSerial;
    restartSubscribers(this.subs, epoch, serial, channelSerial, seen, error, present);
  }

  /**
   * A broadcast from the master. `discontinuity`: messages from another region were lost
   * before these entries; every subscriber is told (UPDATE without RESUMED) first.
   */
  onBroadcast(epoch: string, entries: LogEntry[], discontinuity?: ErrorInfo, gapAt?: number): void {
    if (this.closed) return;
    const n = ++this.arrivals;
    if (this.busy) this.held.push({ n, epoch, entries, discontinuity, gapAt });
    else this.accept(n, epoch, entries, discontinuity, gapAt);
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) {
      if (this.busy) {
        this.held.push(h);
        continue;
      }
      this.accept(h.n, h.epoch, h.entries, h.discontinuity, h.gapAt);
    }
  }

  /** `n`: the broadcast's place in the order they came (Held.n). */
  private accept(n: number, epoch: string, entries: LogEntry[], discontinuity?: ErrorInfo, gapAt?: number): void {
    if (discontinuity && epoch === this.epoch) {
      // Said before entries this node has, or at a point it is past (a second copy of a
      // broadcast: from the replica and from the master), it was said already. Said with
      // no entry for a point ahead (what comes before it has not), it is said again with
      // the first entry after it.
      const at = entries.length ? entries[0]!.serial : (gapAt ?? this.last + 1);
      const past = entries.length ? entries[entries.length - 1]!.serial <= this.last : at <= this.last;
      if (past) discontinuity = undefined;
      else if (at <= this.last + 1) {
        this.signalGap({ serial: at, error: discontinuity });
        discontinuity = undefined;
      }
    }
    if (entries.length === 0) return;
    if (epoch !== this.epoch) {
      // A new lifetime of the channel's state: resubscribe sorts it out.
      this.held.push({ n, epoch, entries, discontinuity });
      this.resubscribe();
      return;
    }
    const first = entries[0]!.serial;
    if (first > this.last + 1) {
      this.held.push({ n, epoch, entries, discontinuity });
      void this.run(() => this.fill(first - 1)).catch(() => this.resubscribe());
      return;
    }
    this.apply(entries);
  }

  /**
   * Every subscriber is told that messages from another region were lost before `serial`
   * (UPDATE without RESUMED), once per point: the master says so again with the first
   * entry after a loss it had no entry to go with, and history says so to whoever reads
   * across it.
   */
  private signalGap(gap: Gap): void {
    if (this.lastGap?.serial === gap.serial) return;
    this.lastGap = gap;
    const err = AblyError.fromInfo(gap.error);
    this.deps.log.warn({ channel: this.key, err: err.message }, 'channel continuity lost');
    const present = this.presence.list();
    for (const [sub, rec] of this.subs) sub.discontinuity(err, serialFor(rec, this.lastChannelSerial), present);
  }

  /**
   * Delivers entries beyond the stream position, in order. `gaps` (from history): where
   * the broadcasts this node missed told subscribers of lost messages; they are told at
   * the same points.
   */
  private apply(entries: LogEntry[], gaps?: readonly Gap[]): void {
    for (const g of gaps ?? []) {
      if (g.serial <= this.last) continue;
      this.apply(entries.filter((e) => e.serial < g.serial));
      this.signalGap(g);
    }
    let start = 0;
    while (start < entries.length && entries[start]!.serial <= this.last) start++;
    if (start === entries.length) return;
    const fresh = start === 0 ? entries : entries.slice(start);
    (this.recent ??= new RecentIds()).note(fresh, this.epoch!);
    const lastEntry = fresh[fresh.length - 1]!;
    this.last = lastEntry.serial;
    this.lastChannelSerial = lastEntry.channelSerial;
    let told = fresh;
    if (this.presenceShown !== 0) {
      // Joining a new epoch: its presence entries the set given with the word holds are not given again.
      const shown = this.presenceShown;
      if (this.last >= shown) this.presenceShown = 0;
      told = fresh.filter((e) => e.kind !== 'presence' || e.serial > shown);
      if (told.length === 0) return;
    }
    const size = this.presence.size;
    for (const e of told) if (e.kind === 'presence') this.presence.apply(e.presence, e.host);
    if (this.presence.size !== size) this.deps.occupancy?.presence(this);
    this.deliver(told);
  }

  private deliver(entries: LogEntry[]): void {
    const reached = deliverEntries(this.subs, entries);
    if (this.deps.onDeliver && reached > 0) {
      const { messages, bytes } = messageTotals(entries);
      this.deps.onDeliver(this.key, reached, messages, bytes);
    }
  }
}
