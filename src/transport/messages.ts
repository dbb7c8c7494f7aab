/**
 * Node-to-node messages of a region, as domain types. Each transport carries them its
 * own way (the in-memory one by reference, the mesh and NATS ones as protobuf through
 * their codec); nothing else knows how.
 *
 * Requests carry a request id (`rid`) and are answered by exactly one `reply` with the
 * same rid; the rest are one-way.
 */
import type { Revocation } from '../auth/revocations.js';
import type { ErrorInfo } from '../errors.js';
import type { SubDigest } from '../channel/sub-digest.js';
import type { ChannelKey, LogEntry } from '../channel/entry.js';
import type { HistoryQuery } from '../channel/log.js';
import type { ChannelSnapshot, PresenceHold } from '../channel/state.js';
import type { Announced, RegionInterest } from '../channel/channel-interest.js';
import type { Gap } from '../channel/gaps.js';
import type { OriginPosition } from '../protocol/serial.js';
import type { Message, PresenceMessage } from '../protocol/message.js';
import type { ForwardedEntries } from './entry-lists.js';
import type { Occupancy, OccupancyRegion, OccupancyReport, OccupancyRequest, OccupancyTotals } from './occupancy-messages.js';

export type { Occupancy, OccupancyRegion, OccupancyReport, OccupancyRequest, OccupancyTotals, RegionWord } from './occupancy-messages.js';

export type NodeId = string;
/** A node's addresses, carried in heartbeats so that joiners can be reached. */
export interface NodeAddress {
  host: string;
  port: number;
  meshPort: number;
}

export type MemberState = 'up' | 'suspect' | 'down' | 'left';
export interface MemberInfo {
  node: NodeId;
  incarnation: number;
  state: MemberState;
  address: NodeAddress;
}
/** Sent by every node to every other at the heartbeat interval. */
export interface Heartbeat {
  type: 'heartbeat';
  node: NodeId;
  incarnation: number;
  address: NodeAddress;
  /** The sender's view of the region, so that joiners learn of every member. */
  members: MemberInfo[];
  /** Set when the node is shutting down: peers drop it at once instead of waiting. */
  leaving: boolean;
  /** Whether the sender sees a majority of its region (its verdicts count only then). */
  quorum: boolean;
  /** The sender's region time as it sent this (RegionClock); absent from builds before the forty-second session. */
  now?: number;
  /** A digest of the token revocations the sender holds (RevocationStore.digest; 0: none); absent from older builds. */
  revocations?: number;
}

// ---- requests --------------------------------------------------------------------

