/**
 * Channel names: validation and the qualifier forms: `[?param=value]name` (a way to pass
 * channel params such as `rewind` in the name) and `[filter=<base64>?params]name` (a
 * subscription filter, ably-js `channels.getDerived`: filter.ts). Rules from Ably's
 * docs: not empty, not starting with `:` or `[` (except a qualifier), no newline; we
 * also cap the length. The metachannels are `[meta]channel.lifecycle` (lifecycle.ts) and
 * `[meta]stats:minute` (stats-minute.ts).
 */
import { AblyError } from '../errors.js';
import { MAX_CHANNEL_NAME_LENGTH } from '../config/defaults.js';
import { compileFilter, MAX_FILTER_LENGTH, type MessageFilter } from '../channel/filter.js';
import { BASE64_RE } from './message.js';
import { LIFECYCLE_CHANNEL } from '../channel/lifecycle.js';

/** The app statistics metachannel (node/stats-minute.ts). */
export const STATS_CHANNEL = '[meta]stats:minute';
/** The metachannels here (Ably's others, such as `[meta]log` and `[meta]connection.lifecycle`, are not). */
export const METACHANNELS: readonly string[] = [LIFECYCLE_CHANNEL, STATS_CHANNEL];

export interface ParsedChannelName {
  /** The channel's own name (what keys history and the ring). */
  name: string;
  /** Params given in the qualifier (after its `?`). */
  params: Record<string, string>;
  /** The subscription filter of a `[filter=…]` name, compiled. */
  filter: MessageFilter | null;
  /** What capabilities are checked against: `[filter]name` for a filtered name (Ably's docs), else the name. */
  resource: string;
}

export function parseChannelName(raw: unknown, maxLength = MAX_CHANNEL_NAME_LENGTH): ParsedChannelName {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw AblyError.of('invalidChannelName', 'channel name must be a non-empty string');
  }
  let name = raw;
  let filter: MessageFilter | null = null;
  const params: Record<string, string> = {};
  if (raw.startsWith('[?') || raw.startsWith('[filter=')) {
    const end = raw.indexOf(']');
    if (end < 0) throw AblyError.of('invalidChannelName', `unterminated qualifier in "${raw.slice(0, 64)}"`);
    const inner = raw.slice(1, end);
    const q = inner.indexOf('?');
    if (inner.startsWith('filter=')) filter = parseFilter(inner.slice('filter='.length, q < 0 ? inner.length : q));
    if (q >= 0) for (const [k, v] of new URLSearchParams(inner.slice(q + 1))) params[k] = v;
    name = raw.slice(end + 1);
  } else if (raw.startsWith('[meta]')) {
    // A metachannel: its name is whole, qualifier and all (capabilities name it so too).
    if (!METACHANNELS.includes(raw)) throw AblyError.of('invalidChannelName', `the metachannels here are ${METACHANNELS.join(' and ')}, not "${raw.slice(0, 64)}"`);
    return { name: raw, params, filter, resource: raw };
  } else if (raw.startsWith('[')) {
    throw AblyError.of('invalidChannelName', `qualified channels other than [?params], [filter=…] and ${METACHANNELS.join(', ')} ([queue], other [meta]) are not supported`);
  }
  if (name.length === 0) throw AblyError.of('invalidChannelName', 'channel name must not be empty');
  if (name.length > maxLength) throw AblyError.of('invalidChannelName', `channel name longer than ${maxLength} characters`);
  if (name.startsWith(':') || name.startsWith('[')) {
    throw AblyError.of('invalidChannelName', 'channel name must not start with ":" or "["');
  }
  if (/[\r\n\u0000]/.test(name)) throw AblyError.of('invalidChannelName', 'channel name must not contain newlines or NUL');
  return { name, params, filter, resource: filter ? `[filter]${name}` : name };
}

/** A filter qualifier's value: the expression in base64 (ably-js: UTF-8, standard alphabet). */
function parseFilter(b64: string): MessageFilter {
  if (b64.length === 0) throw AblyError.of('invalidChannelName', 'empty filter in the channel name');
  // At most 4 bytes of UTF-8 a character; the expression's own length is checked once decoded.
  if (b64.length > Math.ceil((MAX_FILTER_LENGTH * 4 * 4) / 3) + 4) {
    throw AblyError.of('invalidChannelName', `the filter in the channel name is longer than ${MAX_FILTER_LENGTH} characters`);
  }
  if (!BASE64_RE.test(b64)) throw AblyError.of('invalidChannelName', 'the filter in the channel name is not base64');
  let source: string;
  try {
    source = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    throw AblyError.of('invalidChannelName', 'the filter in the channel name is not UTF-8');
  }
  return compileFilter(source);
}

/**
 * A channel name for an operation a filtered name cannot take (publishing, presence,
 * history, status: as at Ably, a filter applies to an attachment's messages only).
 */
export function unfilteredChannelName(raw: unknown, what: string): ParsedChannelName {
  const parsed = parseChannelName(raw);
  if (parsed.filter) {
    throw AblyError.of('invalidChannelName', `${what} is not available on a channel with a filter; use the channel "${parsed.name}"`);
  }
  return parsed;
}
