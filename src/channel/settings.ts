import { debugSwitches } from '../config/defaults.js';
import type { Topology } from '../config/topology.js';

/**
 * A master that took a channel over keeps the interest start its predecessor knew for
 * this long, for the subscribing nodes coming back to it (after a failover they subscribe
 * again; a handoff or claim brings them along); and another region's interest younger
 * than this may not have had its start yet, so such a master sends it again (master.ts).
 */
export const INHERITED_INTEREST_MS = 30_000;

/** What a channel's state is bound by, the same for every channel of a region (the topology's retention and limits, and debug switches). */
export interface ChannelSettings {
  /** This region's name: serials are formatted with it. */
  region: string;
  historyMs: number;
  dedupMs: number;
  maxMessages: number;
  /** Bytes of history a channel keeps at most (its entries as held; oldest dropped first). Unbounded if absent. */
  maxBytes?: number;
  /** Bytes of ids and serials its dedup window keeps at most (oldest forgotten first). Unbounded if absent. */
  maxDedupBytes?: number;
  /** Presence members a channel may have (Ably: 200). */
  maxPresenceMembers?: number;
  /** How long members of a connection that dropped stay (ms; Ably: 15 s). */
  presenceLeaveDelayMs?: number;
  /** Messages per second one channel accepts (Ably: 50 by default). */
  maxPublishRate?: number;
  /** The largest message (`messageSize`): also a message with its appends (versions.ts). Unbounded if absent. */
  maxMessageSize?: number;
  /**
   * Debug switch that breaks a guarantee on purpose (ABLY_NG_DEBUG_SKIP_REPLAY=1): another
   * region's messages after a gap are taken as they come, and the gap is neither replayed
   * nor signalled. Exists so the chaos checker can be shown catching a silent loss.
   */
  debugSkipReplay?: boolean;
  /** Debug switch (ABLY_NG_DEBUG_SKIP_START=1): no start for a new interest (config/defaults.ts). */
  debugSkipStart?: boolean;
  /**
   * How long a master that took the channel over treats another region's interest as
   * young enough that its start may not have arrived (ms; 30 s unless a test shortens it
   * with ABLY_NG_DEBUG_INHERITED_INTEREST_MS; master.ts).
   */
  inheritedInterestMs?: number;
}

/** The settings of a region's channels, from its deployment's topology (and the environment's debug switches). */
export function channelSettingsOf(t: Topology, region: string, env: NodeJS.ProcessEnv = process.env): ChannelSettings {
  return {
    region,
    historyMs: t.retention.historyMs,
    dedupMs: t.retention.dedupMs,
    maxMessages: t.retention.maxMessagesPerChannel,
    maxBytes: t.retention.maxBytesPerChannel,
    maxDedupBytes: t.retention.maxDedupBytesPerChannel,
    maxPresenceMembers: t.limits.maxPresenceMembers,
    presenceLeaveDelayMs: t.limits.presenceLeaveDelayMs,
    maxPublishRate: t.limits.maxChannelPublishRate,
    maxMessageSize: t.limits.maxMessageSize,
    ...debugSwitches(env),
  };
}
