/**
 * The REST API, on the same port as the WebSocket endpoint: time, publish, history,
 * channel status, token requests, health and metrics. Every failure is an Ably error
 * body with X-Ably-ErrorCode; nothing here can take the node down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { AblyError, toAblyError } from '../errors.js';
import type { Credentials } from '../auth/keys.js';
import { parseCapability } from '../auth/capability.js';
import { revokeRequest } from '../auth/revoke-request.js';
import { channelKey, type LogEntry } from '../channel/entry.js';
import type { HistoryQuery } from '../channel/log.js';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MAX_REST_BODY_BYTES } from '../config/defaults.js';
import { unfilteredChannelName } from '../protocol/channel-name.js';
import { PresenceAction } from '../protocol/actions.js';
import { presenceToWire, toWire } from '../protocol/message.js';
import { annotationToWire, buildAnnotations } from '../protocol/annotation.js';
import { parseSerial } from '../protocol/serial.js';
import { parseMessageSerial } from '../protocol/message-serial.js';
import type { WireFormat } from '../protocol/types.js';
import { authenticateRest, type Authenticator } from './auth.js';
import { readDecodedBody, requestUrl, responseFormat, send, sendError } from './http-util.js';
import { authorizePublish, buildMessages } from './publish.js';
import { interval, rollupPage, type StatsUnit } from '../node/stats.js';
import { channelMetrics } from '../channel/occupancy.js';
import type { GatewayServices } from './services.js';

export interface RestContext {
  services: GatewayServices;
  auth: Authenticator;
}

interface Route {
  method: string;
  pattern: RegExp;
  /** Whether the route needs credentials. */
  open?: boolean;
  handle(r: RestRequest): Promise<void>;
}

interface RestRequest {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  params: string[];
  format: WireFormat;
  creds: Credentials | null;
  ctx: RestContext;
}

function decodeSegment(s: string, what: 'channel name' | 'message serial' = 'channel name'): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw AblyError.of(what === 'channel name' ? 'invalidChannelName' : 'invalidParameterValue', `${what} is not valid percent-encoding`);
  }
}

function creds(r: RestRequest): Credentials {
  if (!r.creds) throw AblyError.of('unauthorized');
  return r.creds;
}

function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw AblyError.of('invalidParameterValue', `${name} must be an integer in ${min}..${max}`);
  }
  return n;
}

/** Parses history params; `cursor` is our own paging token (`epoch~serial`). */
function historyQuery(q: URLSearchParams, region: string): HistoryQuery {
  const direction = q.get('direction') ?? 'backwards';
  if (direction !== 'backwards' && direction !== 'forwards') {
    throw AblyError.of('invalidParameterValue', 'direction must be "backwards" or "forwards"');
  }
  const limit = intParam(q, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const start = intParam(q, 'start', 0, Number.MAX_SAFE_INTEGER);
  const end = intParam(q, 'end', 0, Number.MAX_SAFE_INTEGER);
  if (start !== undefined && end !== undefined && start > end) {
    throw AblyError.of('invalidParameterValue', 'start must not be after end');
  }
  const query: HistoryQuery = { direction, limit, kind: 'message' };
  if (start !== undefined) query.start = start;
  if (end !== undefined) query.end = end;
  const fromSerial = q.get('from_serial') ?? q.get('fromSerial');
  if (fromSerial) {
    const p = parseSerial(fromSerial);
    if (!p || p.region !== region) {
      throw AblyError.of('channelNoMatchingEpoch', 'from_serial was not issued by this region (untilAttach history is per region)');
    }
    query.untilSerial = p.serial;
    query.epoch = p.epoch;
  }
  const cursor = q.get('cursor');
  if (cursor) {
    const m = /^([A-Za-z0-9_-]+)~(\d+)$/.exec(cursor);
    if (!m) throw AblyError.of('invalidParameterValue', 'cursor is not valid');
    if (query.epoch !== undefined && query.epoch !== m[1]) throw AblyError.of('invalidParameterValue', 'cursor does not match from_serial');
    query.epoch = m[1]!;
    query.cursor = Number(m[2]);
  }
  return query;
}

/** `Link` header: relative `./word?query` hrefs (the only form ably-js follows). */
function linkHeader(word: string, q: URLSearchParams, next: string | null): string {
  const base = new URLSearchParams(q);
  base.delete('cursor');
  const links = [`<./${word}?${base.toString()}>; rel="first"`, `<./${word}?${q.toString()}>; rel="current"`];
  if (next) {
    const n = new URLSearchParams(base);
    n.set('cursor', next);
    links.push(`<./${word}?${n.toString()}>; rel="next"`);
  }
  return links.join(', ');
}

function entryToWire(e: LogEntry, format: WireFormat): unknown {
  return e.kind === 'message' ? toWire(e.message, format) : presenceToWire(e.presence, format);
}

async function history(r: RestRequest, kind: LogEntry['kind'] = 'message'): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), kind === 'message' ? 'history' : 'presence history');
  c.capability.require(name, 'history');
  const s = r.ctx.services;
  const query = { ...historyQuery(r.query, s.region), kind };
  const { items, more } = await s.history(channelKey(c.appId, name), query);
  const last = items[items.length - 1];
  const epoch = last ? parseSerial(last.channelSerial)?.epoch : undefined;
  const next = more && last && epoch ? `${epoch}~${last.serial}` : null;
  const word = r.req.url!.split('?')[0]!.replace(/\/$/, '').split('/').pop()!;
  send(r.res, 200, items.map((e) => entryToWire(e, r.format)), r.format, {
    link: linkHeader(word, r.query, next),
  });
}

