/**
 * What the run asks of a probe process over IPC, and what it answers. A probe holds Ably
 * subscribers in named groups (a region's subscribers, a control group) and publishers
 * that know which of their messages were acknowledged, and records every delivery with
 * its subscriber, sequence number and times, so a scenario can ask afterwards what a
 * group received of a range of messages: latency, loss, duplicates, and when.
 * Requests may overlap (a publish runs while the run kills a node).
 */
import type { GroupSummary, SummaryQuery } from './recorder.js';

export type ProbeRequest =
  /** Opens `count` subscribers on `channel`, spread round robin over `urls`, in `group`. */
  | { cmd: 'subscribe'; group: string; urls: string[]; count: number; channel: string; key: string; concurrency: number }
  /** Opens a publisher (attached with the PUBLISH mode, echo off). */
  | { cmd: 'publisher'; name: string; url: string; channel: string; key: string }
  /**
   * Publishes until `count` messages or `durationMs` (whichever comes first), or until
   * `stop`; `ratePerS` 0 publishes as fast as acknowledgements allow (at most
   * `maxInFlight` unanswered). Then waits up to `ackWaitMs` for every answer.
   */
  | { cmd: 'publish'; name: string; ratePerS: number; count: number; durationMs: number; maxInFlight: number; ackWaitMs: number }
  /** Ends the publish under way on that publisher (it answers as usual). */
  | { cmd: 'stop'; name: string }
  /** Waits until the group has every acknowledged message of the range once per subscriber, or `timeoutMs`, or `quietMs` without a delivery. */
  | { cmd: 'waitFor'; group: string; fromSeq: number; toSeq: number; timeoutMs: number; quietMs: number }
  | { cmd: 'summary'; group: string; query: SummaryQuery }
  /** Closes every connection politely; answers with what the clients saw. */
  | { cmd: 'closeAll' };

export type ProbeMessage = ProbeRequest & { id: number };

export interface SubscribeResult {
  opened: number;
  failed: number;
  ms: number;
  errors: string[];
}

export interface PublishResult {
  /** Sequence numbers [fromSeq, toSeq) went out in this publish. */
  fromSeq: number;
  toSeq: number;
  sent: number;
  acked: number;
  nacked: number;
  /** Sent and never answered within the wait. */
  unanswered: number;
  /** When publishing began and ended, and when the last answer came (µs, nowUs clock). */
  startUs: number;
  endUs: number;
  answeredUs: number;
  /** Why NACKs came, counted. */
  nackReasons: string[];
}

export interface WaitResult {
  done: boolean;
  /** Distinct (subscriber, message) deliveries of acknowledged messages, and how many were wanted. */
  have: number;
  want: number;
  ms: number;
  why: 'complete' | 'timeout' | 'quiet';
}

export type { GroupSummary, SummaryQuery };
