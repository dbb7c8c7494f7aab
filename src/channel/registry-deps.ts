/**
 * What the channel registry (registry.ts) needs from its node: identity and clocks, the
 * node's RPC, ring and quorum, what its channel clients have seen, and where metrics and
 * other regions' traffic go.
 */
import type { Logger } from '../log.js';
import type { Ring } from '../cluster/ring.js';
import type { Rpc } from '../transport/rpc.js';
import type { Broadcast, ClientPosition, ForwardedBatch, NodeId, RecentId } from '../transport/messages.js';
import type { ChannelKey } from './entry.js';
import type { ChannelMaster } from './master.js';
import type { LifecycleDeps } from './lifecycle.js';
import type { ChannelSettings } from './state.js';

export interface RegistryDeps {
  self: NodeId;
  /** Sends this region's new entries of a channel to the globalmaster, for other regions. */
  toRegions?(batch: ForwardedBatch, to: string | null, more?: boolean): void;
  /** Tells the globalmaster a channel's interest here began or ended. */
  interestChanged?(key: ChannelKey, on: boolean, since: number): void;
  /** A master's lifecycle events (lifecycle.ts; null: none for this channel). */
  lifecycle?(master: ChannelMaster): Omit<LifecycleDeps, 'changed'> | null;
  /** Whether this region must master a channel other regions have attachments to (its home: lifecycle.ts). */
  masterForLifecycle?(key: ChannelKey): boolean;
  settings: ChannelSettings;
  /** The wall clock: times kept with a channel's state and read by other nodes (terms, leaves, storage). */
  now(): number;
  /**
   * For durations within this node (claim and drain deadlines, a stale copy's grace,
   * how long a new master inherits): a clock no step of the wall clock moves (node.ts gives
   * the monotonic clock). `now` by default.
   */
  monotonic?(): number;
  rpc: Rpc;
  sendBroadcast(to: NodeId, msg: Broadcast): void;
  ring(): Ring;
  hasQuorum(): boolean;
  /** Peers that said goodbye and are still draining (they may hold state to hand over). */
  leaving?(): NodeId[];
  /** How far this node's channel client has seen a channel's stream (none: no client, or not subscribed yet). */
  seen?(key: ChannelKey): ClientPosition | null;
  /** The channel's message ids this node delivered last (recent-ids.ts). */
  recent?(key: ChannelKey): RecentId[];
  log: Logger;
  metrics?: RegistryMetrics;
}

export interface RegistryMetrics {
  broadcast(nodes: number, entries: number): void;
  failover(): void;
  handoff(): void;
  /** A master here took a hold or presence operation from a node its connection had left. */
  presenceStale(): void;
  /** A channel's state was created afresh (stats: channels opened; not a metachannel's, which the service makes). */
  channelCreated(key: ChannelKey): void;
}
