/**
 * Messages as the channel layer holds them, and their conversion from and to the wire.
 *
 * Canonical form: `data` is a string, bytes, or absent, never an object; a trailing
 * `base64` step of `encoding` is undone on input so that binary stays binary inside the
 * service, and redone on output only for the JSON format (msgpack carries bytes as
 * `bin`). Objects sent as JSON data become a JSON string with `json` appended to the
 * encoding, as the SDKs do themselves.
 */
import { AblyError } from '../errors.js';
import type { WireFormat, WireMessage, WirePresenceMessage } from './types.js';

export type MessageData = string | Uint8Array;

export interface Message {
  id: string;
  name?: string;
  clientId?: string;
  connectionId?: string;
  data?: MessageData;
  encoding?: string;
  /** JSON object (validated on input). */
  extras?: Record<string, unknown>;
  timestamp: number;
  /**
   * Its serial (`message-serial.ts`): set by the master of the region that first accepted
   * it, the same in every region. Absent only before that (on its way from a publisher).
   */
  serial?: string;
}

export interface PresenceMessage {
  id: string;
  action: number;
  clientId: string;
  connectionId: string;
  data?: MessageData;
  encoding?: string;
  extras?: Record<string, unknown>;
  timestamp: number;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Base64 text, either alphabet (what normalizeData and a `[filter=…]` channel name take). */
export const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Turns wire `data`/`encoding` into canonical form. Throws 40013 on bad base64. */
export function normalizeData(
  data: unknown,
  encoding: unknown,
): { data?: MessageData; encoding?: string } {
  if (encoding !== undefined && encoding !== null && typeof encoding !== 'string') {
    throw AblyError.of('invalidMessageData', 'encoding must be a string');
  }
  let enc = (encoding as string | null | undefined) || undefined;
  if (data === undefined || data === null) return enc ? { encoding: enc } : {};
  if (isBytes(data)) return { data, ...(enc ? { encoding: enc } : {}) };
  if (typeof data === 'string') {
    if (enc && (enc === 'base64' || enc.endsWith('/base64'))) {
      if (!BASE64_RE.test(data) || data.length % 4 === 1) {
        throw AblyError.of('invalidMessageData', 'data is not valid base64');
      }
      const bytes = Buffer.from(data, 'base64');
      enc = enc === 'base64' ? undefined : enc.slice(0, -'/base64'.length);
      return { data: bytes, ...(enc ? { encoding: enc } : {}) };
    }
    return { data, ...(enc ? { encoding: enc } : {}) };
  }
  // A JSON value sent as data: store its text, as the SDKs do.
  const text = JSON.stringify(data);
  enc = enc ? `${enc}/json` : 'json';
  return { data: text, encoding: enc };
}

/** `data`/`encoding` for one wire format. */
export function denormalizeData(
  data: MessageData | undefined,
  encoding: string | undefined,
  format: WireFormat,
): { data?: unknown; encoding?: string } {
  if (data === undefined) return encoding ? { encoding } : {};
  if (typeof data === 'string' || format === 'msgpack') {
    return encoding ? { data, encoding } : { data };
  }
  return {
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
    encoding: encoding ? `${encoding}/base64` : 'base64',
  };
}

function utf8Length(s: string | undefined): number {
  return s === undefined ? 0 : Buffer.byteLength(s, 'utf8');
}

/**
 * Size of a message as Ably counts it against maxMessageSize (TO3l8): the bytes of
 * name, clientId, data and the JSON of extras.
 */
export function messageSize(m: {
  name?: string;
  clientId?: string;
  data?: MessageData;
  extras?: unknown;
}): number {
  let n = utf8Length(m.name) + utf8Length(m.clientId);
  if (typeof m.data === 'string') n += utf8Length(m.data);
  else if (m.data) n += m.data.byteLength;
  if (m.extras !== undefined) n += utf8Length(JSON.stringify(m.extras));
  return n;
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw AblyError.of('badRequest', `message ${field} must be a string`);
  return v;
}

function optExtras(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || isBytes(v)) {
    throw AblyError.of('invalidPublish', 'message extras must be a JSON object');
  }
  return v as Record<string, unknown>;
}