/** A channel client subscribes its node to the channel's broadcasts. */
export interface SubRequest {
  type: 'sub';
  rid: number;
  channel: ChannelKey;
  /** How far the subscribing node has seen the stream: a master behind it lost state (registry.restartBehind). */
  seen?: { epoch: string; serial: number };
  /**
   * Where the node's subscribers had got in other regions' streams before the channel's
   * state was lost (their serials, or the node's, of an older epoch): a stream from there
   * not yet begun reaches back to them (OriginPositions.reachBackTo).
   */
  reach?: OriginPosition[];
}
/** The same, for subscribers that attach with such serials after their node has subscribed. */
export interface ReachRequest {
  type: 'reach';
  rid: number;
  channel: ChannelKey;
  origins: OriginPosition[];
}
export interface PublishRequest {
  type: 'publish';
  rid: number;
  channel: ChannelKey;
  messages: Message[];
  /**
   * Id of a message of the same publisher's previous publish on this channel that was
   * still unanswered when this one was sent: the master orders this publish only after
   * that one (else it answers `retry`), so publishes never overtake each other.
   */
  after?: string;
  /**
   * The channel's epoch when the publish was first sent, as the sender knew it: a master
   * of another epoch refuses it (90002), for a publish ordered in that epoch's state, now
   * gone with its message ids, would reach subscribers twice (publisher.ts); unless it
   * knows every id (one a node delivered there: recent-ids.ts), which it answers.
   */
  epoch?: string;
}
/** Entries with serial in (after, upto] of the given epoch. */
export interface RangeRequest {
  type: 'range';
  rid: number;
  channel: ChannelKey;
  epoch: string;
  after: number;
  upto: number;
  /** A client's resume: more bytes than this are refused (90003), not sent. */
  maxBytes?: number;
}
export interface HistoryRequest {
  type: 'history';
  rid: number;
  channel: ChannelKey;
  query: HistoryQuery;
}
/** Master → replica: entries to append, in order, and presence holds to apply first. */
export interface ReplicateRequest {
  type: 'replicate';
  rid: number;
  channel: ChannelKey;
  epoch: string;
  entries: LogEntry[];
  holds: PresenceHold[];
  /** Other regions want the channel: the replica sends the batch's own entries on to the globalmaster. */
  forward?: boolean;
  /** Positions in other regions' streams that moved with no entry to show it (OriginPositions.takeMoved). */
  origins?: OriginPosition[];
  /** When this region's interest began (ms; 0: it ended), sent when it changed (ChannelInterest). */
  interestSince?: number;
  /** Other regions that want the channel, and since when, whole, sent when it changed (ChannelInterest). */
  remoteInterest?: RegionInterest[];
  /** The lifecycle events announced whose end is not yet, sent when they changed (ChannelInterest, lifecycle.ts). */
  lifecycle?: Announced;
  /** What streams not yet begun must reach back to, whole, sent when it changed (OriginPositions.takeReach). */
  reach?: OriginPosition[];
  /** Where subscribers were told of another region's lost messages, added since the last replication (gaps.ts). */
  gaps?: Gap[];
  /** The nodes the replica broadcasts the batch to once it holds it (itself included); absent: the master does. */
  broadcastTo?: NodeId[];
  /** What that broadcast says before the batch's entries (Broadcast.discontinuity and gapAt). */
  discontinuity?: ErrorInfo;
  gapAt?: number;
}
/** Presence operations (enter/update/leave) of one connection, hosted on the sender. */
export interface PresenceRequest {
  type: 'presence';
  rid: number;
  channel: ChannelKey;
  presence: PresenceMessage[];
  /** As for publishes: the id of the same connection's previous, still unanswered operation. */
  after?: string;
  /** The connection's version at the sending node (PresenceMember.since). */
  since?: number;
}
/**
 * A connection's presence members stay (leaveInMs null: it is back) or leave `leaveInMs`
 * after the master has the hold (its transport dropped; or now, when it closed), read on
 * the master's clock: a sender whose clock is off does not move it (before the
 * forty-second session it sent a time of its own clock).
 */
export interface HoldRequest {
  type: 'hold';
  rid: number;
  channel: ChannelKey;
  connectionId: string;
  leaveInMs: number | null;
  /** A leave now (the client closed or detached): it applies whichever node the member is kept under. */
  atOnce?: boolean;
  /** The connection's version at the sending node (PresenceMember.since). */
  since?: number;
}
export interface PresenceGetRequest {
  type: 'presenceGet';
  rid: number;
  channel: ChannelKey;
  clientId?: string;
  connectionId?: string;
}
/** Master → replica, or old owner → new owner (handoff): the whole state. */
export interface SyncRequest {
  type: 'sync';
  rid: number;
  channel: ChannelKey;
  snapshot: ChannelSnapshot;
  /** 'replica': keep it as a copy; 'handoff': become master with it. */
  role: 'replica' | 'handoff';
}
/** A node that has become a channel's owner asks a former holder for its state. */
export interface ClaimRequest {
  type: 'claim';
  rid: number;
  channel: ChannelKey;
  /** Only ask whether any state exists; a master answering a probe does not step down. */
  probe?: boolean;
  /**
   * Every node the claimer asks. A node whose own view would ask one more refuses: the
   * claimer's view lacks a node that may hold the channel (its master, or its only copy).
   */
  asked?: NodeId[];
  /** With `probe`: the answer says the channel's message ids this node delivered last (`recent`). */
  recent?: boolean;
}
export interface StatusRequest {
  type: 'status';
  rid: number;
  channel: ChannelKey;
}

/** Where a connection lives and whether it can be resumed (see node/connection-directory.ts). */
export interface ConnectionRecord {
  connectionId: string;
  appId: string;
  /** The connection's clientId ('*' for a key holder without one, null if anonymous). */
  clientId: string | null;
  /** The node whose gateway holds (or last held) its transport. */
  host: NodeId;
  /** When its state expires (ms), while it has no transport; null while it has one. */
  expiresAt: number | null;
  /** Version: later records win (ms, host clock, made monotonic per record). */
  updatedAt: number;
}
/** Store (or refresh) connection records at a node that holds them. */
export interface ConnPutRequest {
  type: 'connPut';
  rid: number;
  records: ConnectionRecord[];
}
/** A node resuming a connection asks a holder for its record (and claims it for `host`). */
export interface ConnTakeRequest {
  type: 'connTake';
  rid: number;
  connectionId: string;
  host: NodeId;
}

