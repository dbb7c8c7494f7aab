/**
 * The region links of a globalmaster: its gRPC server, the links it dials (to regions
 * whose names sort after its own) and those it takes, their hellos, redials and pings.
 * What the frames mean is the Globalmaster's (`hooks`); this keeps one live Session per
 * peer region, each belonging to the role's term it began in.
 */
import * as grpc from '@grpc/grpc-js';
import * as pb from '../gen/region.pb.js';
import type { Logger } from '../log.js';
import type { NodeId } from '../transport/messages.js';
import { REGION_PROTOCOL, VersionRefusals } from '../transport/protocol-version.js';
import { hostPort } from '../ports.js';
import { fromPb, type LinkFrame } from './codec.js';
import {
  CLIENT_OPTIONS,
  HELLO_TIMEOUT_MS,
  LINK_PING_MS,
  LINK_SILENT_PINGS,
  LinkTotals,
  MAX_QUEUED_FRAMES,
  Redials,
  REGION_LINK_SERVICE,
  RegionLinkClient,
  SERVER_OPTIONS,
  Session,
  sameSecret,
  type GlobalmasterStatus,
  type Peer,
} from './link-session.js';

/** Metadata carrying the deployment secret on every link. */
export const SECRET_METADATA = 'x-ablyng-deployment-secret';

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface LinksDeps {
  self: NodeId;
  region: string;
  deployment: string;
  peers: Peer[];
  grpcHost: string;
  grpcPort: number;
  secret: string;
  /** null: plain text (allowed only when the topology says so). */
  tls: TlsMaterial | null;
  incarnation(): number;
  now(): number;
  log: Logger;
  /** The region protocol spoken (tests play another build); REGION_PROTOCOL by default. */
  protocol?: number;
  /** How often live links are pinged (ms); LINK_PING_MS unless a test wants it faster. */
  linkPingMs?: number;
}

/** What the globalmaster makes of its links. */
export interface LinkHooks {
  /** Why links are not taken (nor dialled) now; null when they are. */
  refusal(): string | null;
  /** The role's term: it moves on when the role is released, and a link belongs to the term it began in. */
  term(): number;
  /** A link said hello and is up (`node`: the peer's globalmaster). */
  up(s: Session, node: string): void;
  /** A frame other than hello on a live link. */
  frame(s: Session, f: LinkFrame): void;
  /** A live link went. */
  down(s: Session, reason: string): void;
}

export class RegionLinks {
  private readonly server = new grpc.Server(SERVER_OPTIONS);
  private readonly sessions = new Map<string, Session>();
  private readonly clients = new Map<string, grpc.Client>();
  private readonly redial: Redials;
  /** What earlier sessions of each link carried (the live one counts its own). */
  private readonly totals = new LinkTotals();
  private readonly version: VersionRefusals;
  private pingTimer: NodeJS.Timeout | null = null;
  /** When the last ping tick ran (performance.now()). */
  private lastTick = 0;

  constructor(
    private readonly d: LinksDeps,
    private readonly hooks: LinkHooks,
  ) {
    const advice = 'the regions stay apart, as in a partition, until both run one protocol';
    this.redial = new Redials(() => performance.now(), d.log);
    this.version = new VersionRefusals(d.log, 'region link', 'region protocol', d.protocol ?? REGION_PROTOCOL, advice);
    this.server.addService(REGION_LINK_SERVICE, { link: (call: grpc.ServerDuplexStream<pb.LinkFrame, pb.LinkFrame>) => this.accept(call) });
  }