/**
 * One message by its serial as it stands (`getMessage`), or its create and versions in
 * the order of their serials (`getMessageVersions`, src/channel/versions.ts): found in
 * this region's retained history, whichever region accepted them.
 */
async function message(r: RestRequest, versions: boolean): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'message lookup');
  c.capability.require(name, 'history');
  const serial = decodeSegment(r.params[1]!, 'message serial');
  if (!parseMessageSerial(serial)) throw AblyError.of('invalidParameterValue', `"${serial.slice(0, 100)}" is not a message serial this service made`);
  const query: HistoryQuery = { direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial, ...(versions ? { versions } : {}) };
  const { items } = await r.ctx.services.history(channelKey(c.appId, name), query);
  const found = items.flatMap((e) => (e.kind === 'message' && e.message.serial === serial ? [e.message] : []));
  if (!found.length) throw AblyError.of('notFound', `no message with serial ${serial} in the retained history of channel ${name}`);
  if (versions) send(r.res, 200, found.map((m) => toWire(m, r.format)), r.format, { link: linkHeader('versions', r.query, null) });
  else send(r.res, 200, toWire(found[0]!, r.format), r.format);
}

/**
 * An update, delete or append (`PATCH …/messages/{serial}`, the SDK's REST
 * `updateMessage` and the like): one message, its action saying which, for the message of
 * the path's serial. Answers `{ versionSerial }`, the change's own serial.
 */
async function mutate(r: RestRequest): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'message updates');
  const serial = decodeSegment(r.params[1]!, 'message serial');
  const s = r.ctx.services;
  const body = await readDecodedBody(r.req, MAX_REST_BODY_BYTES);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw AblyError.of('badRequest', 'an update, delete or append is one message object');
  const change = body as { action?: unknown; serial?: unknown };
  if (change.action !== 1 && change.action !== 2 && change.action !== 5) throw AblyError.of('badRequest', 'the message\'s action must be 1 (update), 2 (delete) or 5 (append)');
  const idBase = randomBytes(9).toString('base64url');
  const messages = buildMessages([{ ...change, serial }], { limits: s.limits, clientId: c.clientId, idBase, now: s.now() });
  authorizePublish(messages, c, name);
  const [versionSerial] = await s.publish(channelKey(c.appId, name), messages, null);
  send(r.res, 200, { versionSerial: versionSerial ?? null }, r.format);
}

/**
 * Annotations of the message of the path's serial (src/channel/annotations.ts): `POST`
 * publishes (an annotation or a list; the SDK's REST `annotations.publish` and `delete`),
 * answering 201 with each one's serial; `GET` lists them oldest first (by their serials),
 * `limit` at a time (100 by default, at most 1,000), the next page after the last one's serial.
 */