/**
 * What every request may carry besides its own fields: the life of the receiving node it
 * is for (its incarnation as the sender knows it; absent or 0: any). A node that has
 * taken a new incarnation since refuses it with a retry (proto: Request.to_incarnation).
 */
export interface RequestTarget {
  toIncarnation?: number;
}

export type NodeRequest = (
  | SubRequest
  | ReachRequest
  | PublishRequest
  | PresenceRequest
  | HoldRequest
  | PresenceGetRequest
  | ConnPutRequest
  | ConnTakeRequest
  | StatsRequest
  | OccupancyRequest
  | NonceRequest
  | IngestRequest
  | ReplayLocalRequest
  | InterestListRequest
  | SubAuditRequest
  | VectorRangeRequest
  | RangeRequest
  | HistoryRequest
  | ReplicateRequest
  | SyncRequest
  | ClaimRequest
  | StatusRequest
) &
  RequestTarget;

/** Messages of another region for one channel, as its globalmaster received them. */
export interface ForwardedBatch {
  channel: ChannelKey;
  region: string;
  epoch: string;
  /** The origin's seq before `entries`, when this starts (or restarts) the stream. */
  startSeq?: number;
  /** History in the origin no longer covered a gap before `entries`. */
  gapBefore: boolean;
  /** The origin region's entries, in its order (passed on as bytes where possible). */
  entries: ForwardedEntries;
  /**
   * With a stream's start: the origin's own presence members as its master held them when
   * the batch was made. A stream begun (or begun again) here takes them as that region's
   * set (ChannelState.ingest); absent: not sent (a continuing batch, an older build).
   */
  members?: PresenceMessage[];
}

/** Globalmaster → channel master: store another region's messages. */
export interface IngestRequest {
  type: 'ingest';
  rid: number;
  batch: ForwardedBatch;
}

/** Globalmaster → channel master: this region's own messages after `afterSeq`, for another region. */
export interface ReplayLocalRequest {
  type: 'replayLocal';
  rid: number;
  channel: ChannelKey;
  epoch: string;
  afterSeq: number;
  /** Instead: the start of the stream, with what was published since then (ms). */
  since?: number;
  /** Also this region's own presence members (a stream's start takes them as this region's set). */
  withMembers?: boolean;
}

/** Globalmaster → every node: which channels do you master with interest here or elsewhere (or at all)? */
export interface InterestListRequest {
  type: 'interestList';
  rid: number;
  all: boolean;
  /** GET /channels: only the names of one app's channels, answered as `channelNames` (an older build answers `interest`, all of them). */
  names?: ChannelNamesQuery;
}

/** Names of an app's channels mastered on a node: with `prefix`, after `after`, the first `limit` by name. */
export type ChannelNamesQuery = { appId: string; prefix: string; after?: string; limit: number };

/**
 * A node → a channel master, periodically: a digest of the channels its channel clients
 * believe they are subscribed to there. The master answers whether it matches the
 * channels it has the node subscribed to, and if not, lists those (see node/hub.ts).
 */
export interface SubAuditRequest extends SubDigest {
  type: 'subAudit';
  rid: number;
}

/** A channel a node masters: subscribers here (since when), and the other regions it forwards to. */
export interface MasteredChannel {
  channel: ChannelKey;
  on: boolean;
  since: number;
  remote: { region: string; since: number }[];
  /** Where this region's own stream of the channel stands (set where `remote` is not empty). */
  head?: { epoch: string; seq: number };
}

/** Where a region's stream of a channel stands: the seq of its last message, in that epoch. */
export interface ChannelHead {
  channel: ChannelKey;
  epoch: string;
  seq: number;
}

/** A client re-attaching with a channelSerial from another region. */
export interface VectorRangeRequest {
  type: 'vectorRange';
  rid: number;
  channel: ChannelKey;
  origins: OriginPosition[];
  upto: number;
  /** The region whose channelSerial the client brings. */
  from?: string;
  /** More bytes of entries than this are refused (90003), not sent. */
  maxBytes?: number;
}

