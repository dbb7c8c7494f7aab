/**
 * The node's channel registry: the channels this node masters, the copies it holds as
 * replica, and how ownership moves when the ring changes.
 *
 * Rules that keep one order per channel and lose nothing acknowledged:
 * - A node acts as master of a channel only if the ring (its view) names it owner and
 *   it has quorum. Before its first act it *claims* the channel: it asks the nodes that
 *   may hold state (the channel's preference list, and peers still leaving) and takes
 *   the newest state; a holder that is master hands over only when it too sees the
 *   claimant as owner, and stops first. A channel starts afresh only when every node of
 *   the list answered that it had none (claim.ts). A new master copies its state to its
 *   replica at once, so a failover before the next publish loses neither what was
 *   handed over nor the epoch.
 * - A replica accepts entries only from the node its own view names master, and only
 *   contiguously (otherwise it asks for a full sync). The master ACKs nothing before the
 *   replica holds it; so a master whose replica disagrees with it stalls, never forks.
 * - When the ring changes, a master no longer owner stops and pushes its state to the new
 *   owner (handoff); a replica whose master left promotes itself or pushes (handoff.ts).
 * - Copies no longer needed are kept for a grace period to answer claims, then dropped.
 */
import { AblyError } from '../errors.js';
import type { Logger } from '../log.js';
import type {
  ChannelStatus,
  ChannelRequest,
  MasteredChannel,
  ReplayWanted,
  NodeId,
  ReplicateRequest,
  ReplyBody,
  RecentId,
} from '../transport/messages.js';
import type { OriginPosition } from '../protocol/serial.js';
import { splitChannelKey, type ChannelKey, type LogEntry } from './entry.js';
import { SliceSweep, trimOldest } from './sweep.js';
import { AFTER_LOSS_ASK_ALL_MS, AFTER_LOSS_ASK_TIMEOUT_MS, anyoneHolds, askHolders, CLAIM_FANOUT, copyAt, decideClaim, describeClaim, gatherRecent, PendingClaims } from './claim.js';
import { HANDOFF_UNANSWERED_MS, pushAgain, pushCopy, pushState, takeSync, type HandoffHost } from './handoff.js';
import type { ReplicaBroadcast, Replicated } from './batches.js';
import { ChannelMaster } from './master.js';
import { HomeTakes, isMetaChannel } from './lifecycle.js';
import { handleChannelRequest } from './requests.js';
import { applyReplicate, replicateBatch } from './replication.js';
import { PRESENCE_LEAVE_DELAY_MS } from '../config/defaults.js';
import { ChannelState, type ChannelSnapshot, type PresenceHold } from './state.js';
import type { Announced } from './channel-interest.js';
import { sleep } from '../clock.js';
import { SubscriberDigests, WatchedMap } from './audit-digests.js';

import type { RegistryDeps } from './registry-deps.js';

/** What a master asks another region for (ReplayWanted, less the region). */
export type WantedReplay = Omit<ReplayWanted, 'type' | 'region'>;

/** A claim that some node could not answer yet is retried after this long. */
const CLAIM_RETRY_MS = 50;
/** A claim keeps asking this long before failing with 50003: busy peers (an attach storm) get time, within the client's 10 s. */
const CLAIM_DEADLINE_MS = 7000;
/** Copies no longer master or replica are kept this long to answer claims. */
const STALE_COPY_GRACE_MS = 30_000;
/** How often holdings are checked against the ring and retention. */
export const RECONCILE_INTERVAL_MS = 1000;
/** The periodic pass visits each holding about once per interval, a slice at a time (this many). */
const RECONCILE_SLICES = 10;
/** Tombstones (epoch and serial of disposed channels) kept at most this many. */
const MAX_TOMBSTONES = 100_000;

export type Holding =
  // syncing: a full sync under way, and to which replica (others wait for it, not send another).
  | { role: 'master'; master: ChannelMaster; replica: NodeId | null; synced: NodeId | null; syncing: { to: NodeId; done: Promise<ReplyBody | null> } | null }
  | { role: 'replica'; state: ChannelState; from: NodeId }
  | { role: 'stale'; state: ChannelState; until: number /* RegistryDeps.monotonic */ };

export type Acquired = { ok: ChannelMaster } | { redirect: NodeId | null; error?: AblyError };