async function annotations(r: RestRequest): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'annotations');
  const serial = decodeSegment(r.params[1]!, 'message serial');
  if (!parseMessageSerial(serial)) throw AblyError.of('invalidParameterValue', `"${serial.slice(0, 100)}" is not a message serial this service made`);
  const s = r.ctx.services;
  const key = channelKey(c.appId, name);
  if (r.req.method === 'POST') {
    const body = await readDecodedBody(r.req, MAX_REST_BODY_BYTES);
    const idBase = randomBytes(9).toString('base64url');
    const list = buildAnnotations(body, { maxMessageSize: s.limits.maxMessageSize, clientId: c.clientId, idBase, now: s.now(), messageSerial: serial });
    authorizePublish(list, c, name);
    send(r.res, 201, { channel: name, messageSerial: serial, serials: await s.publish(key, list, null) }, r.format);
    return;
  }
  c.capability.require(name, 'history');
  const limit = intParam(r.query, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const after = r.query.get('cursor') ?? undefined;
  if (after !== undefined && !parseMessageSerial(after)) throw AblyError.of('invalidParameterValue', 'cursor is not valid');
  const query: HistoryQuery = { direction: 'forwards', limit, kind: 'message', messageSerial: serial, annotations: true, ...(after !== undefined ? { after } : {}) };
  const { items, more } = await s.history(key, query);
  const page = items.flatMap((e) => (e.kind === 'message' ? [e.message] : []));
  const next = more ? (page.at(-1)?.annotation?.serial ?? null) : null;
  send(r.res, 200, page.map((m) => annotationToWire(m, r.format)), r.format, { link: linkHeader('annotations', r.query, next) });
}

/**
 * A page of `items` (sorted by `keyOf`) after the cursor's key, and the next page's cursor
 * (its last item's key; null at the end). Paged by key, not by offset: items that come or
 * go between pages shift no other item past the cursor (a member leaving made the next
 * page skip one still present).
 */
function pageAfter<T>(items: readonly T[], keyOf: (item: T) => string, cursor: string | null, limit: number): { page: T[]; next: string | null } {
  const rest = cursor === null ? items : items.filter((x) => keyOf(x) > cursor);
  const page = rest.slice(0, limit);
  return { page, next: rest.length > limit ? keyOf(page[page.length - 1]!) : null };
}

/** Current presence members (as PRESENT), by clientId and connectionId, paged by key. */
async function presence(r: RestRequest): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'presence');
  c.capability.require(name, 'subscribe');
  const limit = intParam(r.query, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const filter = {
    ...(r.query.get('clientId') ? { clientId: r.query.get('clientId')! } : {}),
    ...(r.query.get('connectionId') ? { connectionId: r.query.get('connectionId')! } : {}),
  };
  const members = await r.ctx.services.members(channelKey(c.appId, name), filter);
  const keyOf = (m: { clientId: string; connectionId: string }) => `${m.clientId}\u0000${m.connectionId}`;
  members.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  const { page, next } = pageAfter(members, keyOf, r.query.get('cursor'), limit);
  send(
    r.res,
    200,
    page.map((m) => presenceToWire({ ...m, action: PresenceAction.PRESENT }, r.format)),
    r.format,
    { link: linkHeader('presence', r.query, next) },
  );
}

async function publish(r: RestRequest): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'publishing');
  const s = r.ctx.services;
  const body = await readDecodedBody(r.req, MAX_REST_BODY_BYTES);
  const list = Array.isArray(body) ? body : [body];
  const idBase = randomBytes(9).toString('base64url');
  const messages = buildMessages(list, { limits: s.limits, clientId: c.clientId, idBase, now: s.now() });
  authorizePublish(messages, c, name);
  const serials = await s.publish(channelKey(c.appId, name), messages, null);
  send(r.res, 201, { channel: name, messageId: messages[0]!.id.replace(/:0$/, ''), serials }, r.format);
}

