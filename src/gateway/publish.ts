/**
 * Turns the messages of a publish (realtime MESSAGE or REST body) into channel
 * messages: validated, size-checked, clientId-checked, each with an id and timestamp.
 */
import { AblyError } from '../errors.js';
import type { Limits } from '../config/topology.js';
import { PresenceAction } from '../protocol/actions.js';
import type { Credentials } from '../auth/keys.js';
import { isMetaChannel } from '../channel/lifecycle.js';
import { fromWire, isAnnotation, MessageAction, messageSize, publishedClientId, withFields, type InboundMessage, type Message, type PresenceMessage } from '../protocol/message.js';

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
    // A change made from a message received in delta mode carries its extras.delta (ably-js keeps it): not the change's.
    if (m.action !== undefined && m.extras && 'delta' in m.extras) {
      const { delta: _delta, ...rest } = m.extras;
      m.extras = Object.keys(rest).length ? rest : undefined;
    }
    refuseDeltaFields(m);
    total += messageSize(m);
    if (total > o.limits.maxMessageSize) {
      throw AblyError.of('messageTooLarge', `messages of ${total}+ bytes exceed maxMessageSize ${o.limits.maxMessageSize}`);
    }
    if (m.action !== undefined) {
      // Its clientId (the message's, as ably-js sends it) is not the publisher's to check.
      out.push(changeOf(m, i, o));
      continue;
    }
    const clientId = publishedClientId(m.clientId, o.clientId, 'message');
    const id = m.id ?? (o.idBase !== null ? `${o.idBase}:${i}` : undefined);
    if (id === undefined) throw AblyError.of('invalidPublishId', 'message id missing');
    const msg = withFields({ id, timestamp: m.timestamp ?? o.now }, m, clientId, o.connectionId);
    out.push(msg);
  }
  return out;
}

/**
 * An update, delete or append (src/channel/versions.ts) as the master takes it. Its id is
 * the service's (`idBase:index`: ably-js sends a change with the id of the message it
 * changes, which would make it a duplicate of that); its time is now; its clientId is the
 * message's (the master's to give); `version.clientId` is the publisher's (one acting as
 * any clientId may name it; others may not name another).
 */
function changeOf(m: InboundMessage, i: number, o: BuildOptions): Message {
  if (o.idBase === null) throw AblyError.of('invalidPublishId', 'an update, delete or append needs a msgSerial: its id is the service\'s');
  const msg = withFields({ id: `${o.idBase}:${i}`, timestamp: o.now, serial: m.serial!, action: m.action! }, m, undefined, o.connectionId);
  const version = { ...m.version };
  const by = version.clientId;
  if (o.clientId !== '*' && by !== undefined && by !== o.clientId) {
    throw AblyError.of('invalidClientId', `version clientId "${by}" does not match the connection's (${o.clientId ?? 'anonymous'})`);
  }
  if (o.clientId !== null && o.clientId !== '*') version.clientId = o.clientId;
  if (Object.keys(version).length) msg.version = version;
  return msg;
}

/**
 * Whether the publisher may publish these: `publish` for the creates; for annotations and
 * changes, the channel's namespace must have the `mutableMessages` rule (93002), and
 * annotations need `annotation-publish`, changes the capability
 * `message-update-*` (an update or append) or `message-delete-*` (a delete): `-any`
 * changes any message, `-own` only the publisher's own (the master checks the message's
 * clientId against `ownBy`; 40166 for a publisher with no clientId). Throws 40160 else,
 * and for a metachannel, which only the service publishes to (lifecycle.ts).
 */
export function authorizePublish(messages: Message[], creds: Credentials, channel: string): void {
  if (isMetaChannel(channel)) throw AblyError.of('notPermitted', `nothing can be published to the metachannel "${channel}": the service publishes its events`);
  let creates = false;
  for (const m of messages) {
    if (m.action === undefined) {
      creates = true;
      continue;
    }
    if (!creds.rules.mutableMessages(channel)) {
      throw AblyError.of('mutableMessagesNotEnabled', `channel "${channel}": ${isAnnotation(m) ? 'annotations need' : 'updates, deletes and appends need'} the mutableMessages rule on its namespace`);
    }
    if (isAnnotation(m)) {
      // Annotations (src/channel/annotations.ts): `annotation-publish`.
      creds.capability.require(channel, 'annotation-publish');
      continue;
    }
    const what = m.action === MessageAction.DELETE ? 'delete' : 'update';
    const ops = creds.capability.opsFor(channel);
    if (ops.has(`message-${what}-any`)) continue;
    if (!ops.has(`message-${what}-own`)) throw AblyError.of('notPermitted', `no capability to ${what} messages on channel "${channel}"`);
    const own = creds.clientId === '*' ? m.version?.clientId : creds.clientId;
    if (own === undefined || own === null) throw AblyError.of('ownRequiresIdentifiedClient', `message-${what}-own on "${channel}" needs a clientId`);
    m.ownBy = own;
  }
  if (creates) creds.capability.require(channel, 'publish');
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
