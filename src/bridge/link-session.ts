/**
 * One live stream of a region link (`Session`), with the gRPC options both ends use and
 * the redial backoff they imply.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as pb from '../gen/region.pb.js';
import type { Logger } from '../log.js';
import { encodeWithSharedWriter } from '../transport/pb-writer.js';
import { asBuffer } from '../transport/wire.js';
import { toPb, type LinkFrame } from './codec.js';
import type { HeadsTold } from './heads.js';
import { LinkClock, type ClockStatus } from './link-clock.js';
import { SnapshotParts } from './interest.js';

/** A link failing to come up for this long (ms) is warned of; sooner is normal (a peer still choosing its globalmaster). */
const DIAL_QUIET_MS = 5000;
/** Then it is logged once per this many dials. */
const LOG_EVERY_FAILURES = 30;
/** A peer that has not said hello in this long is dropped. */
export const HELLO_TIMEOUT_MS = 5000;

/**
 * Both ends ping a live link this often (ms), and close it when they have heard nothing
 * for LINK_SILENT_PINGS of these: gRPC's keepalive finds a dead connection, not a stream
 * whose other end has gone while its connection lives on.
 */
export const LINK_PING_MS = 1000;
export const LINK_SILENT_PINGS = 4;
/** Frames a live link may have waiting to be written before it is closed as too slow (links.ts, ping). */
export const MAX_QUEUED_FRAMES = 100_000;
/** A replay's answer waits at most this long for room on the link between pages. */
const DRAIN_WAIT_MS = 30_000;

/** Redial backoff for a link that dropped: starts here, doubles, caps below (plus jitter). */
const REDIAL_MIN_MS = 100;
const REDIAL_MAX_MS = 1000;

/** A peer region's link address. */
export type Peer = { region: string; host: string; port: number };

/** The redials of links that dropped or failed to come up: backoff per peer region, and logging that stays quiet. */
export class Redials {
  private readonly byRegion = new Map<string, { timer: NodeJS.Timeout | null; backoff: number; failures: number; since: number; warned: number }>();

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Dials `peer` again after the backoff (unless a redial is already due). */
  schedule(peer: Peer, reason: string, dial: () => void): void {
    const r = this.byRegion.get(peer.region) ?? { timer: null, backoff: REDIAL_MIN_MS, failures: 0, since: this.now(), warned: 0 };
    if (r.timer) return;
    r.failures++;
    // Once failing for DIAL_QUIET_MS, then one in LOG_EVERY_FAILURES: a long outage is visible but quiet.
    const failingMs = this.now() - r.since;
    const warn = failingMs >= DIAL_QUIET_MS && (r.warned === 0 || r.failures - r.warned >= LOG_EVERY_FAILURES);
    if (warn) r.warned = r.failures;
    this.log[warn ? 'warn' : 'debug']({ peer: peer.region, address: `${peer.host}:${peer.port}`, failures: r.failures, failingMs, reason }, 'region link dial failed; redialling');
    const delay = r.backoff + Math.random() * 100;
    r.backoff = Math.min(r.backoff * 2, REDIAL_MAX_MS);
    r.timer = setTimeout(() => {
      r.timer = null;
      dial();
    }, delay);
    this.byRegion.set(peer.region, r);
  }

  /** The link to `region` is up: its next failure starts from the shortest backoff. */
  up(region: string): void {
    this.byRegion.delete(region);
  }

  clear(): void {
    for (const r of this.byRegion.values()) if (r.timer) clearTimeout(r.timer);
    this.byRegion.clear();
  }
}

/**
 * gRPC channel options. Keepalive pings every 2 s, dead after 2 s without an answer: a
 * cut link is noticed within ~4 s. Streams have no deadline (they live as long as the link).
 */
export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 2000, // ms between pings
  'grpc.keepalive_timeout_ms': 2000, // ms to wait for a ping's answer
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': REDIAL_MIN_MS,
  'grpc.max_reconnect_backoff_ms': REDIAL_MAX_MS,
  'grpc.max_receive_message_length': 256 * 1024 * 1024, // bytes: a replay page of big messages
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};
export const SERVER_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 2000,
  'grpc.keepalive_timeout_ms': 2000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 1000, // ms: accept the peer's 2 s pings
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};

/** A region-link frame's bytes, encoded with the process's shared writer (pb-writer.ts). */
function serializeFrame(frame: pb.LinkFrame): Buffer {
  return asBuffer(encodeWithSharedWriter(pb.LinkFrame.encode, frame));
}

/** The generated RegionLink service, its frames serialized as above rather than each with a writer of its own. */
export const REGION_LINK_SERVICE = {
  link: { ...pb.RegionLinkService.link, requestSerialize: serializeFrame, responseSerialize: serializeFrame },
} as const;

/** The RegionLink client for that service definition. */
export const RegionLinkClient = grpc.makeGenericClientConstructor(REGION_LINK_SERVICE, 'ablyng.region.v1.RegionLink') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => pb.RegionLinkClient;

type Stream = grpc.ClientDuplexStream<pb.LinkFrame, pb.LinkFrame> | grpc.ServerDuplexStream<pb.LinkFrame, pb.LinkFrame>;