/** Fields of an inbound message after validation; id and timestamp are filled by the caller. */
export interface InboundMessage {
  id?: string;
  name?: string;
  clientId?: string;
  data?: MessageData;
  encoding?: string;
  extras?: Record<string, unknown>;
  timestamp?: number;
}

/** Ably's message actions that change a message already published (TM5): update, delete, append. */
const MUTATIONS = new Set([1, 2, 5]);

/** A publish makes new messages (action 0, message.create, or none): updates, deletes and appends are refused. */
function refuseAction(action: unknown): void {
  if (action === undefined || action === null || action === 0) return;
  if (typeof action === 'number' && MUTATIONS.has(action)) {
    throw AblyError.of('mutableMessagesNotEnabled', 'message updates, deletes and appends are not offered by this service');
  }
  throw AblyError.of('badRequest', 'a published message\'s action must be 0 (message.create)');
}

/** Validates a wire message from a client. Throws AblyError (400-class) on bad fields. */
export function fromWire(w: unknown): InboundMessage {
  if (typeof w !== 'object' || w === null || Array.isArray(w) || isBytes(w)) {
    throw AblyError.of('badRequest', 'each message must be an object');
  }
  const m = w as WireMessage;
  const out: InboundMessage = {};
  const id = optString(m.id, 'id');
  if (id !== undefined) {
    if (id.length === 0 || id.length > 256) throw AblyError.of('invalidPublishId', 'id must be 1..256 characters');
    // Ids are kept as UTF-8 (dedup window), where an unpaired surrogate cannot be told apart.
    if (!id.isWellFormed()) throw AblyError.of('invalidPublishId', 'id must be well-formed Unicode (an unpaired surrogate)');
    out.id = id;
  }
  refuseAction(m.action);
  const name = optString(m.name, 'name');
  if (name !== undefined) out.name = name;
  const clientId = optString(m.clientId, 'clientId');
  if (clientId !== undefined) out.clientId = clientId;
  const { data, encoding } = normalizeData(m.data, m.encoding);
  if (data !== undefined) out.data = data;
  if (encoding !== undefined) out.encoding = encoding;
  const extras = optExtras(m.extras);
  if (extras !== undefined) out.extras = extras;
  if (m.timestamp !== undefined && m.timestamp !== null) {
    if (typeof m.timestamp !== 'number' || !Number.isFinite(m.timestamp)) {
      throw AblyError.of('badRequest', 'message timestamp must be a number');
    }
    out.timestamp = m.timestamp;
  }
  return out;
}

/** A message as sent to a client in one wire format. */
export function toWire(m: Message, format: WireFormat): WireMessage {
  const out: WireMessage = { id: m.id };
  if (m.name !== undefined) out.name = m.name;
  if (m.clientId !== undefined) out.clientId = m.clientId;
  if (m.connectionId !== undefined) out.connectionId = m.connectionId;
  const d = denormalizeData(m.data, m.encoding, format);
  if (d.data !== undefined) out.data = d.data;
  if (d.encoding !== undefined) out.encoding = d.encoding;
  if (m.extras !== undefined) out.extras = m.extras;
  out.timestamp = m.timestamp;
  if (m.serial !== undefined) out.serial = m.serial;
  return out;
}

export function presenceToWire(m: PresenceMessage, format: WireFormat): WirePresenceMessage {
  const out: WirePresenceMessage = {
    id: m.id,
    action: m.action,
    clientId: m.clientId,
    connectionId: m.connectionId,
    timestamp: m.timestamp,
  };
  const d = denormalizeData(m.data, m.encoding, format);
  if (d.data !== undefined) out.data = d.data;
  if (d.encoding !== undefined) out.encoding = d.encoding;
  if (m.extras !== undefined) out.extras = m.extras;
  return out;
}
