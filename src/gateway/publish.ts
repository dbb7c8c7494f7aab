/**
 * Turns the messages of a publish (realtime MESSAGE or REST body) into channel
 * messages: validated, size-checked, clientId-checked, each with an id and timestamp.
 */
import { AblyError } from '../errors.js';
import type { Limits } from '../config/topology.js';
import { fromWire, messageSize, type Message } from '../protocol/message.js';

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

/** Validates and completes messages; throws an AblyError the caller maps to NACK or HTTP. */
export function buildMessages(raw: unknown, o: BuildOptions): Message[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw AblyError.of('badRequest', 'a publish needs a non-empty array of messages');
  }
  let total = 0;
  const out: Message[] = [];
  for (let i = 0; i < raw.length; i++) {
    const m = fromWire(raw[i]);
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
