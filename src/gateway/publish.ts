/**
 * Turns the messages of a publish (realtime MESSAGE or REST body) into channel
 * messages: validated, size-checked, clientId-checked, each with an id and timestamp.
 */
import { AblyError } from '../errors.js';
import type { Limits } from '../config/topology.js';
import { PresenceAction } from '../protocol/actions.js';
import { fromWire, messageSize, type InboundMessage, type Message, type PresenceMessage } from '../protocol/message.js';

export interface BuildOptions {
  limits: Limits;
  /** The publisher's identity: a clientId, '*' (any), or null (anonymous). */
  clientId: string | null;
  /**
   * Prefix for ids the publisher did not give: `connectionId:msgSerial` on realtime
   * (ids become `connectionId:msgSerial:index`), a random base on REST; null: keep none.
   */
  idBase: string | null;
  connectionId?: string;
  now: number;
}

/** A step's name as the SDKs read it (ably-js's decodeData: unanchored, so ` vcdiff` and `vcdiff+x` are vcdiff too). */
const SDK_STEP = /[-\w]+/;

/**
 * Delta mode's fields are the service's (src/channel/delta.ts): a publisher's own
 * `extras.delta`, or a `vcdiff` step in its encoding, would have every SDK on the channel
 * try to apply a delta that is not one, fail (40018), attach again from the message
 * before and be sent it again, for ever.
 */
function refuseDeltaFields(m: InboundMessage): void {
  if (m.extras && 'delta' in m.extras) throw AblyError.of('invalidPublish', 'extras.delta is set by the service (delta mode), not by a publisher');
  if (m.encoding?.includes('vcdiff') && m.encoding.split('/').some((step) => SDK_STEP.exec(step)?.[0] === 'vcdiff')) {
    throw AblyError.of('invalidMessageData', "a vcdiff encoding is the service's (delta mode), not a publisher's");
  }
}

/** Validates and completes messages; throws an AblyError the caller maps to NACK or HTTP. */
export function buildMessages(raw: unknown, o: BuildOptions): Message[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw AblyError.of('badRequest', 'a publish needs a non-empty array of messages');
  }
  let total = 0;
  const out: Message[] = [];
  for (let i = 0; i < raw.length; i++) {
    const m = fromWire(raw[i]);
    refuseDeltaFields(m);
    total += messageSize(m);
    if (total > o.limits.maxMessageSize) {
      throw AblyError.of('messageTooLarge', `messages of ${total}+ bytes exceed maxMessageSize ${o.limits.maxMessageSize}`);
    }
    let clientId = m.clientId;
    if (clientId !== undefined) {
      if (clientId === '*') throw AblyError.of('invalidClientId', 'a message cannot have clientId "*"');
      if (o.clientId === null || (o.clientId !== '*' && o.clientId !== clientId)) {
        throw AblyError.of('invalidClientId', `message clientId "${clientId}" does not match the connection's (${o.clientId ?? 'anonymous'})`);
      }
    } else if (o.clientId !== null && o.clientId !== '*') {
      clientId = o.clientId;
    }
    const id = m.id ?? (o.idBase !== null ? `${o.idBase}:${i}` : undefined);
    if (id === undefined) throw AblyError.of('invalidPublishId', 'message id missing');
    const msg: Message = { id, timestamp: m.timestamp ?? o.now };
    if (m.name !== undefined) msg.name = m.name;
    if (clientId !== undefined) msg.clientId = clientId;
    if (o.connectionId !== undefined) msg.connectionId = o.connectionId;
    if (m.data !== undefined) msg.data = m.data;
    if (m.encoding !== undefined) msg.encoding = m.encoding;
    if (m.extras !== undefined) msg.extras = m.extras;
    out.push(msg);
  }
  return out;
}

const PRESENCE_OPS = new Set<number>([PresenceAction.ENTER, PresenceAction.UPDATE, PresenceAction.LEAVE]);

/**
 * Validates a connection's presence operations (PRESENCE ProtocolMessage): enter,
 * update or leave for its own clientId, or for any clientId when it may act as any.
 */
export function buildPresence(raw: unknown, o: BuildOptions & { connectionId: string; idBase: string }): PresenceMessage[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw AblyError.of('badRequest', 'a PRESENCE needs a non-empty array of presence messages');
  }
  const out: PresenceMessage[] = [];
  for (let i = 0; i < raw.length; i++) {
    const w = raw[i] as { action?: unknown; clientId?: unknown; id?: unknown; data?: unknown; encoding?: unknown; extras?: unknown };
    if (typeof w !== 'object' || w === null || Array.isArray(w)) throw AblyError.of('badRequest', 'each presence message must be an object');
    if (typeof w.action !== 'number' || !PRESENCE_OPS.has(w.action)) {
      throw AblyError.of('badRequest', 'presence action must be enter (2), leave (3) or update (4)');
    }
    const m = fromWire({ id: w.id, clientId: w.clientId, data: w.data, encoding: w.encoding, extras: w.extras });
    let clientId = m.clientId;
    if (clientId !== undefined) {
      if (o.clientId === null || (o.clientId !== '*' && o.clientId !== clientId)) {
        throw AblyError.of('invalidClientId', `presence clientId "${clientId}" does not match the connection's (${o.clientId ?? 'anonymous'})`);
      }
    } else if (o.clientId !== null && o.clientId !== '*') {
      clientId = o.clientId;
    } else {
      throw AblyError.of('presenceNoClientId', 'entering presence needs a clientId (connect with one, or name one in the message)');
    }
    if (messageSize(m) > o.limits.maxMessageSize) {
      throw AblyError.of('messageTooLarge', `presence data exceeds maxMessageSize ${o.limits.maxMessageSize}`);
    }
    const p: PresenceMessage = {
      id: m.id ?? `${o.idBase}:${i}`,
      action: w.action,
      clientId,
      connectionId: o.connectionId,
      timestamp: o.now,
    };
    if (m.data !== undefined) p.data = m.data;
    if (m.encoding !== undefined) p.encoding = m.encoding;
    if (m.extras !== undefined) p.extras = m.extras;
    out.push(p);
  }
  return out;
}