/** `GET /stats`: the app's statistics for the region, by minute, hour, day or month. */
async function stats(r: RestRequest): Promise<void> {
  const c = creds(r);
  if (!c.capability.opsFor('*').has('stats')) throw AblyError.of('notPermitted', 'stats needs the "stats" capability on "*"');
  const q = r.query;
  const unit = (q.get('unit') ?? 'minute') as StatsUnit;
  if (!['minute', 'hour', 'day', 'month'].includes(unit)) throw AblyError.of('invalidParameterValue', 'unit must be minute, hour, day or month');
  const direction = q.get('direction') ?? 'backwards';
  if (direction !== 'backwards' && direction !== 'forwards') throw AblyError.of('invalidParameterValue', 'direction must be "backwards" or "forwards"');
  const limit = intParam(q, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const now = r.ctx.services.now();
  // A page after the first: `cursor` bounds the query where the last page stopped (its end going backwards, its start going forwards).
  const cursor = intParam(q, 'cursor', 0, Number.MAX_SAFE_INTEGER);
  let end = intParam(q, 'end', 0, Number.MAX_SAFE_INTEGER) ?? now;
  let start = intParam(q, 'start', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  if (cursor !== undefined && direction === 'backwards') end = Math.min(end, cursor);
  if (cursor !== undefined && direction === 'forwards') start = Math.max(start, cursor);
  if (start > end) throw AblyError.of('invalidParameterValue', 'start must not be after end');
  // Round to whole intervals of the unit, as Ably does.
  const from = interval(start, unit).start;
  const minutes = await r.ctx.services.stats(c.appId, from, end);
  const { records, next } = rollupPage(minutes, { unit, appId: c.appId, now, direction, limit });
  send(r.res, 200, records, r.format, { link: linkHeader('stats', q, next === null ? null : String(next)) });
}

/** Batch publish limits (Ably: 100 channels × 1000 messages per spec, 2 MiB per request). */
const MAX_BATCH_CHANNELS = 100;
const MAX_BATCH_MESSAGES = 1000;
/**
 * Channels a batch publish names in all its specs together (Ably's 90010 names such a
 * limit per request). Without it a 1.2 MB request of 1,000 specs made 100,000 channels
 * and took 1.2 GB of the node's heap (a review, fifty-second session).
 */
const MAX_BATCH_REQUEST_CHANNELS = 1000;
/** Messages a batch publish makes in all (each spec's messages × its channels): one spec at Ably's limits (100 × 1000). */
const MAX_BATCH_REQUEST_PUBLISHES = 100_000;

/** A batch spec's channels and messages as the API takes them (a name or a message alone: an array of one); null: not an object. */
function specParts(raw: unknown): { channels: unknown; messages: unknown[] } | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const spec = raw as { channels?: unknown; messages?: unknown };
  return {
    channels: typeof spec.channels === 'string' ? [spec.channels] : spec.channels,
    messages: Array.isArray(spec.messages) ? spec.messages : spec.messages !== undefined ? [spec.messages] : [],
  };
}

/** `POST /messages`: one or many BatchSpecs `{channels, messages}`; results per channel. */
async function batchPublish(r: RestRequest): Promise<void> {
  const c = creds(r);
  const s = r.ctx.services;
  const body = await readDecodedBody(r.req, MAX_REST_BODY_BYTES);
  const single = !Array.isArray(body);
  const specs = (single ? [body] : body) as unknown[];
  if (specs.length === 0) throw AblyError.of('badRequest', 'a batch needs at least one spec');
  let named = 0;
  let made = 0;
  for (const raw of specs) {
    const parts = specParts(raw);
    const n = Array.isArray(parts?.channels) ? parts.channels.length : 0;
    named += n;
    made += n * (parts?.messages.length ?? 0);
  }
  if (named > MAX_BATCH_REQUEST_CHANNELS) {
    throw AblyError.of('tooManyChannels', `at most ${MAX_BATCH_REQUEST_CHANNELS} channels in one batch publish request (this one names ${named})`);
  }
  if (made > MAX_BATCH_REQUEST_PUBLISHES) {
    throw AblyError.of('badRequest', `at most ${MAX_BATCH_REQUEST_PUBLISHES} messages in one batch publish request, counting each channel's (this one makes ${made})`);
  }
  const out = [];
  for (const raw of specs) {
    const parts = specParts(raw);
    if (!parts) throw AblyError.of('badRequest', 'each batch spec must be an object');
    const { channels, messages } = parts;
    if (!Array.isArray(channels) || channels.length === 0 || channels.some((x) => typeof x !== 'string')) {
      throw AblyError.of('badRequest', 'batch spec channels must be a non-empty array of channel names');
    }
    if (channels.length > MAX_BATCH_CHANNELS) throw AblyError.of('tooManyChannels', `at most ${MAX_BATCH_CHANNELS} channels per batch spec`);
    if (messages.length > MAX_BATCH_MESSAGES) throw AblyError.of('badRequest', `at most ${MAX_BATCH_MESSAGES} messages per batch spec`);
    const results = await Promise.all(
      (channels as string[]).map(async (channel) => {
        try {
          const { name } = unfilteredChannelName(channel, 'publishing');
          const idBase = randomBytes(9).toString('base64url');
          const msgs = buildMessages(messages, { limits: s.limits, clientId: c.clientId, idBase, now: s.now() });
          authorizePublish(msgs, c, name);
          const serials = await s.publish(channelKey(c.appId, name), msgs, null);
          return { channel, messageId: idBase, serials };
        } catch (err) {
          return { channel, error: toAblyError(err).toInfo() };
        }
      }),
    );
    const failureCount = results.filter((x) => 'error' in x).length;
    out.push({ successCount: results.length - failureCount, failureCount, results });
  }
  send(r.res, 201, single ? out[0] : out, r.format);
}

/** `GET /presence?channels=a,b`: each channel's members now (the SDK's batchPresence); results per channel. */
async function batchPresence(r: RestRequest): Promise<void> {
  const c = creds(r);
  const channels = (r.query.get('channels') ?? '').split(',').filter((x) => x.length > 0);
  if (channels.length === 0) throw AblyError.of('invalidParameterValue', 'channels must name at least one channel (comma-separated)');
  if (channels.length > MAX_BATCH_CHANNELS) throw AblyError.of('tooManyChannels', `at most ${MAX_BATCH_CHANNELS} channels per batch`);
  const results = await Promise.all(
    channels.map(async (channel) => {
      try {
        const { name } = unfilteredChannelName(channel, 'presence');
        c.capability.require(name, 'subscribe');
        const members = await r.ctx.services.members(channelKey(c.appId, name), {});
        return { channel, presence: members.map((m) => presenceToWire({ ...m, action: PresenceAction.PRESENT }, r.format)) };
      } catch (err) {
        return { channel, error: toAblyError(err).toInfo() };
      }
    }),
  );
  const failureCount = results.filter((x) => 'error' in x).length;
  send(r.res, 200, { successCount: results.length - failureCount, failureCount, results }, r.format);
}

/** Whether these credentials may see a channel's details (`channel-metadata`, or `subscribe`). */
function maySeeDetails(c: Credentials, name: string): boolean {
  const ops = c.capability.opsFor(name);
  return ops.has('channel-metadata') || ops.has('subscribe');
}

async function channelStatus(r: RestRequest): Promise<void> {
  const c = creds(r);
  const { name } = unfilteredChannelName(decodeSegment(r.params[0]!), 'channel status');
  if (!maySeeDetails(c, name)) c.capability.require(name, 'channel-metadata');
  send(r.res, 200, await channelDetails(r.ctx.services, c.appId, name), r.format);
}

/**
 * `GET /channels`: the app's active channels in this region (those a node of it masters:
 * attached somewhere, or with history kept) that the credentials may see, sorted by name,
 * `prefix` and `limit` (≤ 1000, default 100) applied, paged by name: their names
 * (`by=id`) or their details as `GET /channels/{name}` gives them (`by=value`, the default).
 */
async function channelList(r: RestRequest): Promise<void> {
  const c = creds(r);
  const prefix = r.query.get('prefix') ?? '';
  const by = r.query.get('by') ?? 'value';
  if (by !== 'id' && by !== 'value') throw AblyError.of('invalidParameterValue', 'by must be id or value');
  const limit = intParam(r.query, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const s = r.ctx.services;
  const after = r.query.get('cursor');
  // Each node gives its first limit + 1 after the cursor; what the credentials may not see is left out here.
  const found = await s.channels({ appId: c.appId, prefix, limit: limit + 1, ...(after !== null ? { after } : {}) });
  const visible = found.names.filter((n) => maySeeDetails(c, n));
  const page = visible.slice(0, limit);
  // More after this page: visible names past it, or names some node has past the last one merged.
  const next = visible.length > limit ? page[page.length - 1]! : found.more ? found.names[found.names.length - 1]! : null;
  const items = by === 'id' ? page : await Promise.all(page.map((n) => channelDetails(s, c.appId, n)));
  send(r.res, 200, items, r.format, { link: linkHeader('channels', r.query, next) });
}

/** A channel's details (ChannelDetails, and where this region holds it). */
async function channelDetails(s: GatewayServices, appId: string, name: string): Promise<Record<string, unknown>> {
  const key = channelKey(appId, name);
  const [status, { nodes, ...occupancy }, members] = await Promise.all([s.status(key), s.occupancy(key), s.members(key, {})]);
  const details = {
    channelId: name,
    name,
    status: {
      isActive: status !== null || occupancy.connections > 0,
      // presenceConnections: attachments that may enter (PRESENCE mode), as Ably counts them.
      occupancy: { metrics: channelMetrics(occupancy, members.length) },
    },
    ...(status
      ? {
          master: status.master,
          replica: status.replica,
          channelSerial: status.channelSerial,
          retained: status.retained,
          subscriberNodes: status.subscriberNodes,
          remoteInterest: status.remoteInterest,
          presenceHosts: status.presenceHosts,
        }
      : {}),
    // This region's nodes asked for their attachments, and those that answered in time.
    occupancyNodes: nodes,
  };
  return details;
}

async function requestToken(r: RestRequest): Promise<void> {
  const s = r.ctx.services;
  const keyName = decodeSegment(r.params[0]!);
  const body = (await readDecodedBody(r.req, 64 * 1024)) as Record<string, unknown>;
  const now = s.now();
  let details;
  if (body && typeof body === 'object' && typeof body.mac === 'string') {
    const signed = r.ctx.auth.tokens.checkSignedRequest(body, keyName, now);
    if (!(await s.useNonce(signed.nonce.key, signed.nonce.until))) throw AblyError.of('nonceReplayed');
    details = r.ctx.auth.tokens.issue(signed.key, signed.params, now);
  } else {
    // Unsigned token params: the request itself must be made with the key.
    const c = creds(r);
    if (c.via !== 'basic' || c.keyName !== keyName) {
      throw AblyError.of('invalidCredentials', 'an unsigned token request must be authenticated with the key it names');
    }
    const key = r.ctx.auth.keys.get(keyName)!;
    const b = (body ?? {}) as { ttl?: unknown; capability?: unknown; clientId?: unknown };
    details = r.ctx.auth.tokens.issue(
      key,
      {
        ...(b.ttl !== undefined ? { ttl: Number(b.ttl) } : {}),
        ...(b.capability !== undefined ? { capability: parseCapability(b.capability) } : {}),
        clientId: typeof b.clientId === 'string' && b.clientId ? b.clientId : null,
      },
      now,
    );
  }
  // ably-js parses the token response as JSON whatever it asked for.
  send(r.res, 200, details, 'json');
}

/** `POST /keys/{keyName}/revokeTokens` (auth/revoke-request.ts): applied here, and from here to the region and the others. */
async function revokeTokens(r: RestRequest): Promise<void> {
  const keyName = decodeSegment(r.params[0]!);
  const body = await readDecodedBody(r.req, 64 * 1024);
  const s = r.ctx.services;
  const out = revokeRequest(body, { keyName, creds: creds(r), key: r.ctx.auth.keys.get(keyName), now: s.now(), held: s.revocationsHeld(keyName), region: s.region });
  s.revoke(out.revocations);
  send(r.res, 201, out.result, r.format);
}

const ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/time\/?$/,
    open: true,
    handle: async (r) => send(r.res, 200, [r.ctx.services.now()], 'json'),
  },
  {
    method: 'GET',
    pattern: /^\/health\/?$/,
    open: true,
    // 503 where it does not serve (no quorum, or stopping): for balancers that check the status.
    handle: async (r) => {
      const h = r.ctx.services.health();
      send(r.res, h.serving === false ? 503 : 200, h, 'json');
    },
  },
  {
    method: 'GET',
    pattern: /^\/metrics\/?$/,
    open: true,
    handle: async (r) => {
      const text = await r.ctx.services.metricsText();
      r.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      r.res.end(text);
    },
  },
  { method: 'POST', pattern: /^\/keys\/([^/]+)\/requestToken\/?$/, open: true, handle: requestToken },
  { method: 'POST', pattern: /^\/keys\/([^/]+)\/revokeTokens\/?$/, handle: revokeTokens },
  { method: 'POST', pattern: /^\/channels\/([^/]+)\/messages\/?$/, handle: publish },
  { method: 'POST', pattern: /^\/messages\/?$/, handle: batchPublish },
  { method: 'GET', pattern: /^\/presence\/?$/, handle: batchPresence },
  { method: 'GET', pattern: /^\/channels\/?$/, handle: channelList },
  { method: 'GET', pattern: /^\/stats\/?$/, handle: stats },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/(?:messages|history)\/?$/, handle: (r) => history(r) },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/messages\/([^/]+)\/?$/, handle: (r) => message(r, false) },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/messages\/([^/]+)\/versions\/?$/, handle: (r) => message(r, true) },
  { method: 'PATCH', pattern: /^\/channels\/([^/]+)\/messages\/([^/]+)\/?$/, handle: mutate },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/messages\/([^/]+)\/annotations\/?$/, handle: annotations },
  { method: 'POST', pattern: /^\/channels\/([^/]+)\/messages\/([^/]+)\/annotations\/?$/, handle: annotations },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/presence\/?$/, handle: presence },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/presence\/history\/?$/, handle: (r) => history(r, 'presence') },
  { method: 'GET', pattern: /^\/channels\/([^/]+)\/?$/, handle: channelStatus },
];