  async listen(): Promise<void> {
    const creds = this.d.tls
      ? grpc.ServerCredentials.createSsl(this.d.tls.ca, [{ cert_chain: this.d.tls.cert, private_key: this.d.tls.key }], true)
      : grpc.ServerCredentials.createInsecure();
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(hostPort(this.d.grpcHost, this.d.grpcPort), creds, (err) => (err ? reject(err) : resolve())),
    );
  }

  async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }

  /** Links are open (the role's first audit is done): dials the peers this region dials, and pings what is up. */
  opened(): void {
    for (const peer of this.d.peers) if (this.d.region < peer.region) this.dial(peer);
    const pingMs = this.d.linkPingMs ?? LINK_PING_MS;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.lastTick = performance.now();
    this.pingTimer = setInterval(() => this.ping(pingMs), pingMs);
    this.pingTimer.unref();
  }

  /** The role was released: every link closed, no redial. */
  closeAll(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.redial.clear();
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /** The live session of `region`'s link, if it is up. */
  live(region: string): Session | undefined {
    const s = this.sessions.get(region);
    return s?.ready ? s : undefined;
  }

  /** Every live session. */
  *allLive(): Iterable<Session> {
    for (const s of this.sessions.values()) if (s.ready) yield s;
  }

  status(region: string, remoteInterest: number): GlobalmasterStatus['links'][number] {
    return this.totals.status(region, this.sessions.get(region), remoteInterest);
  }

  /**
   * Pings every live link, and closes one that has said nothing for LINK_SILENT_PINGS
   * pings. Closed, it is not ready, so the dialling end drops its connection too and
   * dials afresh, through the peer's balancer to whichever node holds the role now.
   * Times are monotonic (a step of the wall clock closes nothing).
   */
  private ping(pingMs: number): void {
    const now = performance.now();
    // Just back from a stall of our own (a long GC, SIGSTOP): what the peers sent meanwhile
    // is still unread, and every link would look silent. Read first; judge at the next tick.
    const stalled = now - this.lastTick > 2 * pingMs;
    this.lastTick = now;
    // (A session closed here leaves the map when its stream ends: deleting while iterating a Map is safe.)
    for (const s of this.sessions.values()) {
      if (!s.ready) continue;
      if (s.queued > MAX_QUEUED_FRAMES) {
        // The peer, or the network to it, takes less than the channels send: what piles up
        // here grows without end. Closed, the link comes up again and the masters' replays
        // fetch what it would have carried, from their histories (paced: replay.ts).
        this.d.log.warn({ peer: s.region, queued: s.queued }, 'region link too slow for what it carries; closing it');
        s.close();
        continue;
      }
      if (stalled || now - s.lastIn < pingMs * LINK_SILENT_PINGS) {
        this.sendPing(s);
        continue;
      }
      this.d.log.warn({ peer: s.region, silentMs: Math.round(now - s.lastIn) }, 'region link silent; closing it');
      s.close();
    }
  }

  /** A ping, with our clock and the last of the peer's we had (link-clock.ts). */
  private sendPing(s: Session): void {
    s.send({ type: 'ping', ...s.clock.ping(this.d.now(), performance.now()) });
  }

  private credentials(): grpc.ChannelCredentials {
    return this.d.tls ? grpc.credentials.createSsl(this.d.tls.ca, this.d.tls.key, this.d.tls.cert) : grpc.credentials.createInsecure();
  }

  private dial(peer: Peer): void {
    if (this.hooks.refusal() !== null || this.sessions.has(peer.region)) return;
    const term = this.hooks.term();
    let client = this.clients.get(peer.region);
    if (!client) {
      client = new RegionLinkClient(hostPort(peer.host, peer.port), this.credentials(), CLIENT_OPTIONS);
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
      if (term === this.hooks.term()) this.redial.schedule(peer, reason, () => this.dial(peer));
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
    const refusal = this.hooks.refusal();
    if (refusal !== null) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: refusal });
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
    const term = this.hooks.term();
    const helloTimer = setTimeout(() => {
      this.d.log.warn({ region: region || '(unknown)' }, 'region link said no hello; dropping it');
      session.close();
    }, HELLO_TIMEOUT_MS);
    const hello = (): LinkFrame => ({ type: 'hello', region: this.d.region, deployment: this.d.deployment, incarnation: this.d.incarnation(), node: this.d.self, protocol: this.version.ours, now: this.d.now() });
    // The accepting end says hello at once; the dialling end answers its hello (before
    // judging it, so the other end hears of our version either way). Each hello's time is
    // then read once the connection is there: the first measure of the two regions' clocks
    // is off by the hello's way across, not by the dial (link-clock.ts).
    const dialled = session.region !== '';
    if (!dialled) session.send(hello());
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
      live.lastIn = performance.now();
      // (Releasing the role moves the term on.)
      if (term !== this.hooks.term()) {
        clearTimeout(helloTimer);
        session.close();
        return;
      }
      if (f.type === 'hello') {
        clearTimeout(helloTimer);
        if (dialled && !live.ready) session.send(hello());
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
        live.since = this.d.now();
        live.lastIn = performance.now();
        live.clock.hello(f.now, this.d.now());
        this.sendPing(live);
        this.redial.up(region);
        this.d.log.info({ peer: region, node: f.node }, 'region link up');
        this.hooks.up(live, f.node);
        return;
      }
      if (!live.ready) return;
      if (f.type === 'ping') {
        live.clock.pinged(f, this.d.now(), live.lastIn);
        if (live.clock.owesEcho()) this.sendPing(live);
      }
      this.hooks.frame(live, f);
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
        this.d.log.warn({ peer: region, reason }, 'region link down');
        this.hooks.down(live, reason);
      }
      onGone(reason);
    };
    stream.on('error', (err: Error) => end(err.message));
    stream.on('end', () => end('ended'));
    stream.on('close', () => end('closed'));
  }
}