export class ChannelRegistry {
  /** The subscription audit's answers (audit-digests.ts), kept until a holding or a master's subscribers change. */
  readonly digests = new SubscriberDigests(() => this.liveMasters(), () => this.elapsed());
  private readonly holdings = new WatchedMap<ChannelKey, Holding>(this.digests.changed);
  private readonly claims = new PendingClaims<Acquired>();
  private readonly pushing = new Set<ChannelKey>();
  private readonly tombstones = new Map<ChannelKey, ChannelSnapshot>();
  private timer: NodeJS.Timeout | null = null;
  private readonly sweep = new SliceSweep(() => this.holdings.keys(), RECONCILE_SLICES);
  private closed = false;
  /** When a node last went, or this one started, not knowing what went before (RegistryDeps.monotonic): claims soon after ask every node (AFTER_LOSS_ASK_ALL_MS). */
  private nodeGoneAt: number;

  /** What handoff.ts uses of this registry. */
  private readonly moves: HandoffHost;
  private readonly homeTakes: HomeTakes;

  constructor(private readonly deps: RegistryDeps) {
    this.nodeGoneAt = this.elapsed();
    this.homeTakes = new HomeTakes(this, deps.log);
    this.moves = {
      deps,
      holdings: this.holdings,
      tombstones: this.tombstones,
      pushing: this.pushing,
      unanswered: new Map(),
      keepStale: (key, state) => this.keepStale(key, state),
      takeOver: (key, snap) => {
        const master = this.install(key, snap, snap.subscribers ?? []);
        // Requests waiting on a claim of ours go now, in the order they came, rather than
        // when the claim's round of questions ends (it will find this master and stop).
        this.claims.settle(key, { ok: master });
        return master;
      },
    };
  }

  start(): void {
    this.timer = setInterval(() => this.reconcile(this.sweep.slice()), RECONCILE_INTERVAL_MS / RECONCILE_SLICES);
    this.timer.unref();
  }

  /** Stops every master (their pending batches fail) and forgets everything. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.dropAll(AblyError.of('channelFailed', 'node shutting down'));
  }

  /** Leaving: waits (`timeoutMs`, `unansweredMs` more while a push is unanswered: pushAgain) until all it mastered is handed over. The ring must exclude it. */
  async drain(timeoutMs: number, unansweredMs = HANDOFF_UNANSWERED_MS): Promise<void> {
    const start = this.elapsed();
    for (;;) {
      this.reconcile();
      pushAgain(this.moves);
      const masters = [...this.liveMasters()].length;
      const unsure = this.pushing.size + this.moves.unanswered.size;
      if ((masters === 0 && unsure === 0) || this.elapsed() - start >= timeoutMs + (unsure ? unansweredMs : 0)) return;
      await sleep(20);
    }
  }

  /** Drops all state (the node lost quorum or restarted its incarnation). */
  async dropAll(reason: AblyError): Promise<void> {
    const masters: ChannelMaster[] = [];
    for (const h of this.holdings.values()) if (h.role === 'master') masters.push(h.master);
    this.holdings.clear();
    this.tombstones.clear();
    await Promise.all(masters.map((m) => m.stop(reason)));
  }

  /** What this node holds for a channel (master, replica copy, stale copy), if anything. */
  holding(key: ChannelKey): Holding | undefined {
    return this.holdings.get(key);
  }

  /** The channel's master here, if this node holds the channel as its master (stopped or not). */
  masterOf(key: ChannelKey): ChannelMaster | null {
    const h = this.holdings.get(key);
    return h?.role === 'master' ? h.master : null;
  }

  /** The ring owner of a channel and whether this node may act as master now. */
  ownership(key: ChannelKey): { owner: NodeId | null; mine: boolean } {
    const owner = this.deps.ring().owner(key);
    return { owner, mine: owner === this.deps.self && this.deps.hasQuorum() };
  }

