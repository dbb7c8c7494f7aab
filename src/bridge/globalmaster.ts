/**
 * The globalmaster: a region's bridge to the other regions of its deployment, over one
 * gRPC stream per pair of regions (dialled by the region whose name sorts first).
 *
 * The role lives on the ring owner of `__globalmaster` (while it has quorum), so it moves
 * when that node dies; every node runs the gRPC server, but only the globalmaster
 * accepts links (a balancer in front sends peers to it). What it does:
 * - interest: it gathers which channels the region's masters have subscribers on and
 *   tells the peers (versioned deltas; a snapshot after every connect); what peers say,
 *   it pushes to the masters of those channels here;
 * - forwarding: masters send it their region's new messages on channels other regions
 *   want; it sends each to every interested region once; messages from a peer go to the
 *   channel's master here, which orders, stores and broadcasts them (never forwarding on);
 * - replay: after a (re)connect, masters ask each peer for what it accepted after the
 *   last seq they have; a peer answers from its history, and says when history did not
 *   reach back (the gap is then signalled to subscribers);
 * - heads: each audit, it tells the peers where the streams of channels gone quiet stand,
 *   so a hole that was the last thing sent is asked for too (heads.ts).
 * Nothing here holds state that matters after a crash: positions live in the channels'
 * state (replicated), interest is re-gathered and re-sent.
 */
import { CLOCK_OFFSET_KEPT_WITHIN_MS, type RegionInterest } from '../channel/channel-interest.js';
import { splitChannelKey, type ChannelKey } from '../channel/entry.js';
import type { Revocation } from '../auth/revocations.js';
import type { ChannelRouter } from '../channel/router.js';
import type { Ring } from '../cluster/ring.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import type { ForwardedBatch, MasteredChannel, NodeId, NodeMessage, OccupancyRegion, ReplayWanted } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import type { LinkFrame } from './codec.js';
import { LocalInterest, RemoteInterest, snapshotParts, type InterestDelta } from './interest.js';
import { IngestQueue } from './ingest-queue.js';
import { InterestStarts, type Release } from './interest-start.js';
import { chunks, headsByMaster, pruneTold, QuietHeads } from './heads.js';
import { answerReplay, type ReplayDeps } from './replay.js';
import type { GlobalmasterStatus, Session } from './link-session.js';
import { RegionLinks, type LinksDeps } from './links.js';
import { onOurClock, withGuesses } from './revocation-times.js';

/** The ring key whose owner holds the globalmaster role. */
export const GLOBALMASTER_KEY = '__globalmaster';
/** A replay asked for and not answered in this long may be asked for again. */
const REPLAY_RETRY_MS = 5000;
/** How often the globalmaster checks its interest against the masters' (ms). */
const INTEREST_AUDIT_MS = 5000;
/** Every this many audits, masters list every channel they hold, not only those with interest. */
const FULL_AUDIT_EVERY = 6;
/**
 * A new interest's live batches wait at most this long, and this many bytes, for its start
 * (interest-start.ts). A start usually goes within 100 ms (the master may first wait up to
 * 0.5 s for its commit in flight: START_AFTER_COMMIT_MS, region-streams.ts), but on a
 * loaded machine it took 0.7 s, and most likely more than the 2.5 s this was in a CI run
 * of make test on 2 cores (a wait timed out in interest-start.test.ts). Batches let go
 * before it make the receiving master ask for the start itself, so all since the interest
 * began crosses the link twice; a start that never comes (rare: the interest audit tells
 * which masters know already) costs that channel's new region this long a delay.
 */
const START_WAIT_MS = 8000;
const START_WAIT_MAX_BYTES = 4 * 1024 * 1024;

export interface GlobalmasterDeps extends LinksDeps {
  ring(): Ring;
  hasQuorum(): boolean;
  rpc: Rpc;
  send(to: NodeId, msg: NodeMessage): void;
  router: ChannelRouter;
  /** Interest audit period (ms); INTEREST_AUDIT_MS unless a test wants it faster. */
  interestAuditMs?: number;
  /** How long a new interest's live batches wait for its start (ms); START_WAIT_MS unless a test wants it shorter. */
  startWaitMs?: number;
  /** The node's token revocations (revocation-sync.ts): all it holds go out as a link comes up; a peer's come in. */
  revocations?: { all(): Revocation[]; take(entries: readonly Revocation[]): void };
  /** Whether this region is a channel's home (its lifecycle's: src/channel/lifecycle.ts), which masters it wherever other regions want it. */
  homeHere?(channel: ChannelKey): boolean;
}

