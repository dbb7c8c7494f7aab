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
import * as grpc from '@grpc/grpc-js';
import { splitChannelKey, type ChannelKey } from '../channel/entry.js';
import type { ChannelRouter } from '../channel/router.js';
import type { Ring } from '../cluster/ring.js';
import { CHANNEL_REQUEST_TIMEOUT_MS } from '../config/defaults.js';
import * as pb from '../gen/region.pb.js';
import type { Logger } from '../log.js';
import type { ForwardedBatch, MasteredChannel, NodeId, NodeMessage, ReplayWanted } from '../transport/messages.js';
import { REGION_PROTOCOL, VersionRefusals } from '../transport/protocol-version.js';
import type { Rpc } from '../transport/rpc.js';
import { fromPb, type LinkFrame } from './codec.js';
import { LocalInterest, RemoteInterest, type InterestDelta } from './interest.js';
import { IngestQueue } from './ingest-queue.js';
import { InterestStarts, type Release } from './interest-start.js';
import { chunks, headsByMaster, pruneTold, QuietHeads } from './heads.js';
import { answerReplay, type ReplayDeps } from './replay.js';
import { CLIENT_OPTIONS, HELLO_TIMEOUT_MS, LINK_PING_MS, LINK_SILENT_PINGS, LinkTotals, Redials, REGION_LINK_SERVICE, RegionLinkClient, SERVER_OPTIONS, Session, sameSecret, type GlobalmasterStatus, type Peer } from './link-session.js';

/** The ring key whose owner holds the globalmaster role. */
export const GLOBALMASTER_KEY = '__globalmaster';
/** Metadata carrying the deployment secret on every link. */
export const SECRET_METADATA = 'x-ablyng-deployment-secret';
/** A replay asked for and not answered in this long may be asked for again. */
const REPLAY_RETRY_MS = 5000;
/** How often the globalmaster checks its interest against the masters' (ms). */
const INTEREST_AUDIT_MS = 5000;
/** Every this many audits, masters list every channel they hold, not only those with interest. */
const FULL_AUDIT_EVERY = 6;
/** A new interest's live batches wait at most this long, and this many bytes, for its start (interest-start.ts). */
const START_WAIT_MS = 2000;
const START_WAIT_MAX_BYTES = 4 * 1024 * 1024;

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface GlobalmasterDeps {
  self: NodeId;
  region: string;
  deployment: string;
  /** Peer regions and where to dial them. */
  peers: Peer[];
  grpcHost: string;
  grpcPort: number;
  secret: string;
  /** null: plain text (allowed only when the topology says so). */
  tls: TlsMaterial | null;
  ring(): Ring;
  hasQuorum(): boolean;
  incarnation(): number;
  rpc: Rpc;
  send(to: NodeId, msg: NodeMessage): void;
  router: ChannelRouter;
  now(): number;
  log: Logger;
  /** Interest audit period (ms); INTEREST_AUDIT_MS unless a test wants it faster. */
  interestAuditMs?: number;
  /** The region protocol spoken (tests play another build); REGION_PROTOCOL by default. */
  protocol?: number;
  /** How often live links are pinged (ms); LINK_PING_MS unless a test wants it faster. */
  linkPingMs?: number;
}

export type LinkEvent = { type: 'linkUp'; region: string } | { type: 'linkDown'; region: string; reason: string };

export class Globalmaster {
  private readonly server = new grpc.Server(SERVER_OPTIONS);
  private active = false;
  private local = new LocalInterest();
  private readonly remote = new Map<string, RemoteInterest>();
  private readonly sessions = new Map<string, Session>();
  private readonly clients = new Map<string, grpc.Client>();
  private readonly redial: Redials;
  /** A peer's batches on their way to this region's masters, in order per channel. */
  private readonly ingests = new IngestQueue<Session>((s, batch) => this.ingest(s, batch));
  /** New interests of peers, whose live batches wait for their start. */
  private readonly starts = new InterestStarts({ timeoutMs: START_WAIT_MS, maxBytes: START_WAIT_MAX_BYTES }, (r) => this.sendHeld(r));
  /** Heads of quiet channels, told to the regions that want them (heads.ts). */
  private readonly heads = new QuietHeads();
  private nextReplayId = 1;
  private readonly listeners: ((e: LinkEvent) => void)[] = [];
  private stopped = false;
  /** Goes up each time the role is taken, so work begun in an earlier term is dropped. */
  private term = 0;
  private auditTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** Links are taken once this term's first interest audit is done: before, a peer would get an empty snapshot. */
  private linksOpen = false;
  private audits = 0;
  /** The term whose audit is under way (-1: none), so audits of one term never overlap. */
  private auditing = -1;
  /** What earlier sessions of each link carried (the live one counts its own). */
  private readonly totals = new LinkTotals();
  private readonly version: VersionRefusals;
  private readonly dropPrefix = process.env.ABLY_NG_DEBUG_DROP_FORWARDS || null;
  private readonly replayDeps: ReplayDeps;

