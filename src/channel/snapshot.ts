/**
 * The shapes a channel's state moves in: whole (a snapshot: handoff, claims, a new
 * replica's sync), and the presence holds replicated with entries. ChannelState
 * (state.ts) makes and restores them.
 */
import type { OriginPosition } from '../protocol/serial.js';
import type { SnapshotDedup } from '../transport/dedup-list.js';
import type { SnapshotEntries } from '../transport/entry-lists.js';
import type { ChannelKey } from './entry.js';
import type { PresenceMember } from './presence.js';
import type { Announced, RegionInterest } from './channel-interest.js';
import type { Gap } from './gaps.js';

export interface ChannelSnapshot {
  key: ChannelKey;
  epoch: string;
  /**
   * Mastership generation: raised each time a node becomes the channel's master. Of two
   * copies of one channel, the one of the higher term is the truth (a copy left behind by
   * an older master may hold entries that were never acknowledged and were superseded).
   */
  term: number;
  /** Serials ≤ base are gone from the log. */
  base: number;
  /** Last seq given to a message first accepted in this region. */
  localSeq: number;
  /** Positions in other regions' orders reached by this stream. */
  origins: OriginPosition[];
  lastStoredAt: number;
  /** The log's entries after `base` (as bytes, entries or both). */
  entries: SnapshotEntries;
  /** The dedup window's ids, each with its serial and time (as bytes, items or both). */
  dedup: SnapshotDedup;
  /** Set when the sender was the channel's master (its state is authoritative). */
  wasMaster?: boolean;
  /** Nodes subscribed at the master, so the new master broadcasts to them at once. */
  subscribers?: string[];
  /** When this region's interest began (ms; 0 or absent: none; channel-interest.ts). */
  interestSince?: number;
  /** What streams not yet begun must reach back to (OriginPositions.reachBackTo). */
  reach?: OriginPosition[];
  /** The lifecycle events announced whose end is not yet (lifecycle.ts; absent: none). */
  lifecycle?: Announced;
  /** Other regions with interest, as the master knew them, or its replica by replication (ChannelMaster.inheritRemote; absent: none, or not known). */
  remoteInterest?: RegionInterest[];
  /** The presence set (members outlive the history that entered them). */
  presence: PresenceMember[];
  /** Where subscribers were told of another region's lost messages (gaps.ts; absent: none). */
  gaps?: Gap[];
}

/** A change to when a connection's presence members leave (replicated with entries). */
export interface PresenceHold {
  connectionId: string;
  host: string | null;
  leaveAt: number | null;
  /** The connection's version at the host that said it (PresenceMember.since; absent: not known). */
  since?: number;
  /** The log serial the master had reached when it applied it (the replica applies it after that entry; absent: before the batch's entries). */
  after?: number;
}

export interface ChannelPositionInfo {
  epoch: string;
  serial: number;
  channelSerial: string;
}
