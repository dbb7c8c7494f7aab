/**
 * Channel names: validation and the `[?param=value]name` qualifier form (a way to pass
 * channel params such as `rewind` in the name). Rules from Ably's docs: not empty, not
 * starting with `:` or `[` (except a qualifier), no newline; we also cap the length.
 */
import { AblyError } from '../errors.js';
import { MAX_CHANNEL_NAME_LENGTH } from '../config/defaults.js';

export interface ParsedChannelName {
  /** The channel's own name (what keys capabilities, history and the ring). */
  name: string;
  /** Params given in a `[?…]` qualifier. */
  params: Record<string, string>;
}

export function parseChannelName(raw: unknown, maxLength = MAX_CHANNEL_NAME_LENGTH): ParsedChannelName {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw AblyError.of('invalidChannelName', 'channel name must be a non-empty string');
  }
  let name = raw;
  const params: Record<string, string> = {};
  if (raw.startsWith('[?')) {
    const end = raw.indexOf(']');
    if (end < 0) throw AblyError.of('invalidChannelName', `unterminated qualifier in "${raw.slice(0, 64)}"`);
    for (const [k, v] of new URLSearchParams(raw.slice(2, end))) params[k] = v;
    name = raw.slice(end + 1);
  } else if (raw.startsWith('[')) {
    throw AblyError.of('invalidChannelName', 'qualified channels ([meta], [queue], filters) are not supported');
  }
  if (name.length === 0) throw AblyError.of('invalidChannelName', 'channel name must not be empty');
  if (name.length > maxLength) throw AblyError.of('invalidChannelName', `channel name longer than ${maxLength} characters`);
  if (name.startsWith(':') || name.startsWith('[')) {
    throw AblyError.of('invalidChannelName', 'channel name must not start with ":" or "["');
  }
  if (/[\r\n\u0000]/.test(name)) throw AblyError.of('invalidChannelName', 'channel name must not contain newlines or NUL');
  return { name, params };
}