/** A node's per-minute app statistics within [start, end] (for GET /stats). */
export interface StatsRequest {
  type: 'stats';
  rid: number;
  appId: string;
  start: number;
  end: number;
}

/**
 * Takes a signed TokenRequest's nonce (`KEYNAME:NONCE`) as used for `forMs` more (a time
 * left, read on the keeper's own clock), at the node the ring makes its keeper: `ok` if it
 * was not used, else an error (40105).
 */
export interface NonceRequest {
  type: 'nonce';
  rid: number;
  key: string;
  forMs: number;
}

/** Requests the channel registry answers (the rest go to the connection directory, stats, the hub). */
export type ChannelRequest = Exclude<
  NodeRequest,
  ConnPutRequest | ConnTakeRequest | StatsRequest | OccupancyRequest | NonceRequest | InterestListRequest | SubAuditRequest
>;

const CHANNEL_REQUESTS: ReadonlySet<string> = new Set<ChannelRequest['type']>([
  'sub',
  'reach',
  'publish',
  'presence',
  'hold',
  'presenceGet',
  'range',
  'history',
  'replicate',
  'sync',
  'claim',
  'status',
  'ingest',
  'replayLocal',
  'vectorRange',
]);

export function isChannelRequest(m: { type: string }): m is ChannelRequest {
  return CHANNEL_REQUESTS.has(m.type);
}

// ---- replies ---------------------------------------------------------------------

/**
 * How far a node's channel client has seen a channel's stream, and (`reach`) where it had
 * got in other regions' streams: a master that starts the channel from no copy, or an
 * older one, has those streams reach back to it (OriginPositions.reachBackTo).
 */
export interface ClientPosition {
  epoch: string;
  serial: number;
  reach?: OriginPosition[];
}
/** A message's dedup key (dedupKey), the serial it was ordered under, and how long ago it was delivered (ms; absent: just now). */
export type RecentId = { key: string; serial: string; age?: number };

export interface ChannelStatus {
  channel: ChannelKey;
  master: NodeId;
  replica: NodeId | null;
  epoch: string;
  serial: number;
  channelSerial: string;
  retained: number;
  subscriberNodes: NodeId[];
  /** Other regions that want the channel, and since when (ms), as its master knows it. */
  remoteInterest: RegionInterest[];
  /** This region's presence members per node holding their connections (`leaving`: of them, those whose connection has gone). */
  presenceHosts: PresenceHostCount[];
}

export interface PresenceHostCount {
  host: NodeId;
  members: number;
  leaving: number;
}

export type ReplyBody =
  /** Where the stream is, and the presence set at exactly that point. */
  | { kind: 'subscribed'; epoch: string; serial: number; channelSerial: string; presence: PresenceMessage[]; term?: number }
  | { kind: 'members'; members: PresenceMessage[] }
  | { kind: 'connection'; record: ConnectionRecord | null }
  | { kind: 'stats'; buckets: { minute: number; entries: Record<string, number> }[] }
  | ({ kind: 'occupancy' } & Occupancy)
  /**
   * Ingested: the origin's seq this master has reached; or where it needs a replay from;
   * or (`startSince`) that the stream has not begun here, and wants its start.
   */
  | { kind: 'ingested'; seq: number; replayAfter: number | null; startSince?: number }
  /** This region's own messages (replay): from `startSeq`, `gap` when history did not reach back. */
  | { kind: 'local'; epoch: string; startSeq: number; gap: boolean; entries: ForwardedEntries; members?: PresenceMessage[] }
  | { kind: 'interest'; mastered: MasteredChannel[] }
  /** Channel names (not keys), sorted: the answer to an interestList with `names`. */
  | { kind: 'channelNames'; names: string[] }
  /** Whether the audit's digest matched; if not, the channels the asking node is subscribed to here. */
  | { kind: 'subAudit'; match: boolean; channels: ChannelKey[] }
  /** `gap`: an origin whose part cannot be supplied; `lost`: a point the resume crosses where another region's messages were lost. */
  | { kind: 'vector'; entries: LogEntry[]; gap: string | null; lost?: ErrorInfo }
  | { kind: 'published'; serials: string[]; epoch: string }
  /** `gaps`: where, in the range read, subscribers were told of another region's lost messages (gaps.ts). */
  | { kind: 'entries'; entries: LogEntry[]; more: boolean; gaps?: Gap[] }
  /**
   * `forwarded`: a replica sent the replicated batch on to the globalmaster
   * (ReplicateRequest.forward); `broadcast`: it broadcast the batch to the nodes asked
   * (ReplicateRequest.broadcastTo).
   */
  | { kind: 'ok'; forwarded?: boolean; broadcast?: boolean }
  /** `seen`: how far the answering node's channel client has seen the stream (a claim's newest copy must not be behind it); `recent`: ClaimRequest.recent. */
  | { kind: 'snapshot'; snapshot: ChannelSnapshot | null; seen?: ClientPosition; recent?: RecentId[] }
  | { kind: 'status'; status: ChannelStatus | null }
  | { kind: 'error'; error: ErrorInfo }
  /** The receiver is not the channel's master (in its view); try `owner`. */
  | { kind: 'redirect'; owner: NodeId | null }
  /** A publish arrived before the one it must follow: send them again, in order. */
  | { kind: 'retry'; reason: string };

