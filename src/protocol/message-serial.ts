/**
 * Message serials: the `serial` every message carries (Ably's TM2r), made once by the
 * channel master of the region that first accepted the message and carried with it to
 * every replica, node and region, so it is the same wherever the message is read. The
 * ACK of a publish gives it (`res[i].serials`), and `GET /channels/{ch}/messages/{serial}`
 * finds the message by it in any region.
 *
 * Form: `<ms>-<seq>@<region>:<epoch>`, like Ably's `<time>-<counter>@<site>:<index>`:
 * - `ms`: the accepting master's clock when it stored the message, 14 decimal digits
 *   (never decreasing within a channel's state, as history's times); for a change's
 *   version serial, later where that is needed to come after the message's latest
 *   version, made by a region whose clock is ahead (src/channel/versions.ts);
 * - `seq`: the message's seq in that region's own order for the channel (its origin
 *   position), in base 36 after one base-36 digit giving its length, so that serials
 *   compare as strings in the order of their numbers;
 * - `region` and `epoch`: where, and in which lifetime of the channel's state there.
 *
 * Serials compare as strings by time first, then by the accepting region's order: the
 * messages one region accepted in one lifetime of a channel's state are in serial order
 * (its masters, through failovers, never store a message at an earlier time than the
 * one before, `ChannelState.stamp`), and the messages of several regions, or lifetimes,
 * interleave by their masters' clocks. The region and epoch tell apart two messages
 * stored in the same millisecond under the same seq by two regions, or by two lifetimes
 * of one region's state (a clock stepped back).
 *
 * Not unique in one case, beyond the one-node guarantee: a master made from an old copy
 * of a channel, both newer copies lost, gives seqs of its epoch again (until it sees
 * that it is behind and starts a new epoch, `ChannelRegistry.restartBehind`); a message
 * it stores in the millisecond in which the lost copy stored the same seq gets the same
 * serial. (Its channelSerial is the same as that message's too.)
 *
 * One message, two serials, in one case: a message whose id a region took from a
 * publisher before the copy another region first accepted reached it (the publisher
 * sent it again, to the second region, before that) is stored in each region under that
 * region's serial; each region's dedup window keeps its own copy and drops the other.
 */
import type { OriginPosition } from './serial.js';

const FORM = /^(\d{14})-([1-9a-b])([0-9a-z]+)@([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$/;
/** Longest serial `parseMessageSerial` takes: 14 + 1 + 12 + 1 + two names of 100. */
const MAX_LENGTH = 230;

/** One message's place: when and where it was first stored, and its origin position there. */
export interface MessagePlace extends OriginPosition {
  /** The accepting master's clock (ms) when it stored the message. */
  at: number;
}

/** The serial of the message stored at `at` (ms) as `origin.seq` of `origin.region`'s stream in `origin.epoch`. */
export function formatMessageSerial(at: number, origin: OriginPosition): string {
  const seq = origin.seq.toString(36);
  return `${String(Math.max(0, Math.floor(at))).padStart(14, '0')}-${seq.length.toString(36)}${seq}@${origin.region}:${origin.epoch}`;
}

/** Parses a message serial; null when it is not one this service makes. */
export function parseMessageSerial(s: unknown): MessagePlace | null {
  if (typeof s !== 'string' || s.length > MAX_LENGTH) return null;
  const m = FORM.exec(s);
  if (!m) return null;
  const [, ms, len, digits, region, epoch] = m as unknown as [string, string, string, string, string, string];
  if (parseInt(len, 36) !== digits.length || digits[0] === '0') return null;
  const seq = parseInt(digits, 36);
  if (!Number.isSafeInteger(seq) || seq < 1) return null;
  return { at: Number(ms), region, epoch, seq };
}
