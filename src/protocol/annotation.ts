/**
 * Annotations on the wire (Ably's Annotation, TAN2; ANNOTATION ProtocolMessages and
 * `POST /channels/{ch}/messages/{serial}/annotations`) and the summary messages they
 * make (a MESSAGE with action 4, TM5): what a client sends, validated into the message
 * the channel holds (src/channel/annotations.ts), and what clients are sent of one.
 */
import { AblyError } from '../errors.js';
import { denormalizeData, fromWire, MessageAction, messageSize, publishedClientId, withFields, type Message } from './message.js';
import { parseMessageSerial } from './message-serial.js';
import type { WireAnnotation, WireFormat, WireMessage } from './types.js';

/** Ably's annotation actions (TAN2b). */
export const ANNOTATION_CREATE = 0;
export const ANNOTATION_DELETE = 1;

/** Annotation methods, by the part of a type after its last `:`. */
export const ANNOTATION_METHODS = ['total.v1', 'flag.v1', 'distinct.v1', 'unique.v1', 'multiple.v1'] as const;
export type AnnotationMethod = (typeof ANNOTATION_METHODS)[number];
const METHODS = new Set<string>(ANNOTATION_METHODS);

/** The method of a type (`reactions:distinct.v1` → `distinct.v1`), or null: none this service knows, or no namespace before it. */
export function methodOf(type: string): AnnotationMethod | null {
  const colon = type.lastIndexOf(':');
  const m = type.slice(colon + 1);
  return colon > 0 && METHODS.has(m) ? (m as AnnotationMethod) : null;
}

/** Methods whose annotations need an identified client (ably/docs: "requires an identified client"). */
export function needsClientId(method: AnnotationMethod, action: number): boolean {
  if (method === 'flag.v1' || method === 'distinct.v1' || method === 'unique.v1') return true;
  // A delete of multiple.v1 takes back one client's counts: it has to name one.
  return method === 'multiple.v1' && action === ANNOTATION_DELETE;
}

/** The longest annotation type, and name, taken (characters): both are keys of every summary after them. */
export const MAX_ANNOTATION_TYPE_LENGTH = 256;
export const MAX_ANNOTATION_NAME_LENGTH = 256;
/** The largest count multiple.v1 takes from one annotation (proto: uint32). */
export const MAX_ANNOTATION_COUNT = 2 ** 31 - 1;

export interface AnnotationBuild {
  maxMessageSize: number;
  /** The publisher's identity: a clientId, '*' (any), or null (anonymous). */
  clientId: string | null;
  /** Prefix for the ids of annotations that name none (`idBase:index`); null: each must name one. */
  idBase: string | null;
  connectionId?: string;
  now: number;
  /** REST: the serial the path names (each annotation's `messageSerial`, where it gives one, must be it). */
  messageSerial?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * A publish's annotations, validated (the message, type, action, count, clientId and
 * size), as the channel holds them: each a message with action ANNOTATION whose `serial`
 * names the message annotated. Throws an AblyError the caller maps to NACK or HTTP.
 */
export function buildAnnotations(raw: unknown, o: AnnotationBuild): Message[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw AblyError.of('badRequest', 'an annotation publish needs at least one annotation');
  let total = 0;
  return list.map((w, i) => {
    const m = annotationOf(w, i, o);
    // The publish as a whole, as a message publish's (gateway/publish.ts).
    total += messageSize(m) + m.annotation!.type.length;
    if (total > o.maxMessageSize) throw AblyError.of('messageTooLarge', `annotations of ${total}+ bytes exceed maxMessageSize ${o.maxMessageSize}`);
    return m;
  });
}