export interface Reply {
  type: 'reply';
  rid: number;
  body: ReplyBody;
}

// ---- one-way ---------------------------------------------------------------------

/** Master → each subscribing node: new entries, in serial order. */
export interface Broadcast {
  type: 'broadcast';
  channel: ChannelKey;
  epoch: string;
  entries: LogEntry[];
  /** Continuity was lost before these entries (history from another region did not cover a gap). */
  discontinuity?: ErrorInfo;
  /** With a discontinuity and no entries: the serial the loss goes before. */
  gapAt?: number;
}

/** A channel client no longer wants the channel's broadcasts. */
export interface Unsub {
  type: 'unsub';
  channel: ChannelKey;
}

/** The connection resumed on another node: drop its old transport here (without leaving presence). */
export interface ConnMoved {
  type: 'connMoved';
  connectionId: string;
}

/** The connection closed for good: forget its record. */
export interface ConnDrop {
  type: 'connDrop';
  connectionId: string;
}

/** Channel master → globalmaster: new messages of this region on a channel other regions want. */
export interface ToRegions {
  type: 'toRegions';
  batch: ForwardedBatch;
  /** Only for this region (the start of its interest); null: every region with interest. */
  to: string | null;
  /** A start that continues in the origin's history after these entries. */
  more?: boolean;
}

/** Channel master → globalmaster: this region's interest in a channel began (since) or ended. */
export interface InterestChange {
  type: 'interest';
  channel: ChannelKey;
  on: boolean;
  since: number;
}

/** Globalmaster → channel master: other regions that want this channel (all of them, replacing). */
export interface RemoteInterest {
  type: 'remoteInterest';
  channel: ChannelKey;
  /** With each region's clock offset where the globalmaster measured it (RegionInterest.offsetMs). */
  regions: RegionInterest[];
  /** Regions the globalmaster has not heard from since it took the role: the master keeps what it has of theirs. */
  keep?: string[];
}

/** Channel master → globalmaster: ask `region` for its messages on a channel after `afterSeq`. */
export interface ReplayWanted {
  type: 'replayWanted';
  channel: ChannelKey;
  region: string;
  epoch: string;
  afterSeq: number;
  /** Set: the stream has not begun here; its start is wanted, from then (ms since the epoch). */
  since?: number;
}

/** Globalmaster → the masters of these channels: where `region`'s streams of them stand there. */
export interface OriginHeads {
  type: 'originHeads';
  region: string;
  heads: ChannelHead[];
}

/** Token revocations new to the sender, or all it holds (revocation-sync.ts). */
export interface RevocationsMessage {
  type: 'revocations';
  entries: Revocation[];
}

/** Globalmaster → nodes: the link to `region` is (back) up: masters ask it for what they missed. */
export interface Relinked {
  type: 'relinked';
  region: string;
}

export type NodeMessage =
  | Heartbeat
  | NodeRequest
  | Reply
  | Broadcast
  | Unsub
  | OccupancyReport
  | OccupancyTotals
  | OccupancyRegion
  | ConnMoved
  | ConnDrop
  | ToRegions
  | InterestChange
  | RemoteInterest
  | ReplayWanted
  | Relinked
  | OriginHeads
  | RevocationsMessage;