  /** Channels mastered here, per app (not metachannels: the service makes them; stats would keep `[meta]stats:minute` going). */
  masteredByApp(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, h] of this.holdings) {
      if (h.role !== 'master') continue;
      const { appId: app, name } = splitChannelKey(key);
      if (!isMetaChannel(name)) out.set(app, (out.get(app) ?? 0) + 1);
    }
    return out;
  }

  /** Holdings by role (health and metrics). */
  counts(): { mastered: number; replicas: number; stale: number } {
    const n = { mastered: 0, replicas: 0, stale: 0 };
    for (const h of this.holdings.values()) n[h.role === 'master' ? 'mastered' : h.role === 'replica' ? 'replicas' : 'stale']++;
    return n;
  }

  // ---- requests ---------------------------------------------------------------

  /** Handles a channel request from a node (self included); resolves with the reply. */
  handle(from: NodeId, req: ChannelRequest): Promise<ReplyBody> {
    return handleChannelRequest(this, from, req);
  }

  /** Whether this region is the channel's home, which masters it where other regions want it (lifecycle.ts). */
  homeHere(key: ChannelKey): boolean {
    return this.deps.masterForLifecycle?.(key) ?? false;
  }

  /** Other regions' interest in a channel, from the globalmaster (ignored unless we master it). */
  setRemoteInterest(channel: ChannelKey, regions: { region: string; since: number }[], keep?: string[]): void {
    const h = this.holdings.get(channel);
    if (h?.role === 'master' && !h.master.isStopped) {
      h.master.regions.setRemoteInterest(regions, keep);
      h.master.lifecycle?.reconcile();
      return;
    }
    if (h?.role !== 'master' && regions.length && this.deps.masterForLifecycle?.(channel)) this.homeTakes.take(channel, regions, keep);
  }

  /**
   * Channels mastered here, for the globalmaster: those with subscribers (this region's
   * interest) or with other regions' interest, or (`all`) every one.
   */
  interestList(all: boolean): MasteredChannel[] {
    const out: MasteredChannel[] = [];
    for (const [key, m] of this.liveMasters()) {
      const on = m.subscribers.size > 0;
      const remote = m.regions.remoteInterest;
      if (all || on || remote.length) out.push({ channel: key, on, since: on ? m.interestBegan : 0, remote, ...(remote.length ? { head: m.regions.ownHead() } : {}) });
    }
    return out;
  }

  /** The globalmaster moved: every master tells the new one where its interest stands. */
  reportAllInterest(): void {
    for (const [, m] of this.liveMasters()) m.reportInterest();
  }

  /** A node no longer wants broadcasts of a channel. */
  unsubscribe(from: NodeId, channel: ChannelKey): void {
    this.masterOf(channel)?.unsubscribe(from);
  }

  /** The channels mastered here, with masters not stopped. */
  *liveMasters(): IterableIterator<[ChannelKey, ChannelMaster]> {
    for (const [key, h] of this.holdings) if (h.role === 'master' && !h.master.isStopped) yield [key, h.master];
  }

  /** The wall clock channel states keep their times on (RegistryDeps.now). */
  now(): number {
    return this.deps.now();
  }

  get log(): Logger {
    return this.deps.log;
  }

  /** Whether a node may subscribe here: masters drop subscribers outside their ring (reconcile). */
  mayServe(node: NodeId): boolean {
    return this.deps.ring().has(node);
  }

  /**
   * A node is down or left: it subscribes to nothing any more, and the presence members
   * of its connections leave after the usual delay unless they reconnect elsewhere.
   */
  forgetNode(node: NodeId): void {
    const leaveAt = this.deps.now() + (this.deps.settings.presenceLeaveDelayMs ?? PRESENCE_LEAVE_DELAY_MS);
    for (const h of this.holdings.values()) {
      if (h.role !== 'master') continue;
      h.master.unsubscribe(node);
      h.master.holdHost(node, leaveAt);
    }
    this.deps.log.debug({ host: node, leaveAt }, 'presence: members of connections on a node gone leave after the delay');
    this.nodeGoneAt = this.elapsed();
  }

  status(h: Extract<Holding, { role: 'master' }>): ChannelStatus {
    return h.master.status(this.deps.self, h.replica);
  }

  // ---- becoming master ----------------------------------------------------------

  /** The channel's master on this node, claiming it first if need be. */
  acquire(key: ChannelKey): Promise<Acquired> {
    const owner = this.deps.ring().owner(key);
    if (this.closed) return Promise.resolve({ redirect: null, error: AblyError.of('channelFailed', 'node shutting down') });
    if (owner !== this.deps.self || !this.deps.hasQuorum()) return Promise.resolve({ redirect: owner });
    const h = this.holdings.get(key);
    if (h?.role === 'master' && !h.master.isStopped) return Promise.resolve({ ok: h.master });
    return this.claims.join(key, () => this.claim(key));
  }

  private async claim(key: ChannelKey): Promise<Acquired> {
    const deadline = this.elapsed() + CLAIM_DEADLINE_MS;
    for (;;) {
      const ring = this.deps.ring();
      if (ring.owner(key) !== this.deps.self || !this.deps.hasQuorum() || this.closed) return { redirect: ring.owner(key) };
      const h = this.holdings.get(key);
      if (h?.role === 'master' && !h.master.isStopped) return { ok: h.master };
      // A replica whose master has left the ring holds the newest state: promote it.
      if (h?.role === 'replica' && !ring.has(h.from)) {
        this.deps.metrics?.failover();
        this.deps.log.info({ channel: key, from: h.from }, 'promoting replica to master (failover)');
        return { ok: this.install(key, h.state, []) };
      }
      // Checked before each round of questions, so a ring that keeps changing while we ask
      // (each change asks again at once) ends the claim at the deadline too.
      if (this.elapsed() >= deadline) return { redirect: null, error: AblyError.of('timeout', 'channel state could not be claimed in time') };
      const { asked, answers, leaving } = await askHolders(this.deps, ring, key, false);
      // A handoff may have made us master while we asked around.
      const current = this.holdings.get(key);
      if (current?.role === 'master' && !current.master.isStopped) return { ok: current.master };
      // The ring may have moved the channel away while we asked (we may be the one leaving),
      // or grown: a node that came up meanwhile may be the master we must hear from (a node
      // back from isolation saw one peer up before the other, asked that one alone, and
      // took the channel from its replica while the other still served it).
      if (this.deps.ring() !== ring || !this.deps.hasQuorum()) continue;
      // Our own copy (replica or stale) or tombstone competes too.
      const own =
        current?.role === 'replica' || current?.role === 'stale' ? current.state.snapshot() : this.tombstones.get(key);
      const { decided, best, subscribers, behind, reach, lost } = decideClaim(answers, leaving, own, this.deps.seen?.(key));
      if (decided) {
        // Lost, or no copy while a node's going may have taken it: every node is asked what it had.
        // (Only where some node was not asked: a region of four or fewer was asked whole.)
        const unasked = ring.members.some((n) => n !== this.deps.self && !asked.includes(n));
        const ask = lost || (best === null && unasked && this.elapsed() < this.nodeGoneAt + AFTER_LOSS_ASK_ALL_MS);
        const { ids: recent, seen } = ask ? await gatherRecent(this.deps, ring, key, lost ? undefined : AFTER_LOSS_ASK_TIMEOUT_MS) : { ids: [], seen: false };
        if (ask && (this.deps.ring() !== ring || !this.deps.hasQuorum() || this.holdings.get(key) !== current)) continue;
        this.deps.log.debug({ channel: key, asked, ...describeClaim(answers, leaving, own) }, 'claimed channel');
        if (best && behind) return { ok: this.installAfresh(key, best.term, subscribers, { newestCopy: copyAt(best), behind: 'a channel client' }, reach, best.lifecycle, recent) };
        if (best) {
          const state = this.readCopy(key, best);
          // Unreadable: every other copy is older, and what a client may have had from this one would be given again.
          return { ok: state ? this.install(key, state, subscribers, reach) : this.installAfresh(key, best.term, subscribers, { newestCopy: copyAt(best), unreadable: true }, reach, best.lifecycle) };
        }
        // No copy anywhere: a new channel, or every copy out of reach (ChannelState.fresh's terms).
        const fresh = ChannelState.fresh(key, this.deps.settings, this.deps.now());
        fresh.seedDedup(recent, this.deps.now());
        if (lost || seen) this.deps.log.warn({ channel: key, recentIds: recent.length }, 'no copy is left of the stream a channel client saw: state was lost; it starts again in a new epoch');
        if (!isMetaChannel(splitChannelKey(key).name)) this.deps.metrics?.channelCreated(key);
        return { ok: this.install(key, fresh, [], reach) };
      }
      await sleep(CLAIM_RETRY_MS);
    }
  }

  /**
   * A subscribing node (ChannelMaster.behindSeen), or another region of our own stream
   * (behindOwn), has seen `master`'s epoch further than it holds: it was made from an old
   * copy, the newer ones lost (README, *Both copies lost*). Giving those serials again,
   * it would have them skipped unsaid; the channel restarts in a new epoch instead.
   */
  async restartBehind(master: ChannelMaster, seen: Record<string, unknown>): Promise<Acquired> {
    const key = master.key;
    // Not as part of a claim still under way (the one that made this master, settled but
    // not yet gone, would answer for ours): after it, whatever it made is checked below.
    for (let p = this.claims.current(key); p; p = this.claims.current(key)) await p.catch(() => undefined);
    return this.claims.join(key, async () => {
      const h = this.holdings.get(key);
      if (h?.role !== 'master' || h.master !== master || master.isStopped) {
        return h?.role === 'master' && !h.master.isStopped ? { ok: h.master } : { redirect: this.deps.ring().owner(key) };
      }
      const subscribers = [...master.subscribers];
      await master.stop(AblyError.of('channelFailed', 'channel state was lost and restarted'));
      const { ids } = await gatherRecent(this.deps, this.deps.ring(), key);
      if (this.holdings.get(key) !== h || !this.ownership(key).mine) {
        // Not to be left as a stopped master, which nothing would clear: a copy, as a master that stepped down leaves.
        if (this.holdings.get(key) === h) this.keepStale(key, master.state);
        return { redirect: this.deps.ring().owner(key) };
      }
      return { ok: this.installAfresh(key, master.state.term, subscribers, { master: `${master.epoch}@${master.position().serial}`, seen }, [], master.state.interest.announced, ids) };
    });
  }

  /** A new epoch after state was lost (`why`: what was seen further), its terms above `term` (the lost epoch's); `recent`: gatherRecent's ids. */
  private installAfresh(key: ChannelKey, term: number, subscribers: NodeId[], why: Record<string, unknown>, reach: readonly OriginPosition[] = [], announced?: Announced, recent: readonly RecentId[] = []): ChannelMaster {
    this.deps.log.warn({ channel: key, ...why, recentIds: recent.length }, 'this channel was seen further than its newest copy (or that copy could not be read): state was lost; it starts again in a new epoch');
    const state = ChannelState.fresh(key, this.deps.settings, this.deps.now(), undefined, term);
    state.seedDedup(recent, this.deps.now());
    // What its lifecycle events told goes on (lifecycle.ts): a new epoch is not a new activity.
    if (announced) state.interest.setAnnounced(announced);
    return this.install(key, state, subscribers, reach);
  }

  /**
   * The state of a copy a claim chose, or null where its bytes cannot be read (a defect
   * of whoever wrote them: the frame around them was whole). Logged; the claim then starts
   * the channel afresh rather than fail at every attempt.
   */
  private readCopy(key: ChannelKey, copy: ChannelSnapshot): ChannelState | null {
    try {
      return ChannelState.restore(copy, this.deps.settings);
    } catch (err) {
      this.deps.log.error({ channel: key, copy: copyAt(copy), err: String(err) }, 'the newest copy of this channel could not be read');
      return null;
    }
  }

  /** `from`: a copy, or the replica's own state (a promotion); `reach`: clients' positions in other regions' streams (ClaimDecision.reach). */
  private install(key: ChannelKey, from: ChannelSnapshot | ChannelState, subscribers: NodeId[], reach: readonly OriginPosition[] = []): ChannelMaster {
    const prev = this.holdings.get(key);
    if (prev?.role === 'master' && !prev.master.isStopped) {
      throw new Error(`install over a live master of ${key}`);
    }
    const state = from instanceof ChannelState ? from : ChannelState.restore(from, this.deps.settings);
    state.nextTerm();
    state.reachBackFor(reach);
    const master = new ChannelMaster(key, state, {
      now: this.deps.now,
      ...(this.deps.monotonic ? { monotonic: this.deps.monotonic } : {}),
      // A metachannel's publishers are the service's own (lifecycle.ts): a burst of events is not refused.
      ...(this.deps.settings.maxPublishRate && !isMetaChannel(splitChannelKey(key).name) ? { maxPublishRate: this.deps.settings.maxPublishRate } : {}),
      sendBroadcast: this.deps.sendBroadcast,
      self: this.deps.self,
      replicate: (m, entries, holds, forward, broadcast) => this.replicate(m, entries, holds, forward, broadcast),
      onBroadcast: (nodes, n) => this.deps.metrics?.broadcast(nodes, n),
      onPresenceStale: () => this.deps.metrics?.presenceStale(),
      region: this.deps.settings.region,
      ...(this.deps.toRegions ? { toRegions: this.deps.toRegions } : {}),
      ...(this.deps.interestChanged ? { interestChanged: this.deps.interestChanged } : {}),
      ...(this.deps.lifecycle ? { lifecycle: this.deps.lifecycle } : {}),
      subscribersChanged: this.digests.changed,
    });
    const ring = this.deps.ring();
    for (const s of subscribers) if (ring.has(s)) master.restoreSubscriber(s);
    this.holdings.set(key, { role: 'master', master, replica: ring.replica(key), synced: null, syncing: null });
    this.tombstones.delete(key);
    // Members whose node went before this master took the channel (forgetNode could not
    // tell it) leave after the usual delay, unless their connections come back elsewhere.
    const leaveAt = this.deps.now() + (this.deps.settings.presenceLeaveDelayMs ?? PRESENCE_LEAVE_DELAY_MS);
    for (const host of state.presence.hosts()) if (!ring.has(host)) master.holdHost(host, leaveAt);
    // The replica gets the state now, not at the next publish: what was handed over
    // (acknowledged entries, or just a new channel's epoch) survives a failover before it.
    void this.replicate(master, [], []).catch(() => undefined);
    // The globalmaster learns where interest stands and answers with other regions' interest.
    master.reportInterest();
    master.lifecycle?.reconcile();
    return master;
  }

  async anyoneHolds(key: ChannelKey): Promise<boolean> {
    return this.tombstones.has(key) || (await anyoneHolds(this.deps, this.deps.ring(), key));
  }

  // ---- replication (master side) -----------------------------------------------

  private replicate(master: ChannelMaster, entries: LogEntry[], holds: PresenceHold[], forward = false, broadcast: ReplicaBroadcast | null = null): Promise<Replicated> {
    return replicateBatch(this.deps, (key) => this.holdings.get(key), master, entries, holds, forward, broadcast);
  }

  // ---- replica side -------------------------------------------------------------

  onSync(from: NodeId, key: ChannelKey, snap: ChannelSnapshot, role: 'replica' | 'handoff'): ReplyBody {
    return takeSync(this.moves, from, key, snap, role);
  }

  onReplicate(from: NodeId, req: ReplicateRequest): ReplyBody {
    return applyReplicate(this.deps, this.holdings.get(req.channel), from, req);
  }

  /**
   * `asked`: every node the claimer asks (absent from older builds). Only the owner in our
   * view may take our copy, or our word that we have none, and only if it asks every node
   * we would ask: a node back from isolation, or restarted, hears one peer before another,
   * and a view without the other may lack the master that took the channel over, or the
   * node with its only copy. Out of the ring ourselves (leaving, or without quorum), we
   * answer whoever asks, as a replica or a holder of nothing: our view no longer counts,
   * and our copy may be the only one (a master still steps down only for the owner). A
   * probe (does anyone hold it?) may come from a node reading history: it must not hear
   * "nobody" from a view narrower than ours either.
   */
  async onClaim(from: NodeId, key: ChannelKey, probe: boolean, asked?: readonly NodeId[], recent = false): Promise<ReplyBody> {
    // A claim that lost the channel's state asks what our channel client had (gatherRecent), nothing more.
    const answer: ReplyBody = recent ? { kind: 'snapshot', snapshot: null } : await this.answerClaim(from, key, probe, asked);
    if (answer.kind !== 'snapshot') return answer;
    // And how far our channel client has seen the stream: a copy behind that is not the newest.
    const seen = this.deps.seen?.(key);
    const ids = recent ? this.deps.recent?.(key) : undefined;
    return { ...answer, ...(seen ? { seen } : {}), ...(ids?.length ? { recent: ids } : {}) };
  }

  private async answerClaim(from: NodeId, key: ChannelKey, probe: boolean, asked?: readonly NodeId[]): Promise<ReplyBody> {
    const h = this.holdings.get(key);
    const ring = this.deps.ring();
    if (ring.has(this.deps.self) && this.deps.hasQuorum()) {
      const owner = ring.owner(key);
      if (!probe && owner !== from) return { kind: 'redirect', owner };
      if (asked && ring.preference(key, CLAIM_FANOUT).some((n) => n !== from && !asked.includes(n))) return { kind: 'redirect', owner };
    }
    if (!h) {
      if (this.claims.has(key)) return { kind: 'redirect', owner: this.deps.self };
      return { kind: 'snapshot', snapshot: this.tombstones.get(key) ?? null };
    }
    // A probe only asks whether we hold it: no history, no dedup window (a million ids, busy).
    if (h.role !== 'master') return { kind: 'snapshot', snapshot: h.state.snapshot(!probe) };
    if (probe) return { kind: 'snapshot', snapshot: h.master.state.snapshot(false) };
    if (ring.owner(key) !== from) return { kind: 'redirect', owner: ring.owner(key) };
    await this.stepDown(key, h);
    const snap = h.master.state.snapshot();
    return { kind: 'snapshot', snapshot: { ...snap, wasMaster: true, subscribers: [...h.master.subscribers] } };
  }

  /** Stops a master that is no longer owner; its state stays as a copy for claims. */
  private async stepDown(key: ChannelKey, h: Extract<Holding, { role: 'master' }>): Promise<void> {
    await h.master.stop(AblyError.of('channelFailed', 'channel master moved'));
    if (this.holdings.get(key) === h) this.keepStale(key, h.master.state);
  }

  private keepStale(key: ChannelKey, state: ChannelState): void {
    this.holdings.set(key, { role: 'stale', state, until: this.elapsed() + STALE_COPY_GRACE_MS });
  }

  // ---- ring changes and housekeeping ----------------------------------------------

  /** Re-checks holdings against the ring: all on a ring change, a slice at a time periodically. */
  reconcile(keys: Iterable<ChannelKey> = this.holdings.keys()): void {
    if (this.closed) return;
    const ring = this.deps.ring();
    const now = this.deps.now();
    const quorum = this.deps.hasQuorum();
    for (const key of keys) {
      const h = this.holdings.get(key);
      if (!h) continue;
      const owner = ring.owner(key);
      if (h.role === 'master') {
        if (h.master.isStopped) continue;
        if (!quorum) {
          void this.stepDown(key, h);
          continue;
        }
        if (owner !== this.deps.self) {
          pushState(this.moves, key, h);
          continue;
        }
        const replica = ring.replica(key);
        if (replica !== h.replica && !h.master.busy) {
          // New replica: copy the state to it now rather than at the next publish.
          void this.replicate(h.master, [], []).catch(() => undefined);
        }
        const left = h.master.leaveDue();
        if (left.length) this.deps.log.info({ channel: key, left }, 'presence members left: their connections did not come back in time');
        h.master.state.expire(now);
        for (const s of h.master.subscribers) if (!ring.has(s)) h.master.unsubscribe(s);
        if (h.master.state.empty && h.master.subscribers.size === 0 && !h.master.busy && !h.master.lifecycle?.busy) {
          h.master.lifecycle?.stop();
          this.dispose(key, h.master.state);
        }
      } else if (h.role === 'replica') {
        if (!ring.has(h.from)) {
          // Our master is gone: we hold the newest state.
          if (owner === this.deps.self && quorum) void this.acquire(key);
          else if (owner !== null) pushCopy(this.moves, key, h.state, owner);
        } else if (ring.replica(key) !== this.deps.self) {
          this.keepStale(key, h.state);
        } else {
          h.state.expire(now);
          if (h.state.empty) this.dispose(key, h.state);
        }
      } else if (this.elapsed() >= h.until) {
        this.holdings.delete(key);
      }
    }
    trimOldest(this.tombstones, MAX_TOMBSTONES);
  }

  /** Now on the clock durations are measured with (RegistryDeps.monotonic). */
  private elapsed(): number {
    return this.deps.monotonic?.() ?? this.deps.now();
  }

  /** Forgets an empty state (nothing retained), keeping where it stood for claims. */
  private dispose(key: ChannelKey, state: ChannelState): void {
    this.holdings.delete(key);
    this.tombstones.set(key, state.snapshot(false));
  }
}