/** One live stream to a peer region. */
/** The globalmaster's part of a node's `/health` (`regionLinks`). */
export interface GlobalmasterStatus {
  active: boolean;
  interest: number;
  /** Peers' new interests waiting for their start, how many waited, and how many were released without it. */
  interestStarts: { pending: number; waited: number; timedOut: number; full: number };
  /** Whether it takes region links: not while the role's first interest audit is under way. */
  linksOpen: boolean;
  links: {
    region: string;
    up: boolean;
    since: number | null;
    remoteInterest: number;
    entriesIn: number;
    entriesOut: number;
    /** Of entriesOut: those sent as the start of a peer's new interest, and in answer to the peer's replay asks. */
    startEntriesOut: number;
    replayEntriesOut: number;
    acksIn: number;
    lastAckAt: number | null;
    /** Heads of quiet channels told each way (heads.ts). */
    headsIn: number;
    headsOut: number;
    /** How far the peer region's wall clock is from ours, as this link measures it (link-clock.ts); null: not yet. */
    clock: ClockStatus | null;
  }[];
}

export class Session {
  /** Said hello and not ended (nor closed, nor replaced): what is sent over it counts. */
  ready = false;
  since = 0;
  /** When a frame (any, pings too) last came in (performance.now()). */
  lastIn = 0;
  framesIn = 0;
  framesOut = 0;
  /** Messages (entries) forwarded over this link, each way; of those out, how many went as starts and as replays. */
  entriesIn = 0;
  entriesOut = 0;
  startEntriesOut = 0;
  replayEntriesOut = 0;
  /** Batches of ours the peer region's masters acknowledged (ingested), and when the last was. */
  acks = 0;
  lastAckAt: number | null = null;
  /**
   * Replays asked of the peer over this session and not yet answered: channel → when, and
   * the ask's id (only an answer to the latest ask clears it: pages of an earlier answer
   * that the master refused must not each ask again).
   */
  /** Replays asked for and not yet answered: when (performance.now()), and the ask's id. */
  readonly replaysAsked = new Map<string, { at: number; id: number }>();
  /** Heads of quiet channels told the peer over this session (heads.ts), and how many each way. */
  readonly headsTold: HeadsTold = new Map();
  headsIn = 0;
  headsOut = 0;
  /** The peer region's clock, as measured over this session. */
  readonly clock = new LinkClock();
  /** The peer's interest snapshot, as its parts come. */
  readonly snapshotIn = new SnapshotParts();

  constructor(
    readonly region: string,
    readonly stream: Stream,
  ) {}

  /** Sends a frame; false where the stream has more waiting than it likes (drained() waits for room). */
  send(f: LinkFrame): boolean {
    this.framesOut++;
    return this.stream.write(toPb(f));
  }

  /** Frames written and still waiting to go (the peer, or the network to it, slower than what is sent). */
  get queued(): number {
    return this.stream.writableLength;
  }

  /** Resolves once the stream has room again, it ends, or `maxMs` passed. */
  drained(maxMs = DRAIN_WAIT_MS): Promise<void> {
    if (!this.ready || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.stream.once('drain', done);
      this.stream.once('close', done);
    });
  }

  /** Entries sent over this session: live, as (the rest of) the start of a peer's new interest, or in answer to its replay ask. */
  countOut(entries: number, as: 'live' | 'start' | 'replay'): void {
    this.entriesOut += entries;
    if (as === 'start') this.startEntriesOut += entries;
    else if (as === 'replay') this.replayEntriesOut += entries;
  }

  /** Ends the stream; nothing more goes over it (answers still under way stop: `ready`). */
  close(): void {
    this.ready = false;
    if ('cancel' in this.stream) this.stream.cancel();
    else this.stream.end();
  }
}

type LinkStatus = GlobalmasterStatus['links'][number];
type Totals = { in: number; out: number; startsOut: number; replaysOut: number; acks: number; lastAckAt: number | null; headsIn: number; headsOut: number };
const noTotals = (): Totals => ({ in: 0, out: 0, startsOut: 0, replaysOut: 0, acks: 0, lastAckAt: null, headsIn: 0, headsOut: 0 });

/** What the ended sessions of each link carried, for `/health` (the live session counts its own). */
export class LinkTotals {
  private readonly byRegion = new Map<string, Totals>();

  ended(s: Session): void {
    const t = this.byRegion.get(s.region) ?? noTotals();
    t.in += s.entriesIn;
    t.out += s.entriesOut;
    t.startsOut += s.startEntriesOut;
    t.replaysOut += s.replayEntriesOut;
    t.acks += s.acks;
    t.lastAckAt = s.lastAckAt ?? t.lastAckAt;
    t.headsIn += s.headsIn;
    t.headsOut += s.headsOut;
    this.byRegion.set(s.region, t);
  }

  /** A link's status: its live session `s` (if any) and the ended ones together. */
  status(region: string, s: Session | undefined, remoteInterest: number): LinkStatus {
    const t = this.byRegion.get(region) ?? noTotals();
    return {
      region,
      up: !!s?.ready,
      since: s?.ready ? s.since : null,
      remoteInterest,
      entriesIn: t.in + (s?.entriesIn ?? 0),
      entriesOut: t.out + (s?.entriesOut ?? 0),
      startEntriesOut: t.startsOut + (s?.startEntriesOut ?? 0),
      replayEntriesOut: t.replaysOut + (s?.replayEntriesOut ?? 0),
      acksIn: t.acks + (s?.acks ?? 0),
      lastAckAt: s?.lastAckAt ?? t.lastAckAt,
      headsIn: t.headsIn + (s?.headsIn ?? 0),
      headsOut: t.headsOut + (s?.headsOut ?? 0),
      clock: s?.ready ? s.clock.status() : null,
    };
  }
}

export function sameSecret(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