/** Serves one REST request. Never throws. */
export async function handleRest(req: IncomingMessage, res: ServerResponse, ctx: RestContext): Promise<void> {
  const url = requestUrl(req);
  if (!url) {
    sendError(res, AblyError.of('badRequest', 'the request target is not a valid URL path'), 'json');
    return;
  }
  const format = responseFormat(req, url.searchParams);
  let appId: string | null = null;
  let tokenRequest = false;
  try {
    const path = url.pathname;
    let matched: { route: Route; params: string[] } | null = null;
    let pathMatched = false;
    for (const route of ROUTES) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method === req.method) {
        matched = { route, params: m.slice(1) };
        break;
      }
    }
    if (!matched) {
      throw pathMatched
        ? AblyError.of('methodNotAllowed', `${req.method} is not allowed on ${path}`)
        : AblyError.of('notFound', `no such endpoint: ${req.method} ${path}`);
    }
    let c: Credentials | null = null;
    const hasAuth = !!req.headers.authorization || url.searchParams.has('key') || url.searchParams.has('access_token');
    if (!matched.route.open || hasAuth) {
      try {
        c = authenticateRest(ctx.auth, req.headers, url.searchParams);
      } catch (err) {
        if (!matched.route.open) throw restAuthError(err);
      }
    }
    appId = c?.appId ?? null;
    tokenRequest = matched.route.handle === requestToken;
    if (!appId && tokenRequest) appId = ctx.auth.keys.get(decodeSegment(matched.params[0]!))?.appId ?? null;
    await matched.route.handle({ req, res, query: url.searchParams, params: matched.params, format, creds: c, ctx });
    if (appId) ctx.services.metrics.apiRequest(appId, true, tokenRequest);
  } catch (err) {
    if (appId) ctx.services.metrics.apiRequest(appId, false, tokenRequest);
    sendError(res, err, format);
  }
}

/**
 * ably-js answers a REST 4014x by renewing its token but retrying with the stale
 * Authorization header, forever; an expired or unknown token is reported as 40101 so the
 * SDK fails the request instead of looping.
 */
function restAuthError(err: unknown): unknown {
  if (err instanceof AblyError && err.code >= 40140 && err.code < 40150) {
    return new AblyError(40101, 401, `invalid credentials: ${err.message}`);
  }
  return err;
}
