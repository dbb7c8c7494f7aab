/**
 * What the gateway (WebSocket connections and REST) needs from its node: a narrow
 * interface, so that connections know nothing of rings, transports or masters.
 */
import type { Revocation } from '../auth/revocations.js';
import type { KeyStore } from '../auth/keys.js';
import type { ChannelKey, LogEntry } from '../channel/entry.js';
import type { HistoryQuery } from '../channel/log.js';
import type { Limits } from '../config/topology.js';
import type { Logger } from '../log.js';
import type { Message, PresenceMessage } from '../protocol/message.js';
import type { ChannelNamesQuery, ChannelStatus } from '../transport/messages.js';
import type { Hub } from '../node/hub.js';
import type { RegionOccupancy } from '../node/region-queries.js';

export interface GatewayMetrics {
  connectionOpened(appId: string): void;
  connectionClosed(appId: string): void;
  /** A WebSocket connection was turned away: the node held its most, or its memory budget (admission.ts). */
  connectionRefused(reason: 'capacity' | 'memory'): void;
  /** A REST request of an app finished (stats: apiRequests). */
  apiRequest(appId: string, ok: boolean, tokenRequest: boolean): void;
  delivered(messages: number): void;
  slowConsumer(): void;
}

/** The region's connection directory, as the gateway uses it. */
export interface ConnectionDirectoryService {
  /**
   * A connection has a transport here (new, or resumed). Resolves with its version here:
   * greater than any node's it had before (PresenceMember.since).
   */
  opened(rec: { connectionId: string; appId: string; clientId: string | null }): Promise<number>;
  /** Its transport went; its state is kept until `expiresAt` (ms) for a resume. */
  lost(rec: { connectionId: string; appId: string; clientId: string | null }, expiresAt: number): void;
  /** The client closed it: nothing to resume. */
  closed(connectionId: string): void;
  /**
   * Takes a connection to resume here: its record; null when it cannot be resumed;
   * `unreachable` when none of the nodes holding its record answered (whether it can be
   * resumed is not known here). A record `accept` refuses (another app's, another
   * clientId's) is given but not taken: its host keeps the connection.
   */
  take(connectionId: string, accept?: (rec: { appId: string; clientId: string | null }) => boolean): Promise<{ appId: string; clientId: string | null } | null | 'unreachable'>;
}

export interface GatewayServices {
  /** This node's id (Ably `serverId`). */
  readonly nodeId: string;
  readonly region: string;
  /** Nodes in this node's region (the topology's): the descriptors its mesh links take (admission.ts). */
  readonly regionSize: number;
  /** Whether the node sees a majority of its region (without it, it takes no clients). */
  hasQuorum(): boolean;
  readonly limits: Limits;
  readonly keys: KeyStore;
  readonly log: Logger;
  readonly hub: Hub;
  readonly metrics: GatewayMetrics;
  readonly connections: ConnectionDirectoryService;
  /** Secret for signing connection keys (shared by the region's nodes). */
  readonly connectionSecret: string;
  /**
   * Takes a signed TokenRequest's nonce as used until `until`, at the one node of the
   * region that keeps it: false if it was used already (a replay, to any node of the region).
   */
  useNonce(key: string, until: number): Promise<boolean>;
  /** Applies token revocations here, and sends them on to the region's nodes and the other regions (revocation-sync.ts). */
  revoke(revocations: Revocation[]): void;
  /** A page of the names of an app's channels mastered in the region (GET /channels): sorted, and whether there are more after the last. */
  channels(q: ChannelNamesQuery): Promise<{ names: string[]; more: boolean }>;
  /** How many revocations of this key are held (the cap of revoke-request.ts). */
  revocationsHeld(keyName: string): number;
  /** The wall clock: message timestamps, when a connection's state expires, token lifetimes. */
  now(): number;
  /**
   * For durations within this node (a client's silence, keepalives, the inbound rate, a
   * drain's deadline): a clock no step of the wall clock moves (node.ts gives the monotonic clock).
   */
  monotonic(): number;
  /**
   * Orders messages at the channel's master; resolves with their channelSerials once
   * ACKable. Publishes with the same `source` (a connection id) keep their order.
   */
  publish(channel: ChannelKey, messages: Message[], source: string | null): Promise<string[]>;
  /**
   * Orders presence operations of a connection (in order with its publishes); `since`:
   * the connection's version here (ConnectionDirectoryService.opened).
   */
  presence(channel: ChannelKey, ops: PresenceMessage[], source: string, since: number): Promise<void>;
  /**
   * A connection's presence members stay (null) or leave `leaveInMs` from now (0 with
   * `atOnce`: now, the client closed or detached), said at the connection's version here
   * (`since`). One channel's holds from this node reach its master in the order they are made.
   */
  hold(channel: ChannelKey, connectionId: string, leaveInMs: number | null, since: number, atOnce?: boolean): Promise<void>;
  members(channel: ChannelKey, filter: { clientId?: string; connectionId?: string }): Promise<PresenceMessage[]>;
  history(channel: ChannelKey, query: HistoryQuery): Promise<{ items: LogEntry[]; more: boolean }>;
  status(channel: ChannelKey): Promise<ChannelStatus | null>;
  /** The region's statistics of an app, per minute within [start, end]. */
  stats(appId: string, start: number, end: number): Promise<{ minute: number; entries: Record<string, number> }[]>;
  /** A channel's attachments across the region, by mode, and how many nodes were asked and answered in time. */
  occupancy(channel: ChannelKey): Promise<RegionOccupancy>;
  /** Node health for `GET /health`. */
  health(): Record<string, unknown>;
  /** Prometheus text for `GET /metrics`. */
  metricsText(): Promise<string>;
}
