/**
 * An attach of a client that comes from another region of the deployment (its
 * channelSerial is that region's, a vector of how far it got from each origin): the
 * channel client's (client.ts) question to the master's history, and what the
 * subscriber is given.
 */
import { AblyError } from '../errors.js';
import { RESUME_MAX_BYTES } from '../config/defaults.js';
import type { OriginPosition } from '../protocol/serial.js';
import { floorsAt, serialFor, type SubRec } from './delivery.js';
import type { ChannelKey } from './entry.js';
import type { ChannelRouter } from './router.js';
import type { AttachOutcome } from './subscriber.js';

export interface RegionAttachDeps {
  router: ChannelRouter;
  key: ChannelKey;
  timeoutMs: number;
  /** The channel client's epoch now. */
  epoch(): string | null;
  /** What the attach answers where the channel restarted in a new epoch while it asked (client.ts restartedDuring). */
  restartedDuring(): AttachOutcome;
}

/**
 * A client that comes from another region, with that region's channelSerial: each
 * origin's part of what it missed is taken from this region's history, in this region's
 * order. Resumed only if every part is covered.
 */
export async function attachFromRegion(
  d: RegionAttachDeps,
  rec: SubRec,
  { origins, from }: { origins: OriginPosition[]; from: string },
  here: number,
  channelSerial: string,
  hasPresence: boolean,
): Promise<AttachOutcome> {
  rec.after = here;
  const epoch = d.epoch();
  const floors = floorsAt(origins, channelSerial);
  if (floors) rec.floors = floors;
  const attached = serialFor(rec, channelSerial);
  try {
    const { body } = await d.router.call(
      d.key,
      { type: 'vectorRange', channel: d.key, origins, upto: here, from, maxBytes: RESUME_MAX_BYTES },
      d.timeoutMs,
    );
    if (body.kind !== 'vector') throw AblyError.of('internalChannel', `unexpected reply ${body.kind}`);
    if (d.epoch() !== epoch) return d.restartedDuring();
    if (body.gap !== null) {
      const error = AblyError.of('channelNoMatchingEpoch', `this region's history does not cover what was missed from region ${body.gap}`);
      return { resumed: false, error, channelSerial: attached, hasPresence };
    }
    // The entries are interleaved with ones the client had already seen: send only these.
    rec.backlog = body.entries;
    rec.after = 0;
    rec.only = new Set(body.entries.map((e) => e.serial));
    rec.liveFrom = here;
    // Another region's messages were lost in what it missed: it is told, as those here were.
    if (body.lost) return { resumed: false, error: AblyError.fromInfo(body.lost), channelSerial: attached, hasPresence };
    return { resumed: true, channelSerial: attached, hasPresence };
  } catch (err) {
    if (d.epoch() !== epoch) return d.restartedDuring();
    const error = err instanceof AblyError ? err : AblyError.of('channelNoMatchingEpoch');
    return { resumed: false, error, channelSerial: attached, hasPresence };
  }
}