export type LinkEvent = { type: 'linkUp'; region: string } | { type: 'linkDown'; region: string; reason: string };

export class Globalmaster {
  private active = false;
  private local = new LocalInterest();
  private readonly remote = new Map<string, RemoteInterest>();
  /** Peer regions' clocks minus ours (ms), as the masters were last told (clockMoved). */
  private readonly clockOffsets = new Map<string, number>();
  private readonly links: RegionLinks;
  /** A peer's batches on their way to this region's masters, in order per channel. */
  private readonly ingests = new IngestQueue<Session>((s, batch) => this.ingest(s, batch));
  /** New interests of peers, whose live batches wait for their start. */
  private readonly starts: InterestStarts;
  /** Heads of quiet channels, told to the regions that want them (heads.ts). */
  private readonly heads = new QuietHeads();
  private nextReplayId = 1;
  private readonly listeners: ((e: LinkEvent) => void)[] = [];
  private stopped = false;
  /** Goes up each time the role is taken, so work begun in an earlier term is dropped. */
  private term = 0;
  private auditTimer: NodeJS.Timeout | null = null;
  /** Links are taken once this term's first interest audit is done: before, a peer would get an empty snapshot. */
  private linksOpen = false;
  private audits = 0;
  /** The term whose audit is under way (-1: none), so audits of one term never overlap. */
  private auditing = -1;
  private readonly dropPrefix = process.env.ABLY_NG_DEBUG_DROP_FORWARDS || null;
  private readonly replayDeps: ReplayDeps;

  constructor(private readonly d: GlobalmasterDeps) {
    this.replayDeps = { region: d.region, router: d.router, log: d.log };
    this.starts = new InterestStarts({ timeoutMs: d.startWaitMs ?? START_WAIT_MS, maxBytes: START_WAIT_MAX_BYTES }, (r) => this.sendHeld(r));
    this.links = new RegionLinks(d, {
      refusal: () => (!this.active ? 'not the globalmaster of this region' : this.linksOpen ? null : 'taking the globalmaster role: gathering interest'),
      term: () => this.term,
      up: (s) => this.linkUp(s),
      frame: (s, f) => this.onFrame(s, f),
      down: (s, reason) => {
        this.starts.endRegion(s.region);
        this.emit({ type: 'linkDown', region: s.region, reason });
      },
    });
  }

