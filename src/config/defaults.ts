/**
 * Defaults, with their units in their names. Timeouts that follow from others are
 * derived here, not configured separately.
 */

/** Ably's defaults for a connection (CD2; ably-js defaults.ts). */
export const MAX_MESSAGE_SIZE_BYTES = 65536; // 64 KiB, Ably's default maxMessageSize
export const MAX_FRAME_SIZE_BYTES = 524288; // 512 KiB, Ably's default maxFrameSize
export const MAX_INBOUND_RATE_PER_S = 1000; // messages a connection may publish per second (Ably free tier: 50)
export const CONNECTION_STATE_TTL_MS = 120_000; // 2 minutes, Ably's connectionStateTtl
export const MAX_IDLE_INTERVAL_MS = 15_000; // server sends something at least this often
export const MAX_CHANNELS_PER_CONNECTION = 200; // Ably's default
export const MAX_CHANNEL_NAME_LENGTH = 2048; // characters; Ably recommends staying under 2048
export const MAX_PRESENCE_MEMBERS_PER_CHANNEL = 200; // Ably's default
export const OCCUPANCY_INTERVAL_MS = 1000; // occupancy events not from or to zero: at most one a second a channel
export const CHANNEL_INACTIVE_DELAY_MS = 60_000; // a channel with no attachment for this long is inactive (Ably: "approximately one minute")
export const PRESENCE_LEAVE_DELAY_MS = 15_000; // a dropped connection's members leave after this (Ably: 15 s)
export const MAX_CHANNEL_PUBLISH_RATE_PER_S = 1000; // messages per channel per second (Ably: 50)

/** Retention of channel history and the deduplication window. */
export const HISTORY_RETENTION_MS = 120_000; // 2 minutes, Ably's default without persistence
export const DEDUP_WINDOW_MS = 120_000; // 2 minutes, Ably's idempotency window
export const MAX_HISTORY_MESSAGES_PER_CHANNEL = 10_000; // cap on retained entries per channel
/**
 * Caps on the bytes a channel keeps (its history's entries; its dedup window's ids and
 * serials), oldest dropped first: they bound a channel's memory, and the snapshot that
 * moves it whole between nodes, which must fit in one node frame (256 MiB,
 * transport/framing.ts). 10,000 messages of Ably's largest (64 KiB) would be 640 MiB.
 */
export const MAX_HISTORY_BYTES_PER_CHANNEL = 64 * 1024 * 1024;
export const MAX_DEDUP_BYTES_PER_CHANNEL = 48 * 1024 * 1024;

/** History queries (REST). */
export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;
/**
 * Bytes of entries a history page holds at most (at least one entry); a page cut short has
 * a `next` link. Without it a page of 1,000 messages of 64 KiB was built whole for each
 * request, and held until a client that did not read it went away.
 */
export const HISTORY_PAGE_MAX_BYTES = 8 * 1024 * 1024;
/**
 * Bytes of entries a client's resume of a channel is given at most: past it the channel
 * attaches afresh, told of the loss (90003), and what was missed is read from history.
 * Without it a resume's backlog went out whole (a review: 8 readers that did not read,
 * 60 MB each, took a node from 215 MB to 1.76 GB).
 */
export const RESUME_MAX_BYTES = 16 * 1024 * 1024;

/** Realtime: how long an attach or publish waits for the channel master. */
export const CHANNEL_REQUEST_TIMEOUT_MS = 10_000; // ably-js realtimeRequestTimeout is 10 s
/**
 * A node stopping (SIGTERM) says on /health that it no longer serves (`serving: false`,
 * 503), and waits this long (ms) before telling its clients to reconnect: three polls of a
 * balancer checking every 500 ms. Told at once, the SDK's one immediate reconnect came
 * back through the balancer to the stopping node and was refused, and the next waited out
 * ably-js's disconnectedRetryTimeout: 15 s offline (a review's reproduction).
 */
export const LEAVE_NOTICE_MS = 1500;

/** Outbound buffer on one connection before it counts as a slow consumer. */
export const MAX_CONNECTION_BUFFER_BYTES = 4 * 1024 * 1024; // 4 MiB

/** REST request bodies. */
export const MAX_REST_BODY_BYTES = 2 * 1024 * 1024; // 2 MiB, Ably's batch publish limit

/** Ably protocol versions this server speaks (ably-js 2.x sends v=6; 2 introduced channelSerial). */
export const MIN_PROTOCOL_VERSION = 2;
export const MAX_PROTOCOL_VERSION = 6;

/**
 * The channel settings' debug switches, from the environment. Each breaks a guarantee on
 * purpose, so that a test or the chaos checker can show what catches or mends it; never
 * set them otherwise. ABLY_NG_DEBUG_SKIP_REPLAY=1: another region's messages after a gap
 * are taken as they come. ABLY_NG_DEBUG_SKIP_START=1: a master sends no start to a region
 * whose interest is new (as if it were lost on the way). ABLY_NG_DEBUG_DROP_FORWARDS=prefix
 * (read by the globalmaster, src/bridge/globalmaster.ts): live batches of channels named
 * with that prefix are not sent to other regions (as if lost on the way).
 * ABLY_NG_DEBUG_INHERITED_INTEREST_MS=N breaks nothing: it shortens a wait (how young
 * another region's interest must be for a master that took a channel over to send it its
 * start again; 30 s), so that a test of that rule need not wait 30 s.
 */
export function debugSwitches(env: NodeJS.ProcessEnv): { debugSkipReplay?: true; debugSkipStart?: true; inheritedInterestMs?: number } {
  const inherited = Number(env.ABLY_NG_DEBUG_INHERITED_INTEREST_MS);
  return {
    ...(env.ABLY_NG_DEBUG_SKIP_REPLAY === '1' ? { debugSkipReplay: true } : {}),
    ...(env.ABLY_NG_DEBUG_SKIP_START === '1' ? { debugSkipStart: true } : {}),
    ...(Number.isInteger(inherited) && inherited > 0 ? { inheritedInterestMs: inherited } : {}),
  };
}
