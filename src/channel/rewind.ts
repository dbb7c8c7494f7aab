/**
 * Ably's `rewind` on attach: the channel's last messages before the attach point, read
 * from the master's history (attach-point.ts parses the parameter).
 */
import { AblyError } from '../errors.js';
import { MAX_REWIND, type Rewind } from './attach-point.js';
import type { ChannelKey, LogEntry } from './entry.js';
import type { ChannelRouter } from './router.js';

/**
 * The messages a rewind asks for, up to the attach point (`here`), oldest first, read from
 * the master's history. Truncated (90004 on the ATTACHED) only where it asked for more than
 * a rewind gives (MAX_REWIND), or more than a history page's bytes hold, and there were
 * more: fewer than asked is no error.
 */
export async function readRewind(
  router: ChannelRouter,
  key: ChannelKey,
  epoch: string,
  r: Rewind,
  here: number,
  timeoutMs: number,
): Promise<{ entries: LogEntry[]; truncated: boolean }> {
  const wanted = Math.min('count' in r ? r.count : Infinity, r.limit ?? Infinity);
  const limit = Math.min(wanted, MAX_REWIND);
  if (limit === 0 || here === 0) return { entries: [], truncated: false };
  const query = { direction: 'backwards', limit, kind: 'message', untilSerial: here, epoch, ...('ms' in r ? { start: r.now - r.ms } : {}) } as const;
  let reply;
  try {
    reply = await router.call(key, { type: 'history', channel: key, query }, timeoutMs);
  } catch (err) {
    // Of another epoch at the master: the channel started again during this attach, which
    // the attach learns of by the new epoch (client.ts), not by a rewind that failed.
    if (err instanceof AblyError && err.is('channelNoMatchingEpoch')) return { entries: [], truncated: false };
    throw err;
  }
  const { body } = reply;
  if (body.kind !== 'entries') return { entries: [], truncated: false };
  // Cut short where more were wanted than a rewind gives, or by the page's bytes (HISTORY_PAGE_MAX_BYTES).
  const truncated = body.more && (wanted > MAX_REWIND || body.entries.length < limit);
  return { entries: [...body.entries].reverse(), truncated };
}