  on(listener: (e: LinkEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: LinkEvent): void {
    for (const l of this.listeners) l(e);
  }

  get isActive(): boolean {
    return this.active;
  }

  async start(): Promise<void> {
    await this.links.listen();
    this.evaluate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deactivate('node stopping');
    await this.links.shutdown();
  }

  /** Takes or gives up the role after a ring or quorum change. */
  evaluate(): void {
    const should = !this.stopped && this.d.hasQuorum() && this.d.ring().owner(GLOBALMASTER_KEY) === this.d.self;
    if (should && !this.active) void this.activate();
    else if (!should && this.active) this.deactivate('globalmaster role moved');
  }

  private async activate(): Promise<void> {
    this.active = true;
    this.linksOpen = false;
    const term = ++this.term;
    this.d.log.info('this node is now the region\'s globalmaster');
    this.local = new LocalInterest();
    this.audits = 0;
    // Gather the region's interest from every master.
    await this.auditInterest();
    if (!this.active || term !== this.term) return;
    this.linksOpen = true;
    this.links.opened();
    for (const s of this.links.allLive()) this.sendSnapshot(s);
    this.auditTimer = setInterval(() => void this.auditInterest(), this.d.interestAuditMs ?? INTEREST_AUDIT_MS);
    this.auditTimer.unref();
  }

  /**
   * Asks every node which channels it masters with interest, and mends this node's view
   * and the masters' where a report was lost (sent to a node that did not, or no longer,
   * hold the role). The first audit of a term, and every FULL_AUDIT_EVERY-th, lists every
   * channel, so a master never told of another region's interest learns of it too.
   */
  private async auditInterest(): Promise<void> {
    const term = this.term;
    if (this.auditing === term) return;
    this.auditing = term;
    const all = this.audits++ % FULL_AUDIT_EVERY === 0;
    try {
      const lists = await Promise.all(
        this.d.ring().members.map((node) =>
          this.d.rpc
            .request(node, { type: 'interestList', all }, CHANNEL_REQUEST_TIMEOUT_MS)
            .then((body) => ({ node, body }))
            .catch(() => ({ node, body: null })),
        ),
      );
      if (!this.active || term !== this.term) return;
      const listed = new Map<ChannelKey, number>();
      const answered: MasteredChannel[] = [];
      let complete = true;
      let mastersTold = 0;
      for (const { node, body } of lists) {
        if (body?.kind !== 'interest') {
          complete = false;
          continue;
        }
        for (const m of body.mastered) {
          if (m.on) listed.set(m.channel, m.since);
          answered.push(m);
          if (this.correctRemote(node, m)) mastersTold++;
        }
      }
      this.starts.audited(answered);
      this.tellHeads(answered, all);
      if (all && complete) this.tellHomes(answered);
      const deltas = this.local.audit(listed, complete);
      for (const delta of deltas) this.sendDelta(delta);
      if (this.audits > 1 && (deltas.length || mastersTold)) {
        this.d.log.warn({ interestChanges: deltas.length, mastersTold }, 'interest audit mended reports lost while the role moved');
      }
    } finally {
      if (this.auditing === term) this.auditing = -1;
    }
  }

  /**
   * Channels other regions want that are homed here and that no master here holds (a full
   * audit's lists are every channel held): their owners are told again, and take them
   * (registry.setRemoteInterest), where the word of the other region's interest did not
   * make a master (a claim that failed, a ring that moved meanwhile).
   */
  private tellHomes(answered: readonly MasteredChannel[]): void {
    const homeHere = this.d.homeHere;
    if (!homeHere) return;
    const held = new Set(answered.map((m) => m.channel));
    const wanted = new Set<ChannelKey>();
    for (const r of this.remote.values()) for (const c of r.channelList()) if (!held.has(c)) wanted.add(c);
    const untold = [...wanted].filter((c) => homeHere(c));
    if (untold.length) this.pushInterest(untold);
  }

  /** Tells each peer the heads of the quiet channels it wants (heads.ts). */
  private tellHeads(mastered: readonly MasteredChannel[], all: boolean): void {
    const lists = this.heads.audit(mastered, (r) => this.links.live(r)?.headsTold ?? null, all);
    const listed = this.heads.listed;
    for (const s of this.links.allLive()) {
      pruneTold(s.headsTold, listed);
      for (const heads of chunks(lists.get(s.region) ?? [])) {
        s.send({ type: 'heads', heads });
        s.headsOut += heads.length;
      }
    }
  }

  /** A master whose idea of other regions' interest differs from this node's is told again (true). */
  private correctRemote(node: NodeId, m: MasteredChannel): boolean {
    const want = this.regionsFor(m.channel);
    // Regions not heard from since this node took the role keep what the master has.
    for (const r of m.remote) if (!this.remote.has(r.region)) want.push(r);
    if (want.length === m.remote.length && want.every((w) => m.remote.some((r) => r.region === w.region))) return false;
    this.tell(node, m.channel, want);
    return true;
  }

  private sendDelta(delta: InterestDelta): void {
    for (const s of this.links.allLive()) s.send({ type: 'delta', delta });
  }

  private deactivate(reason: string): void {
    this.active = false;
    this.term++;
    if (this.auditTimer) clearInterval(this.auditTimer);
    this.auditTimer = null;
    this.links.closeAll();
    for (const region of this.remote.keys()) this.starts.endRegion(region);
    this.starts.forgetAudit();
    this.heads.forget();
    this.remote.clear();
    this.d.log.info({ reason }, 'globalmaster role released');
  }

  /** A link came up: the peer gets this region's interest, and masters here ask it for what they missed. */
  private linkUp(s: Session): void {
    this.clockMoved(s);
    this.sendSnapshot(s);
    this.sendRevocationsTo([s], this.d.revocations?.all() ?? []);
    this.emit({ type: 'linkUp', region: s.region });
    // Masters here ask the peer for everything it accepted since their last position.
    // (ABLY_NG_DEBUG_SKIP_REPLAY=1 breaks this on purpose, to show the chaos checker
    // catching the loss; never set it otherwise.)
    if (process.env.ABLY_NG_DEBUG_SKIP_REPLAY !== '1') {
      for (const n of this.d.ring().members) this.d.send(n, { type: 'relinked', region: s.region });
    }
  }

  /** This region's interest, whole, to a peer: in parts (interest.ts, snapshotParts), one after another. */
  private sendSnapshot(s: Session): void {
    for (const part of snapshotParts(this.local.snapshot())) s.send({ type: 'snapshot', ...part });
  }

  // ---- frames from peers ----------------------------------------------------------------

  private peerInterest(region: string): RemoteInterest {
    let r = this.remote.get(region);
    if (!r) this.remote.set(region, (r = new RemoteInterest()));
    return r;
  }

  private onFrame(s: Session, f: LinkFrame): void {
    switch (f.type) {
      case 'snapshot': {
        const whole = s.snapshotIn.add(f);
        if (!whole) return;
        // Interest it adds began while the link was down: it may wait too (InterestStarts.added).
        const told = this.remote.has(s.region);
        const peer = this.peerInterest(s.region);
        this.peerChanged(s.region, peer, peer.applySnapshot(whole.version, whole.channels), told);
        return;
      }
      case 'delta': {
        const peer = this.peerInterest(s.region);
        const changed = peer.applyDelta(f.delta);
        // Interest that began just now: the master will send its start, which goes first.
        if (changed) this.peerChanged(s.region, peer, changed, true);
        else s.send({ type: 'snapshotRequest' });
        return;
      }
      case 'snapshotRequest':
        this.sendSnapshot(s);
        return;
      case 'forward':
        s.entriesIn += f.batch.entries.length;
        if (f.replyTo && s.replaysAsked.get(f.batch.channel)?.id === f.replyTo) s.replaysAsked.delete(f.batch.channel);
        this.ingests.push(s, s.region, f.batch);
        return;
      case 'ack':
        s.acks++;
        s.lastAckAt = this.d.now();
        return;
      case 'replay':
        void answerReplay(this.replayDeps, s, { id: f.id, channel: f.channel, epoch: f.epoch, afterSeq: f.afterSeq, since: f.since });
        return;
      case 'heads':
        // To the masters here, but where a batch of the peer's is still being stored.
        s.headsIn += f.heads.length;
        for (const [node, heads] of headsByMaster(this.d.ring(), f.heads, (c) => this.ingests.busy(s.region, c))) {
          this.d.send(node, { type: 'originHeads', region: s.region, heads });
        }
        return;
      case 'ping':
        this.clockMoved(s);
        return;
      case 'revocations':
        this.d.revocations?.take(onOurClock(f.entries, s.region, this.d.region, s.clock.offsetMs() ?? this.clockOffsets.get(s.region) ?? 0));
        return;
      case 'occupancy': {
        // To the channel's master here (occupancy-board.ts), and a spare copy to its replica:
        // where this node's ring still has a master that just died, the replica is the
        // master now. A spare is taken only by a master that holds the channel's counts, so
        // a node whose ring is behind (it still masters the channel here) does not answer
        // "none" for the region (a review's reproduction).
        const ring = this.d.ring();
        const [owner, replica] = [ring.owner(f.channel), ring.replica(f.channel)];
        if (owner) this.d.send(owner, { ...f, type: 'occupancyRegion', region: s.region });
        if (replica && replica !== owner) this.d.send(replica, { ...f, type: 'occupancyRegion', region: s.region, spare: true });
        return;
      }
      case 'hello':
        return;
    }
  }

  /**
   * Token revocations new to this node (made here, or taken from a region) go to every
   * region linked; a region not linked has them all as its link comes up. Each region takes
   * a revocation once (by what it is, revocations.ts) and sends on only what was new to it,
   * so the flood ends, and one made in a region cut off from this one's link reaches it
   * through a third.
   */
  sendRevocations(entries: Revocation[]): void {
    if (this.active) this.sendRevocationsTo(this.links.allLive(), entries);
  }

  /**
   * Revocations to these links. Those this region has guesses to add to (withGuesses) go
   * once this region's nodes hold them with the guesses: taking them is a change, which
   * sends them on (sendRevocations) to every link, so each goes out once.
   */
  private sendRevocationsTo(links: Iterable<Session>, entries: Revocation[]): void {
    if (entries.length === 0) return;
    const out = withGuesses(entries, this.regionOffsets(), this.d.region);
    const plain = out.filter((e, i) => e === entries[i]);
    const guessed = out.filter((e, i) => e !== entries[i]);
    if (plain.length) for (const s of links) s.send({ type: 'revocations', entries: plain });
    if (guessed.length === 0) return;
    queueMicrotask(() => {
      try {
        this.d.revocations?.take(guessed);
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message }, 'guessed revocation times not taken');
      }
    });
  }

  /** The offset of each region's clock from ours measured over its link (live, or the last told while it is down). */
  private regionOffsets(): Map<string, number> {
    const offsets = new Map(this.clockOffsets);
    for (const s of this.links.allLive()) {
      const measured = s.clock.offsetMs();
      if (measured !== null) offsets.set(s.region, Math.round(measured));
    }
    return offsets;
  }


  /** A peer's interest in these channels began (it waits for its start) or ended; the masters are told. */
  private peerChanged(region: string, peer: RemoteInterest, changed: ChannelKey[], told: boolean): void {
    for (const channel of changed) {
      if (peer.has(channel)) this.starts.added(region, channel, told);
      else this.starts.end(region, channel);
    }
    this.pushInterest(changed);
  }

  /** Tells the masters of these channels which regions now want them. */
  private pushInterest(channels: ChannelKey[]): void {
    const ring = this.d.ring();
    const keep = this.unheard();
    for (const channel of channels) {
      const owner = ring.owner(channel);
      if (owner) this.tell(owner, channel, this.regionsFor(channel), keep);
    }
  }

  /** Tells a channel's master which other regions want it (and which regions' word it keeps). */
  private tell(master: NodeId, channel: ChannelKey, regions: RegionInterest[], keep?: string[]): void {
    this.d.log.debug({ channel, master, regions, keep }, 'master told which regions want the channel');
    this.d.send(master, { type: 'remoteInterest', channel, regions, ...(keep ? { keep } : {}) });
  }

  /** Peers not heard from since this node took the role: the masters keep what they have of them. */
  private unheard(): string[] {
    return this.d.peers.filter((p) => !this.remote.has(p.region)).map((p) => p.region);
  }

  private regionsFor(channel: ChannelKey): RegionInterest[] {
    const out: RegionInterest[] = [];
    for (const [region, r] of this.remote) {
      const since = r.since(channel);
      if (since === undefined) continue;
      const offsetMs = this.clockOffsets.get(region);
      out.push(offsetMs === undefined ? { region, since } : { region, since, offsetMs });
    }
    return out;
  }

  /**
   * A link's measure of its peer region's clock (link-clock.ts), at its hello and each ping:
   * where it moved by more than CLOCK_OFFSET_KEPT_WITHIN_MS from what the masters were told
   * (or they were told none), the masters of every channel that region wants are told
   * again, with it. The last measure stays while the link is down.
   */
  private clockMoved(s: Session): void {
    const measured = s.clock.offsetMs();
    if (measured === null) return;
    const told = this.clockOffsets.get(s.region);
    if (told !== undefined && Math.abs(measured - told) <= CLOCK_OFFSET_KEPT_WITHIN_MS) return;
    this.clockOffsets.set(s.region, Math.round(measured));
    const channels = this.remote.get(s.region)?.channelList() ?? [];
    if (channels.length) this.pushInterest(channels);
  }

  /**
   * Stores a peer's batch at this region's master (in order per channel: `ingests`); never
   * rejects. Tried only while its session lasts: retried on after the link or the role went,
   * it reached a master 7 s later, after newer messages (chaos seed 1120). An attempt
   * already sent may still land late; the master refuses its other epoch (ChannelState.ingest).
   */
  private async ingest(s: Session, batch: ForwardedBatch): Promise<void> {
    if (!s.ready) return;
    try {
      const { body } = await this.d.router.call(batch.channel, { type: 'ingest', batch }, CHANNEL_REQUEST_TIMEOUT_MS, () => s.ready);
      if (body.kind !== 'ingested') return;
      if (body.replayAfter !== null) this.askReplay(batch.channel, s.region, batch.epoch, body.replayAfter);
      else if (body.startSince !== undefined) this.askReplay(batch.channel, s.region, '', 0, body.startSince);
      else if (batch.entries.length) s.send({ type: 'ack', channel: batch.channel, epoch: batch.epoch, seq: body.seq });
    } catch (err) {
      // The master could not take it: the channel's next batch, the link's next session,
      // or (a channel gone quiet) the peer's head of it shows the hole, and it is asked for
      // again. Given up with its session, it is expected: debug.
      this.d.log[s.ready ? 'warn' : 'debug']({ channel: batch.channel, region: s.region, err: (err as Error).message }, 'forwarded messages not stored; asked for again at the next batch, link or head');
    }
  }

  /** Asks a peer for what it accepted after `afterSeq`, or (`since`) for the start of its stream. */
  private askReplay(channel: ChannelKey, region: string, epoch: string, afterSeq: number, since?: number): void {
    // Asked once per session while unanswered (REPLAY_RETRY_MS): a new session asks afresh,
    // as what the last one asked for went with it.
    const s = this.links.live(region);
    if (!s) return;
    const asked = s.replaysAsked.get(channel);
    if (asked !== undefined && performance.now() - asked.at < REPLAY_RETRY_MS) return;
    const id = this.nextReplayId++;
    s.replaysAsked.set(channel, { at: performance.now(), id });
    s.send({ type: 'replay', id, channel, epoch, afterSeq, ...(since !== undefined ? { since } : {}) });
  }

  // ---- messages from this region's nodes --------------------------------------------------

  /** A master's interest changed (or it reports it after taking a channel over). */
  onInterest(from: NodeId, channel: ChannelKey, on: boolean, since: number): void {
    if (!this.active) return;
    const delta = this.local.set(channel, on, since);
    if (delta) this.sendDelta(delta);
    // The master learns which other regions want the channel.
    this.tell(from, channel, this.regionsFor(channel), this.unheard());
  }

  /**
   * A channel's new messages (from its master or replica): to every region with interest;
   * or the start of a region's new interest (`to`), followed by the rest of it from history
   * where there is more, then by the live batches that waited for it.
   */
  onToRegions(batch: ForwardedBatch, to: string | null, more = false): void {
    if (!this.active) return;
    if (to !== null) {
      const s = this.links.live(to);
      if (!s) return;
      this.d.log.debug({ channel: batch.channel, peer: to, entries: batch.entries.length, more }, 'start of a new interest sent');
      this.forward(s, batch, to);
      if (more) void answerReplay(this.replayDeps, s, { id: 0, channel: batch.channel, epoch: batch.epoch, afterSeq: batch.entries.lastSeq }).then(() => this.sendStarted(s, batch.channel));
      else this.sendStarted(s, batch.channel);
      return;
    }
    // Per batch: a lookup per peer region, no iterator of the links made.
    for (const p of this.d.peers) {
      const s = this.wantingLink(p.region, batch.channel);
      if (!s || this.starts.hold(s.region, batch) || this.dropsLive(batch.channel)) continue;
      this.forward(s, batch, null);
    }
  }

  /** The live link to `region`, where that region wants the channel. */
  private wantingLink(region: string, channel: ChannelKey): Session | null {
    const s = this.links.live(region);
    return s && this.remote.get(s.region)?.has(channel) ? s : null;
  }

  /** A master here: this region's counts of a channel, for the regions linked that want it (occupancy-board.ts). */
  onOccupancy(msg: OccupancyRegion): void {
    if (!this.active) return;
    const { type: _type, region: _region, ...word } = msg;
    for (const p of this.d.peers) this.wantingLink(p.region, msg.channel)?.send({ ...word, type: 'occupancy' });
  }

  /** Debug: live batches of channels named ABLY_NG_DEBUG_DROP_FORWARDS… are lost (not starts or replays), for tests of heads. */
  private dropsLive(channel: ChannelKey): boolean {
    return this.dropPrefix !== null && splitChannelKey(channel).name.startsWith(this.dropPrefix);
  }

  /**
   * A start has gone: the live batches that waited for it follow. Not over a session that
   * ended, was replaced or closed with the role since (they wait for the link's current one).
   */
  private sendStarted(s: Session, channel: ChannelKey): void {
    if (!s.ready) return;
    for (const held of this.starts.started(s.region, channel)) this.forward(s, held, null);
  }

  private forward(s: Session, batch: ForwardedBatch, to: string | null): void {
    s.send({ type: 'forward', batch, replyTo: 0, toRegion: to });
    s.countOut(batch.entries.length, to === null ? 'live' : 'start');
  }

  /** Live batches that waited for a start that did not come (in time): sent as they are. */
  private sendHeld(r: Release): void {
    const s = this.links.live(r.region);
    if (s) for (const b of r.batches) this.forward(s, b, null);
    if (r.why !== 'known') this.d.log.warn({ peer: r.region, channel: r.batches[0]!.channel, batches: r.batches.length, why: r.why }, 'new interest: live batches sent without their start');
  }

  /** A master here asks a peer for what it missed. */
  onReplayWanted(w: ReplayWanted): void {
    if (this.active) this.askReplay(w.channel, w.region, w.epoch, w.afterSeq, w.since);
  }

  status(): GlobalmasterStatus {
    return {
      active: this.active,
      interest: this.local.size,
      interestStarts: { pending: this.starts.pending, ...this.starts.counts },
      linksOpen: this.active && this.linksOpen,
      links: this.d.peers.map((p) => this.links.status(p.region, this.remote.get(p.region)?.channelList().length ?? 0)),
    };
  }
}