function annotationOf(w: unknown, i: number, o: AnnotationBuild): Message {
  if (!isObject(w)) throw AblyError.of('badRequest', 'each annotation must be an object');
  const a = w as WireAnnotation;
  const action = a.action ?? ANNOTATION_CREATE;
  if (action !== ANNOTATION_CREATE && action !== ANNOTATION_DELETE) throw AblyError.of('badRequest', "an annotation's action must be 0 (create) or 1 (delete)");
  const target = a.messageSerial ?? o.messageSerial;
  if (typeof target !== 'string' || parseMessageSerial(target) === null) {
    throw AblyError.of('invalidParameterValue', 'an annotation needs the serial of the message it annotates (messageSerial), as this service made it');
  }
  if (o.messageSerial !== undefined && target !== o.messageSerial) throw AblyError.of('invalidParameterValue', "an annotation's messageSerial must be the one its path names");
  if (typeof a.type !== 'string' || a.type.length === 0 || a.type.length > MAX_ANNOTATION_TYPE_LENGTH || !a.type.isWellFormed()) {
    throw AblyError.of('invalidParameterValue', `an annotation needs a type (a string of 1 to ${MAX_ANNOTATION_TYPE_LENGTH} characters, such as "reactions:distinct.v1")`);
  }
  const method = methodOf(a.type);
  if (!method) throw AblyError.of('invalidParameterValue', `annotation type "${a.type.slice(0, 100)}" must be namespace:method, its method one of ${ANNOTATION_METHODS.join(', ')}`);
  if (a.count !== undefined && a.count !== null && (typeof a.count !== 'number' || !Number.isInteger(a.count) || a.count < 1 || a.count > MAX_ANNOTATION_COUNT)) {
    throw AblyError.of('invalidParameterValue', `an annotation's count must be a whole number from 1 to ${MAX_ANNOTATION_COUNT}`);
  }
  // The fields a message shares (id, name, clientId, data, encoding, extras), as a message's are checked.
  const m = fromWire({ id: a.id, name: a.name, clientId: a.clientId, data: a.data, encoding: a.encoding, extras: a.extras });
  // Summaries are keyed by them; kept as UTF-8 (the entry codec), an unpaired surrogate would not be itself on another node.
  if (m.name !== undefined && (m.name.length > MAX_ANNOTATION_NAME_LENGTH || !m.name.isWellFormed())) {
    throw AblyError.of('invalidParameterValue', `an annotation's name must be well-formed text of at most ${MAX_ANNOTATION_NAME_LENGTH} characters`);
  }
  if (m.clientId !== undefined && !m.clientId.isWellFormed()) throw AblyError.of('invalidClientId', "an annotation's clientId must be well-formed text");
  const clientId = publishedClientId(m.clientId, o.clientId, 'annotation');
  if (clientId === undefined && needsClientId(method, action)) {
    throw AblyError.of('invalidClientId', `a ${method} annotation${action === ANNOTATION_DELETE ? "'s delete" : ''} needs an identified client (a clientId)`);
  }
  if (m.name === undefined && action === ANNOTATION_CREATE && method !== 'total.v1' && method !== 'flag.v1') {
    throw AblyError.of('invalidParameterValue', `a ${method} annotation needs a name`);
  }
  const id = m.id ?? (o.idBase !== null ? `${o.idBase}:${i}` : undefined);
  if (id === undefined) throw AblyError.of('invalidPublishId', 'an annotation without an id needs a msgSerial (its id is made from it)');
  const annotation = { action, type: a.type, ...(typeof a.count === 'number' ? { count: a.count } : {}) };
  return withFields({ id, timestamp: o.now, serial: target, action: MessageAction.ANNOTATION, annotation }, m, clientId, o.connectionId);
}

/** An annotation (as the channel holds it) as clients are sent it. Every field is sent: REST results get none from a ProtocolMessage. */
export function annotationToWire(m: Message, format: WireFormat): WireAnnotation {
  const f = m.annotation!;
  const out: WireAnnotation = { id: m.id, action: f.action, type: f.type, messageSerial: m.serial! };
  if (f.serial !== undefined) out.serial = f.serial;
  if (m.name !== undefined) out.name = m.name;
  if (m.clientId !== undefined) out.clientId = m.clientId;
  if (m.connectionId !== undefined) out.connectionId = m.connectionId;
  if (f.count !== undefined) out.count = f.count;
  const d = denormalizeData(m.data, m.encoding, format);
  if (d.data !== undefined) out.data = d.data;
  if (d.encoding !== undefined) out.encoding = d.encoding;
  if (m.extras !== undefined) out.extras = m.extras;
  out.timestamp = m.timestamp;
  return out;
}

/**
 * The summary message an annotation makes, as clients that take messages are sent it:
 * action 4, the annotated message's serial, and its annotations summed up as the region
 * held them with this one (the id and time are the annotation's).
 */
export function summaryToWire(m: Message): WireMessage {
  return { id: m.id, timestamp: m.timestamp, serial: m.serial!, action: MessageAction.SUMMARY, annotations: { summary: m.summary! } };
}
