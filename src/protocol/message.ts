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
import { parseMessageSerial } from './message-serial.js';
import type { WireFormat, WireMessage, WirePresenceMessage } from './types.js';

export type MessageData = string | Uint8Array;

/**
 * Ably's message actions (TM5) a client may send (a message without one is a create), its
 * SUMMARY (4: the service's, src/protocol/annotation.ts), and ANNOTATION: not Ably's, this
 * service's mark of an annotation held as a message in the stream (src/channel/annotations.ts),
 * never sent as a message's action.
 */
export const MessageAction = { CREATE: 0, UPDATE: 1, DELETE: 2, SUMMARY: 4, APPEND: 5, ANNOTATION: 64 } as const;

/** What an annotation is, besides a message's fields (Ably's Annotation, TAN2). */
export interface AnnotationFields {
  /** 0 create, 1 delete (Ably's annotation actions). */
  action: number;
  /** `namespace:method.version`, e.g. `reactions:distinct.v1`. */
  type: string;
  /** multiple.v1's count (1 where absent). */
  count?: number;
  /** Its own serial, made where it was accepted (absent on its way there). */
  serial?: string;
}

/** A message's annotations summed up, by type (Ably's `annotations.summary`, TM7). */
export type Summary = Record<string, unknown>;

/** Who changed a message, when and why (Ably's MessageVersion, TM2s). */
export interface MessageVersion {
  /** The change's own serial (made where it was accepted, as a message's). */
  serial?: string;
  timestamp?: number;
  clientId?: string;
  description?: string;
  metadata?: Record<string, string>;
}

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
  /**
   * An update (1), delete (2) or append (5) of the message named by `serial` (absent: a
   * create). Such a message is one version of that one (`src/channel/versions.ts`).
   */
  action?: number;
  version?: MessageVersion;
  /**
   * Only on its way from a publisher to the master: the publisher may change only the
   * messages of this clientId (a `-own` capability). Never stored or sent to clients.
   */
  ownBy?: string;
  /** An annotation's fields (action ANNOTATION; `serial` names the message it annotates). */
  annotation?: AnnotationFields;
  /**
   * An annotation's, where it was a batch's last of its message: the summary of its
   * message's annotations, as the region that stored it held them with it. A message read
   * as it stands (history, getMessage): its summary then.
   */
  summary?: Summary;
}

/** Whether `m` is an annotation held as a message (src/channel/annotations.ts). */
export function isAnnotation(m: Message): boolean {
  return m.action === MessageAction.ANNOTATION;
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

/** The size of messages together (messageSize of each, added up). */
export function messagesSize(messages: readonly Message[]): number {
  let n = 0;
  for (const m of messages) n += messageSize(m);
  return n;
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw AblyError.of('badRequest', `message ${field} must be a string`);
  return v;
}

/**
 * How deep a message's extras may nest (objects and arrays within it). msgpack's encoder
 * recurses: extras 1,300 levels deep (7.8 KB, under any size limit) overflowed the stack
 * of the node delivering them to a msgpack subscriber (a review, fifty-second session).
 * Ably's own extras (push, headers, ref, delta) are a few levels deep.
 */
export const MAX_EXTRAS_DEPTH = 32;

function optExtras(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || isBytes(v)) {
    throw AblyError.of('invalidPublish', 'message extras must be a JSON object');
  }
  if (nestsDeeper(v, MAX_EXTRAS_DEPTH)) throw AblyError.of('invalidPublish', `message extras nest deeper than ${MAX_EXTRAS_DEPTH} levels`);
  return v as Record<string, unknown>;
}

/** Whether objects and arrays nest in `v` (itself one level) more than `levels` deep; it recurses at most `levels` + 1 deep. */
function nestsDeeper(v: object, levels: number): boolean {
  if (levels === 0) return true;
  for (const k in v) {
    const child = (v as Record<string, unknown>)[k];
    if (child !== null && typeof child === 'object' && !isBytes(child) && nestsDeeper(child, levels - 1)) return true;
  }
  return false;
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
  /** An update, delete or append (absent: a create), of the message of `serial`, with what the client says of it. */
  action?: number;
  serial?: string;
  version?: MessageVersion;
}

/** Ably's message actions that change a message already published (TM5): update, delete, append. */
const MUTATIONS = new Set<number>([MessageAction.UPDATE, MessageAction.DELETE, MessageAction.APPEND]);

