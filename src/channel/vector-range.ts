/**
 * What a client that comes from another region, with that region's channelSerial, is
 * given from this region's history: for each origin its serial names, what came after
 * the position it names, in this region's order (the origin vector, src/protocol/serial.ts).
 *
 * Two things it cannot read from its positions:
 * - **Origins its serial names no position for.** The stream it left had carried none of
 *   that origin's messages yet: its start had not arrived (a cut link, or still on the
 *   way). It saw none of them, and would have had those that stream's start brings: the
 *   messages since its region's interest began (less INTEREST_START_MARGIN_MS). Where this
 *   region knows when that was (its master's word on other regions' interest, or, for
 *   ten minutes, one that ended: the earliest), it gives it its own messages since then;
 *   another origin's only where this region's stream from there reaches back as far, whole
 *   (its own interest began no later, and retention dropped nothing since). Otherwise it
 *   cannot say what the client missed, and the resume is refused for that origin (90005):
 *   also for an origin this stream carries whose part cannot be shown whole. (An origin
 *   this stream has not begun to carry either is not known here, and not waited for.)
 * - **Points where another origin's messages were lost here** (gaps.ts): a client that
 *   saw that origin less far than where the loss ended is told (90003), as subscribers
 *   here were, but still gets what there is.
 *
 * Pure: the state it reads comes through VectorSource.
 */
import type { ErrorInfo } from '../errors.js';
import type { OriginPosition } from '../protocol/serial.js';
import { INTEREST_START_MARGIN_MS } from './channel-interest.js';
import type { LogEntry } from './entry.js';
import type { Gap } from './gaps.js';

/** What vectorRange reads of a channel's state. */
export interface VectorSource {
  /** This region, and the stream's epoch. */
  region: string;
  epoch: string;
  /** This region's own seq (0: it published nothing in this epoch). */
  localSeq: number;
  /** How far this stream has got in an origin's order (this region's own: localSeq). */
  position(region: string): number | undefined;
  /** The other origins this stream has a position in. */
  carried: readonly string[];
  /** Whether a client that saw `o` can be met here (OriginPositions.meets). */
  meets(o: OriginPosition): boolean;
  /** The history held, up to serial `upto`. */
  entries(upto: number): readonly LogEntry[];
  /** When another region's interest in the channel began (ms), as the master knows it. */
  interestSince(region: string): number | undefined;
  /** When this region's interest began (ms; 0: none). */
  ownInterestSince: number;
  /** Whether retention dropped own entries that may have been stored since `ms`. */
  ownDroppedSince(ms: number): boolean;
  /** Whether retention dropped entries (of any origin) that may have been stored since `ms`. */
  droppedSince(ms: number): boolean;
  /** The points of loss up to serial `upto`, oldest first. */
  gaps(upto: number): readonly Gap[];
}

export interface VectorAnswer {
  entries: LogEntry[];
  /** An origin whose part this history cannot supply in full. */
  gap: string | null;
  /** The first point the resume crosses where another region's messages were lost. */
  lost: ErrorInfo | null;
}

/** `origins`: the client's positions; `from`: the region whose serial it brings. */
export function vectorRange(src: VectorSource, origins: readonly OriginPosition[], upto: number, from: string | undefined): VectorAnswer {
  const seen = new Map(origins.map((o) => [o.region, o]));
  let gap: string | null = null;
  for (const o of origins) {
    if (o.region === src.region ? o.epoch !== src.epoch : !src.meets(o)) gap ??= o.region;
  }
  // Origins it saw nothing of: what it would have had since its region's interest began.
  const since = from === undefined ? undefined : src.interestSince(from);
  const unseenFrom = since === undefined ? undefined : since - INTEREST_START_MARGIN_MS;
  if (!seen.has(src.region) && src.localSeq > 0 && (unseenFrom === undefined || src.ownDroppedSince(unseenFrom))) gap ??= src.region;
  // Another origin's: only where this stream from there reaches back as far, whole.
  const reachesBack = unseenFrom !== undefined && src.ownInterestSince > 0 && src.ownInterestSince <= since! && !src.droppedSince(unseenFrom);
  for (const region of src.carried) if (region !== src.region && !seen.has(region) && !reachesBack) gap ??= region;
  const all = src.entries(upto);
  const entries: LogEntry[] = [];
  const firstSeen = new Map<string, number>();
  for (const e of all) {
    const region = e.origin.region;
    const o = seen.get(region);
    if (!o) {
      if (unseenFrom !== undefined && e.storedAt < unseenFrom) continue;
      if (unseenFrom !== undefined && (region === src.region || reachesBack)) entries.push(e);
      else gap ??= region;
      continue;
    }
    if (o.epoch !== e.origin.epoch) continue;
    if (!firstSeen.has(region)) firstSeen.set(region, e.origin.seq);
    if (e.origin.seq > o.seq) entries.push(e);
  }
  // Each origin's part must start right after what the client saw.
  for (const o of origins) {
    const first = firstSeen.get(o.region);
    const mine = src.position(o.region);
    if (mine !== undefined && mine > o.seq && (first === undefined || first > o.seq + 1)) gap ??= o.region;
  }
  const crossed = (g: Gap): boolean => {
    if (!g.origin) return entries.some((e) => e.serial >= g.serial); // an older node's point: whose is not said
    const o = seen.get(g.origin.region);
    if (o) return o.epoch === g.origin.epoch && o.seq < g.origin.seq;
    // Of an origin it saw nothing of: crossed if the point is within what it would have had
    // (not knowing since when, if it is given anything after the point).
    if (unseenFrom === undefined) return entries.some((e) => e.serial >= g.serial);
    const at = all.find((e) => e.serial >= g.serial);
    return at === undefined || at.storedAt >= unseenFrom;
  };
  const lost = src.gaps(upto).find(crossed)?.error ?? null;
  return { entries, gap, lost };
}
