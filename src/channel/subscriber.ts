/**
 * What a connection attached to a channel on this node is to the channel client
 * (client.ts), and what its attach comes to.
 */
import type { AblyError } from '../errors.js';
import type { Frame } from '../protocol/codec.js';
import type { PresenceMessage } from '../protocol/message.js';
import type { SharedFrame } from '../protocol/shared-frame.js';
import type { WireFormat } from '../protocol/types.js';
import type { LogEntry } from './entry.js';
import type { OccupancyWanted } from './occupancy.js';
import type { MessageFilter } from './filter.js';

/** A connection attached to this channel on this node, as the channel client sees it. */
export interface LocalSubscriber {
  readonly connectionId: string;
  readonly format: WireFormat;
  /** The channel's name as this client knows it (with any `[?params]` qualifier). */
  readonly channelName: string;
  /** Whether it wants its own messages back (`echo`). */
  readonly echo: boolean;
  /** Whether it receives messages (SUBSCRIBE mode) and presence events (PRESENCE_SUBSCRIBE). */
  wants(kind: LogEntry['kind']): boolean;
  /** Whether it receives annotations (ANNOTATION_SUBSCRIBE mode; annotations.ts). */
  readonly annotations?: boolean;
  /** Whether it may publish (PUBLISH mode), for occupancy. */
  readonly publishes: boolean;
  /** Whether it may enter presence (PRESENCE mode), for occupancy. */
  readonly enters: boolean;
  /** The occupancy events it asked for (the `occupancy` channel param), if any. */
  readonly occupancy: OccupancyWanted | null;
  /** Whether it asked for deltas (the `delta` channel param: delta.ts). */
  readonly delta?: boolean;
  /** Its subscription filter (a `[filter=…]` name: filter.ts): only messages that pass are sent. */
  readonly filter?: MessageFilter | null;
  /**
   * The frames of one delivery, in order. The connection's outbound limit is checked
   * once, before them: a batch cut into several frames is no slower a reader than one.
   */
  send(frames: readonly (Frame | SharedFrame)[]): void;
  /**
   * Continuity on this channel was lost: tell the client (UPDATE without RESUMED).
   * `members`: the channel's presence set now. A client that takes presence is sent it
   * again (HAS_PRESENCE, then a SYNC): an ATTACHED without HAS_PRESENCE has the SDK
   * empty its presence set (RTP19a), and nothing would fill it again.
   */
  discontinuity(error: AblyError, channelSerial: string, members: readonly PresenceMessage[]): void;
  /**
   * Where the stream is, for a subscriber sent nothing of it for a while (its filter held
   * everything back: delivery.ts, FILTER_POSITION_MS): an ATTACHED with RESUMED.
   */
  position?(channelSerial: string): void;
}

export interface AttachOutcome {
  /** Whether the subscriber's requested position was honoured without a gap. */
  resumed: boolean;
  /** Why not, when a resume was asked for and could not be honoured. */
  error?: AblyError;
  /** The position the subscriber is at now (sent in ATTACHED). */
  channelSerial: string;
  /** Whether the channel has presence members (ATTACHED's HAS_PRESENCE; a SYNC follows). */
  hasPresence: boolean;
}