/** A create (action 0 or none) or a change of the message its `serial` names; Ably's other actions are the service's. */
function readAction(m: WireMessage, out: InboundMessage): void {
  const action = m.action;
  if (action === undefined || action === null || action === MessageAction.CREATE) return;
  if (typeof action !== 'number' || !MUTATIONS.has(action)) {
    throw AblyError.of('badRequest', 'a message\'s action must be 0 (create), 1 (update), 2 (delete) or 5 (append)');
  }
  if (parseMessageSerial(m.serial) === null) {
    throw AblyError.of('invalidParameterValue', 'an update, delete or append needs the serial of the message it changes, as this service made it');
  }
  out.action = action;
  out.serial = m.serial;
  const v = (m as { version?: unknown }).version;
  if (v === undefined || v === null) return;
  if (typeof v !== 'object' || Array.isArray(v) || isBytes(v)) throw AblyError.of('badRequest', 'message version must be an object');
  const w = v as Record<string, unknown>;
  const version: MessageVersion = {};
  const clientId = optString(w.clientId, 'version.clientId');
  if (clientId !== undefined) version.clientId = clientId;
  const description = optString(w.description, 'version.description');
  if (description !== undefined) version.description = description;
  if (w.metadata !== undefined && w.metadata !== null) {
    const md = w.metadata;
    if (typeof md !== 'object' || Array.isArray(md) || isBytes(md) || !Object.values(md).every((x) => typeof x === 'string')) {
      throw AblyError.of('badRequest', 'message version.metadata must be an object of strings');
    }
    version.metadata = md as Record<string, string>;
  }
  out.version = version;
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
  readAction(m, out);
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

/** The ids the service gives a realtime connection's messages and presence: `connectionId:msgSerial:index` (connection-key.ts). */
const SERVICE_ID = /^([\w-]{11}):(?:\d+|p[\w-]{12}):\d+$/;

/**
 * The key a message (or presence message, or annotation) is deduplicated under: its id,
 * save for an id of the form the service gives a connection's messages that names another
 * connection than the message's own (a client's choice: a received message published
 * again, or an id taken to shadow that connection's next message, as a review found the
 * same id was: that message was then dropped as a duplicate, acknowledged all the same).
 * Such ids are deduplicated among themselves, apart: every region and node makes the
 * same key from the message's own fields.
 */
export function dedupKey(id: string, connectionId: string | undefined): string {
  // Most ids are the service's for the message's own connection: no pattern to run (every lookup and add of every message).
  if (connectionId !== undefined && id.charCodeAt(connectionId.length) === 58 && id.startsWith(connectionId)) return id;
  const named = SERVICE_ID.exec(id);
  return named && named[1] !== connectionId ? `\u0001${id}` : id;
}

/**
 * The clientId a publisher's message (or annotation: `what`) is kept under: the one it
 * names, which must be the publisher's (`publisher`: its clientId, '*' for any, null for
 * anonymous) unless the publisher may act as any, else the publisher's own. Throws 40012.
 */
export function publishedClientId(given: string | undefined, publisher: string | null, what: 'message' | 'annotation'): string | undefined {
  if (given === undefined) return publisher !== null && publisher !== '*' ? publisher : undefined;
  if (given === '*') throw AblyError.of('invalidClientId', `${what === 'message' ? 'a message' : 'an annotation'} cannot have clientId "*"`);
  if (publisher === null || (publisher !== '*' && publisher !== given)) {
    throw AblyError.of('invalidClientId', `${what} clientId "${given}" does not match the connection's (${publisher ?? 'anonymous'})`);
  }
  return given;
}

/** `m`'s name, data (with its encoding) and extras, and `clientId` and `connectionId`, on `msg` (where there are any). */
export function withFields(msg: Message, m: InboundMessage, clientId: string | undefined, connectionId: string | undefined): Message {
  if (m.name !== undefined) msg.name = m.name;
  if (clientId !== undefined) msg.clientId = clientId;
  if (connectionId !== undefined) msg.connectionId = connectionId;
  if (m.data !== undefined) msg.data = m.data;
  if (m.encoding !== undefined) msg.encoding = m.encoding;
  if (m.extras !== undefined) msg.extras = m.extras;
  return msg;
}

/**
 * A message as sent to a client in one wire format. `parentConnectionId`: the
 * connectionId of the ProtocolMessage it goes in (frames.ts), which the SDKs give a
 * message that has none (TM2c; ably-js populateFieldsFromParent): left out where it is
 * the message's.
 */
export function toWire(m: Message, format: WireFormat, parentConnectionId?: string): WireMessage {
  const out: WireMessage = { id: m.id };
  if (m.name !== undefined) out.name = m.name;
  if (m.clientId !== undefined) out.clientId = m.clientId;
  if (m.connectionId !== undefined && m.connectionId !== parentConnectionId) out.connectionId = m.connectionId;
  const d = denormalizeData(m.data, m.encoding, format);
  if (d.data !== undefined) out.data = d.data;
  if (d.encoding !== undefined) out.encoding = d.encoding;
  if (m.extras !== undefined) out.extras = m.extras;
  out.timestamp = m.timestamp;
  if (m.serial !== undefined) out.serial = m.serial;
  if (m.action !== undefined) out.action = m.action;
  if (m.version !== undefined) out.version = m.version;
  if (m.summary !== undefined) out.annotations = { summary: m.summary };
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
