/**
 * The node messages of occupancy (src/channel/occupancy.ts): a node's question for REST,
 * a channel client's report to its master, the master's totals, and a region's counts
 * between masters and globalmasters. Part of the node protocol (messages.ts).
 */
import type { ChannelKey } from '../channel/entry.js';

/** How many of a node's connections are attached to a channel, by mode. */
export interface OccupancyRequest {
  type: 'occupancy';
  rid: number;
  channel: ChannelKey;
}

/** A channel's attachments by mode: a node's own, or the region's added up. */
export interface Occupancy {
  connections: number;
  publishers: number;
  subscribers: number;
  presenceSubscribers: number;
  /** Attachments granted PRESENCE mode (whether or not they entered). */
  presenceConnections: number;
}

/** Channel client → its master: this node's attachments to the channel, replacing what it said before. */
export interface OccupancyReport {
  type: 'occupancyReport';
  channel: ChannelKey;
  counts: Occupancy;
  /** Attachments here that asked for occupancy events (the `occupancy` channel param). */
  watchers: number;
  /** Some of them have had no event yet: the master sends its totals even if unchanged. */
  fresh: boolean;
  /** Sent as the client subscribed again (its master moved or died): other nodes' clients are moving too. */
  moved: boolean;
}

/** Master → a node with watchers: the region's attachments to the channel, added up. */
export interface OccupancyTotals {
  type: 'occupancyTotals';
  channel: ChannelKey;
  counts: Occupancy;
}

/**
 * A region's attachments to a channel, added up: master → globalmaster (`region` is this
 * one: for the regions that want the channel), or globalmaster → master (`region` is theirs).
 */
export type OccupancyRegion = {
  type: 'occupancyRegion';
  channel: ChannelKey;
  region: string;
  /** A copy for the channel's replica (globalmaster.ts): taken only by a node that masters the channel and holds its counts. */
  spare?: boolean;
} & RegionWord;

/** What a region says of its counts of a channel (OccupancyRegion; between regions, LinkFrame `occupancy`). */
export interface RegionWord {
  counts: Occupancy;
  /** The other regions answer with theirs at once. */
  ask: boolean;
  /** The region has watchers of the channel: the others send it their counts as they change. */
  watching: boolean;
  /** When it counted, on the region's time (ms): an older word than one held is ignored. */
  at: number;
}
