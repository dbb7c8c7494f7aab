/**
 * What the run asks of a many-channel load generator (channels-worker.ts) over IPC, and
 * what it answers. Unlike the one-channel load generator (protocol.ts), its subscriber
 * connections each attach many channels, and its publishers publish round robin over
 * every channel. Steps answer with the one-channel generator's StepResult, where
 * `subscribers` counts subscriptions (channel attachments) and each message is expected
 * once per subscription of its channel.
 */
import type { OpenResult, StepResult, Totals } from './protocol.js';

/** Which connection subscribes to which channel, and who publishes where. */
export interface ChannelsPlan {
  /** Ably WebSocket URLs of the region's nodes; connection i goes to urls[i % urls.length]. */
  urls: string[];
  key: string;
  /** Channel names; channel c is published by publisher c % publishers. */
  channels: string[];
  subscribersPerChannel: number;
  /**
   * Subscriber connections. Subscription j of channel c is on connection
   * (c × subscribersPerChannel + j) mod connections; with `connections` a multiple of
   * the node count, a channel's subscribers sit on consecutive nodes (3 per channel on
   * 3 nodes: one on each).
   */
  connections: number;
  /** Publisher connections, publisher p on urls[p % urls.length] (no attach: publishing needs none). */
  publishers: number;
  /** Connection handshakes (each with its attaches) in flight at once. */
  concurrency: number;
}

export interface ChannelsOpenResult extends OpenResult {
  /** Channel attachments that got ATTACHED, and those that failed. */
  subscriptions: number;
  subscriptionsFailed: number;
  /** Attachments per second over the whole batch. */
  attachesPerS: number;
}

export type ChannelsRequest =
  /** Opens the plan's subscriber connections (each attaching its channels) and its publishers. */
  | { cmd: 'open'; plan: ChannelsPlan }
  /** Publishes `publishPerS` messages/s in all, round robin over the channels, for `durationMs`; then measures. */
  | { cmd: 'step'; publishPerS: number; durationMs: number; drainMs: number; quietMs: number; settleMaxMs: number; serverPids: number[] }
  /** Waits until nothing is in flight (bounded), then counts every delivery against every expectation so far. */
  | { cmd: 'totals'; quietMs: number; settleMaxMs: number }
  /** Closes every connection (politely, `concurrency` at a time). */
  | { cmd: 'closeAll'; concurrency: number };

export type ChannelsMessage = ChannelsRequest & { id: number };

export type { StepResult, Totals };
