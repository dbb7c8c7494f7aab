/**
 * Where an ATTACH asks a channel's stream to start, read from its parameters: the
 * channelSerial to resume after (this region's, or another region's origin vector) and
 * Ably's `rewind`. Pure.
 */
import { AblyError } from '../errors.js';
import { parseSerial, type OriginPosition } from '../protocol/serial.js';

/** Messages a rewind delivers at most (Ably: 100). */
export const MAX_REWIND = 100;

/** A rewind asked for on attach: the last `count` messages, or those of the last `ms`; at most `limit` (`rewindLimit`) of them either way. */
export type Rewind = ({ count: number } | { ms: number; now: number }) & { limit?: number };

/**
 * Where an ATTACH asks to resume from, or why it cannot. One of this region's serials
 * keeps its origin vector as `seen`: a client that came from another region was given
 * serials that say how far it got in each origin, also where this stream was behind it
 * (delivery.ts, withFloors), and a resume here must not give it those messages again.
 */
/** `channelSerial`: the client's own, as it sent it. */
export type ResumePoint = { epoch: string; serial: number; seen: OriginPosition[]; channelSerial?: string } | { origins: OriginPosition[]; from: string };

/**
 * Reads an ATTACH's channelSerial. One of this region's gives the serial to continue
 * after; one of another region of the deployment gives, per origin region, how far the
 * client got (a stream that only carried its own region's messages has no vector: its
 * serial is that region's seq); anything else cannot be resumed.
 */
export function resumePoint(channelSerial: unknown, region: string): { resume: ResumePoint | null; error: AblyError | null } {
  if (typeof channelSerial !== 'string' || channelSerial.length === 0) return { resume: null, error: null };
  const p = parseSerial(channelSerial);
  if (!p) return { resume: null, error: AblyError.of('channelNoMatchingEpoch', 'channelSerial is not one this service issued') };
  if (p.region === region) return { resume: { epoch: p.epoch, serial: p.serial, seen: p.origins, channelSerial }, error: null };
  return { resume: { origins: p.origins.length ? p.origins : [{ region: p.region, epoch: p.epoch, seq: p.serial }], from: p.region }, error: null };
}

/**
 * Parses Ably's `rewind` param: a count ("10") or a duration ("30s", "2m", "1h"), and its
 * `rewindLimit` (at most that many of them: "rewind=5m&rewindLimit=10"). Throws 40003.
 */
export function parseRewind(value: string, now: number, limit?: string): Rewind {
  if (limit !== undefined && !/^[1-9]\d{0,8}$/.test(limit)) throw AblyError.of('invalidParameterValue', `rewindLimit must be a whole number of messages, 1 or more (got "${limit}")`);
  const most = limit === undefined ? {} : { limit: Number(limit) };
  const count = /^\d+$/.exec(value);
  if (count) return { count: Number(value), ...most };
  const d = /^(\d+)(s|m|h)$/.exec(value);
  if (d) return { ms: Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 's' | 'm' | 'h'], now, ...most };
  throw AblyError.of('invalidParameterValue', `rewind must be a count or a duration like 30s, 5m, 1h (got "${value}")`);
}