  constructor(private readonly d: GlobalmasterDeps) {
    const advice = 'the regions stay apart, as in a partition, until both run one protocol';
    this.replayDeps = { region: d.region, router: d.router, log: d.log };
    this.redial = new Redials(() => d.now(), d.log);
    this.version = new VersionRefusals(d.log, 'region link', 'region protocol', d.protocol ?? REGION_PROTOCOL, advice);
    this.server.addService(REGION_LINK_SERVICE, { link: (call: grpc.ServerDuplexStream<pb.LinkFrame, pb.LinkFrame>) => this.accept(call) });
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
    const creds = this.d.tls
      ? grpc.ServerCredentials.createSsl(this.d.tls.ca, [{ cert_chain: this.d.tls.cert, private_key: this.d.tls.key }], true)
      : grpc.ServerCredentials.createInsecure();
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`${this.d.grpcHost}:${this.d.grpcPort}`, creds, (err) => (err ? reject(err) : resolve())),
    );
    this.evaluate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deactivate('node stopping');
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
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
    for (const peer of this.d.peers) if (this.d.region < peer.region) this.dial(peer);
    for (const s of this.sessions.values()) if (s.ready) s.send({ type: 'snapshot', ...this.local.snapshot() });
    this.auditTimer = setInterval(() => void this.auditInterest(), this.d.interestAuditMs ?? INTEREST_AUDIT_MS);
    this.auditTimer.unref();
    const pingMs = this.d.linkPingMs ?? LINK_PING_MS;
    this.pingTimer = setInterval(() => this.pingLinks(pingMs * LINK_SILENT_PINGS), pingMs);
    this.pingTimer.unref();
  }

  /**
   * Pings every live link, and closes one that has said nothing for `silentMs`. Closed,
   * it is not ready, so the dialling end drops its connection too and dials afresh,
   * through the peer's balancer to whichever node holds the role now.
   */
  private pingLinks(silentMs: number): void {
    const now = this.d.now();
    for (const s of [...this.sessions.values()]) {
      if (!s.ready) continue;
      if (now - s.lastIn < silentMs) {
        s.send({ type: 'ping' });
        continue;
      }
      this.d.log.warn({ peer: s.region, silentMs: now - s.lastIn }, 'region link silent; closing it');
      s.close();
    }
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
      const deltas = this.local.audit(listed, complete);
      for (const delta of deltas) this.sendDelta(delta);
      if (this.audits > 1 && (deltas.length || mastersTold)) {
        this.d.log.warn({ interestChanges: deltas.length, mastersTold }, 'interest audit mended reports lost while the role moved');
      }
    } finally {
      if (this.auditing === term) this.auditing = -1;
    }
  }

  /** Tells each peer the heads of the quiet channels it wants (heads.ts). */
  private tellHeads(mastered: readonly MasteredChannel[], all: boolean): void {
    const lists = this.heads.audit(mastered, (r) => (this.sessions.get(r)?.ready ? this.sessions.get(r)!.headsTold : null), all);
    const listed = this.heads.listed;
    for (const s of this.sessions.values()) {
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
    for (const s of this.sessions.values()) if (s.ready) s.send({ type: 'delta', delta });
  }

  private deactivate(reason: string): void {
    this.active = false;
    this.term++;
    if (this.auditTimer) clearInterval(this.auditTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.auditTimer = this.pingTimer = null;
    this.redial.clear();
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    for (const region of this.remote.keys()) this.starts.endRegion(region);
    this.starts.forgetAudit();
    this.heads.forget();
    this.remote.clear();
    this.d.log.info({ reason }, 'globalmaster role released');
  }

  // ---- links ------------------------------------------------------------------------

  private credentials(): grpc.ChannelCredentials {
    return this.d.tls ? grpc.credentials.createSsl(this.d.tls.ca, this.d.tls.key, this.d.tls.cert) : grpc.credentials.createInsecure();
  }

  private dial(peer: Peer): void {
    if (!this.active || !this.linksOpen || this.sessions.has(peer.region)) return;
    const term = this.term;
    let client = this.clients.get(peer.region);
    if (!client) {
      client = new RegionLinkClient(`${peer.host}:${peer.port}`, this.credentials(), CLIENT_OPTIONS);
      this.clients.set(peer.region, client);
    }
    const md = new grpc.Metadata();
    md.set(SECRET_METADATA, this.d.secret);
    const stream = (client as unknown as pb.RegionLinkClient).link(md);
    const session = new Session(peer.region, stream);
    this.attach(session, (reason) => {
      // A link that never came up may have landed, through the peer's balancer, on a node
      // that is not (or no longer) its globalmaster; gRPC would reuse that connection for
      // every new stream, so drop it and let the next dial connect afresh.
      if (!session.ready && this.clients.get(peer.region) === client) {
        this.clients.delete(peer.region);
        client.close();
      }
      // A link of an earlier term redials nothing (the term moves on when the role is released).
      if (term === this.term) this.redial.schedule(peer, reason, () => this.dial(peer));
    });
  }

  /** An incoming link: only the globalmaster takes it, and only with the deployment secret. */
  private accept(call: grpc.ServerDuplexStream<pb.LinkFrame, pb.LinkFrame>): void {
    const given = call.metadata.get(SECRET_METADATA)[0];
    if (typeof given !== 'string' || !sameSecret(given, this.d.secret)) {
      this.d.log.warn({ peer: call.getPeer() }, 'refused a region link without the deployment secret');
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'deployment secret missing or wrong' });
      return;
    }
    if (!this.active || !this.linksOpen) {
      const details = this.active ? 'taking the globalmaster role: gathering interest' : 'not the globalmaster of this region';
      call.emit('error', { code: grpc.status.UNAVAILABLE, details });
      return;
    }
    this.attach(new Session('', call), () => undefined);
  }

  private attach(session: Session, onGone: (reason: string) => void): void {
    const stream = session.stream;
    let region = session.region;
    // A session belongs to the term it began in: one whose hello comes after the role was
    // released must not make the node think, when it takes the role again, that it has
    // heard from that peer (its interest would then be dropped at the masters).
    const term = this.term;
    const helloTimer = setTimeout(() => {
      this.d.log.warn({ region: region || '(unknown)' }, 'region link said no hello; dropping it');
      session.close();
    }, HELLO_TIMEOUT_MS);
    session.send({ type: 'hello', region: this.d.region, deployment: this.d.deployment, incarnation: this.d.incarnation(), node: this.d.self, protocol: this.version.ours });
    let live: Session = session;
    stream.on('data', (raw: pb.LinkFrame) => {
      let f: LinkFrame;
      try {
        f = fromPb(raw, region || '?');
      } catch (err) {
        this.d.log.warn({ region, err: (err as Error).message }, 'bad frame on region link; dropping it');
        session.close();
        return;
      }
      live.framesIn++;
      live.lastIn = this.d.now();
      // (Releasing the role moves the term on.)
      if (term !== this.term) {
        clearTimeout(helloTimer);
        session.close();
        return;
      }
      if (f.type === 'hello') {
        clearTimeout(helloTimer);
        if (f.deployment !== this.d.deployment || (region && f.region !== region) || !this.d.peers.some((p) => p.region === f.region)) {
          this.d.log.warn({ claimed: f.region, deployment: f.deployment }, 'region link from an unknown region; dropping it');
          session.close();
          return;
        }
        if (!this.version.accepts(f.region, f.protocol)) {
          session.close();
          return;
        }
        region = f.region;
        live = region === session.region ? session : Object.assign(new Session(region, stream), { framesIn: 1 });
        const old = this.sessions.get(region);
        if (old && old !== live) old.close();
        this.sessions.set(region, live);
        live.ready = true;
        live.since = live.lastIn = this.d.now();
        this.redial.up(region);
        this.d.log.info({ peer: region, node: f.node }, 'region link up');
        live.send({ type: 'snapshot', ...this.local.snapshot() });
        this.emit({ type: 'linkUp', region });
        // Masters here ask the peer for everything it accepted since their last position.
        // (ABLY_NG_DEBUG_SKIP_REPLAY=1 breaks this on purpose, to show the chaos checker
        // catching the loss; never set it otherwise.)
        if (process.env.ABLY_NG_DEBUG_SKIP_REPLAY !== '1') {
          for (const n of this.d.ring().members) this.d.send(n, { type: 'relinked', region });
        }
        return;
      }
      if (!live.ready) return;
      this.onFrame(live, f);
    });
    let gone = false;
    const end = (reason: string) => {
      if (gone) return;
      gone = true;
      live.ready = false;
      clearTimeout(helloTimer);
      if (region && this.sessions.get(region) === live) {
        this.sessions.delete(region);
        this.totals.ended(live);
        this.starts.endRegion(region);
        this.d.log.warn({ peer: region, reason }, 'region link down');
        this.emit({ type: 'linkDown', region, reason });
      }
      onGone(reason);
    };
    stream.on('error', (err: Error) => end(err.message));
    stream.on('end', () => end('ended'));
    stream.on('close', () => end('closed'));
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
        // Interest it adds began while the link was down: it may wait too (InterestStarts.added).
        const told = this.remote.has(s.region);
        const peer = this.peerInterest(s.region);
        this.peerChanged(s.region, peer, peer.applySnapshot(f.version, f.channels), told);
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
        s.send({ type: 'snapshot', ...this.local.snapshot() });
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
      case 'hello':
      case 'ping':
        return;
    }
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
  private tell(master: NodeId, channel: ChannelKey, regions: { region: string; since: number }[], keep?: string[]): void {
    this.d.log.debug({ channel, master, regions, keep }, 'master told which regions want the channel');
    this.d.send(master, { type: 'remoteInterest', channel, regions, ...(keep ? { keep } : {}) });
  }

  /** Peers not heard from since this node took the role: the masters keep what they have of them. */
  private unheard(): string[] {
    return this.d.peers.filter((p) => !this.remote.has(p.region)).map((p) => p.region);
  }

  private regionsFor(channel: ChannelKey): { region: string; since: number }[] {
    const out: { region: string; since: number }[] = [];
    for (const [region, r] of this.remote) {
      const since = r.since(channel);
      if (since !== undefined) out.push({ region, since });
    }
    return out;
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
    const s = this.sessions.get(region);
    if (!s?.ready) return;
    const asked = s.replaysAsked.get(channel);
    if (asked !== undefined && this.d.now() - asked.at < REPLAY_RETRY_MS) return;
    const id = this.nextReplayId++;
    s.replaysAsked.set(channel, { at: this.d.now(), id });
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
    for (const s of this.sessions.values()) {
      if (!s.ready) continue;
      if (to !== null) {
        if (s.region !== to) continue;
        this.d.log.debug({ channel: batch.channel, peer: to, entries: batch.entries.length, more }, 'start of a new interest sent');
        this.forward(s, batch, to);
        if (more) void answerReplay(this.replayDeps, s, { id: 0, channel: batch.channel, epoch: batch.epoch, afterSeq: batch.entries.lastSeq }).then(() => this.sendStarted(s, batch.channel));
        else this.sendStarted(s, batch.channel);
        continue;
      }
      if (!this.remote.get(s.region)?.has(batch.channel) || this.starts.hold(s.region, batch) || this.dropsLive(batch.channel)) continue;
      this.forward(s, batch, null);
    }
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
    const s = this.sessions.get(r.region);
    if (s?.ready) for (const b of r.batches) this.forward(s, b, null);
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
      links: this.d.peers.map((p) => this.totals.status(p.region, this.sessions.get(p.region), this.remote.get(p.region)?.channelList().length ?? 0)),
    };
  }
}
