/**
 * One realtime client connection over WebSocket: the Ably protocol state machine on the
 * server side. It decodes frames, answers heartbeats, attaches and detaches channels,
 * publishes (ACK/NACK strictly in msgSerial order), and writes deliveries with writes
 * corked per event-loop turn. A client that cannot keep up is disconnected once its
 * outbound buffer passes the limit, so one slow consumer never grows the node's memory.
 */
import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';
import { AblyError, toAblyError } from '../errors.js';
import type { Credentials } from '../auth/keys.js';
import type { Operation } from '../auth/capability.js';
import { parseRewind, resumePoint, type Rewind } from '../channel/attach-point.js';
import { occupancyFor } from '../channel/occupancy.js';
import { parseDeltaParam } from '../channel/delta.js';
import { channelKey } from '../channel/entry.js';
import type { ChannelClient } from '../channel/client.js';
import { isMetaChannel } from '../channel/lifecycle.js';
import { Action, ActionName, DEFAULT_MODES, Flag, MODE_MASK, PresenceAction } from '../protocol/actions.js';
import { buildAnnotations } from '../protocol/annotation.js';
import { parseChannelName, unfilteredChannelName, type ParsedChannelName } from '../protocol/channel-name.js';
import { decodeFrame, encodeFrame, type Frame } from '../protocol/codec.js';
import type { SharedFrame } from '../protocol/shared-frame.js';
import type { ProtocolMessage, WireFormat } from '../protocol/types.js';
import { reauthenticate, type Authenticator } from './auth.js';
import { TokenWatch } from './token-watch.js';
import { AckQueue } from './acks.js';
import { closeSocket } from './admission.js';
import { Attachment, permittedModes, type AttachmentOwner } from './attachment.js';
import { ConnectionPresence } from './connection-presence.js';
import { authorizePublish, buildMessages, buildPresence } from './publish.js';
import type { GatewayServices } from './services.js';
import { ReaderProgress, writeFrame } from './socket-writes.js';
import { RateLimiter } from '../rate.js';

export interface ConnectionParams {
  id: string;
  key: string;
  format: WireFormat;
  echo: boolean;
  /** false: the client wants WebSocket pings instead of protocol HEARTBEATs. */
  heartbeats: boolean;
  credentials: Credentials;
  /** This transport resumed an existing connection (same id). */
  resumed: boolean;
  /** To check the new token of an in-band re-auth (AUTH). */
  auth: Authenticator;
}

/** Close codes: 1000 normal, 1008 policy violation, 1011 server error. */
const WS_CLOSE_NORMAL = 1000;
const WS_CLOSE_POLICY = 1008;

export class Connection implements AttachmentOwner {
  readonly id: string;
  readonly format: WireFormat;
  readonly echo: boolean;
  private key: string;
  private credentials: Credentials;
  private readonly heartbeats: boolean;
  private readonly attachments = new Map<string, Attachment>();
  /** ACKs and NACKs, sent once per turn (so a grouped publish's ACKs leave as one frame). */
  private readonly acks = new AckQueue(this);
  /** Made the first time the outbound buffer is over the limit. */
  private reader: ReaderProgress | null = null;
  private readonly rate: RateLimiter;
  private closed = false;
  /** Shutting down: new publishes are left unanswered (the SDK resends them after reconnecting). */
  private draining = false;
  /** The client said CLOSE: its presence members leave at once, not after the grace period. */
  private closedByClient = false;
  /** Its presence members, and what the masters are told of them (connection-presence.ts). */
  private readonly presence: ConnectionPresence;
  /** Another node took this connection over: go quietly (no presence leave, no record). */
  private superseded = false;
  private readonly auth: Authenticator;
  /** Ends the connection when its token expires (40142) or is revoked (40141). */
  private readonly token: TokenWatch;
  private lastSent: number;
  private lastReceived: number;
  /** When the last WebSocket ping went out (liveness probe, see tick). */
  private lastProbe = 0;
  /** Called once when the transport is gone. */
  onClose: ((c: Connection) => void) | null = null;

  constructor(
    private readonly ws: WebSocket,
    params: ConnectionParams,
    private readonly services: GatewayServices,
  ) {
    this.id = params.id;
    this.key = params.key;
    this.format = params.format;
    this.echo = params.echo;
    this.heartbeats = params.heartbeats;
    this.credentials = params.credentials;
    this.presence = new ConnectionPresence(params.id, params.resumed, services);
    this.auth = params.auth;
    this.token = new TokenWatch({
      auth: params.auth,
      credentials: () => this.credentials,
      end: (err) => this.disconnect(err),
      askReauth: () => this.sendMessage({ action: Action.AUTH }),
    });
    this.rate = new RateLimiter(services.limits.maxInboundRate);
    this.lastSent = this.lastReceived = services.monotonic();
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('pong', () => (this.lastReceived = this.services.monotonic()));
    ws.on('close', () => this.onTransportClosed());
  }

  get clientId(): string | null {
    return this.credentials.clientId;
  }

  get channelCount(): number {
    return this.attachments.size;
  }

  /** The connection's version here (GatewayServices.connections.opened), said with its presence. */
  get since(): number {
    return this.presence.since;
  }

  /** Sends CONNECTED: the connection is usable; `since`: its version here. */
  start(since: number, error?: AblyError): void {
    this.presence.since = since;
    if (this.closed) return; // gone while its record was written: no token timer to keep it
    this.sendConnected(error);
    this.token.arm();
  }

  /** The node heard of new revocations of these keys: is this connection's token among them? (token-watch.ts) */
  revocationsChanged(keys: ReadonlySet<string>): void {
    if (!this.closed) this.token.revocationsChanged(keys);
  }

  private sendConnected(error?: AblyError): void {
    const limits = this.services.limits;
    const clientId = this.credentials.clientId;
    this.sendMessage({
      action: Action.CONNECTED,
      connectionId: this.id,
      connectionDetails: {
        // '*' for a token of any clientId (RSA7b4: the SDK's auth.clientId is then '*'); a key's connection is unidentified (its '*' is the key's leave to name any).
        ...(clientId && (clientId !== '*' || this.credentials.via !== 'basic') ? { clientId } : {}),
        connectionKey: this.key,
        maxMessageSize: limits.maxMessageSize,
        maxFrameSize: limits.maxFrameSize,
        maxInboundRate: limits.maxInboundRate,
        connectionStateTtl: limits.connectionStateTtlMs,
        maxIdleInterval: limits.maxIdleIntervalMs,
        serverId: this.services.nodeId,
        siteCode: this.services.region,
      },
      ...(error ? { error: error.toInfo() } : {}),
    });
  }

  // ---- outbound -----------------------------------------------------------------

  sendMessage(pm: ProtocolMessage): void {
    this.sendFrames([encodeFrame(pm, this.format)]);
  }

  /** Frames of one delivery: the client is a slow consumer if what it has not read yet is over the limit and it stopped reading (socket-writes.ts). */
  sendFrames(frames: readonly (Frame | SharedFrame)[]): void {
    if (this.closed) return;
    const ws = this.ws;
    if (ws.readyState !== ws.OPEN) return;
    const buffered = ws.bufferedAmount;
    const limit = this.services.limits.maxConnectionBufferBytes;
    if (buffered > limit && (this.reader ??= new ReaderProgress(ws)).stopped(buffered, limit)) {
      this.slowConsumer();
      return;
    }
    // Corked for the turn; a shared frame's bytes go straight to the socket (socket-writes.ts).
    for (const f of frames) writeFrame(ws, f);
    this.lastSent = this.services.monotonic();
  }

  private slowConsumer(): void {
    this.services.metrics.slowConsumer();
    this.services.log.warn({ connectionId: this.id, buffered: this.ws.bufferedAmount }, 'slow consumer disconnected');
    const err = AblyError.of('subscribeRateExceeded', 'connection could not keep up with its channels (outbound buffer full); resume to continue');
    this.closed = true;
    // The DISCONNECTED would queue behind megabytes the client is not reading: drop the
    // socket instead. The SDK reconnects, resumes and catches up from history.
    this.services.log.debug({ connectionId: this.id, code: err.code }, err.message);
    this.ws.terminate();
  }

  private sendError(err: unknown, channel?: string): void {
    const e = toAblyError(err);
    this.sendMessage({ action: Action.ERROR, ...(channel !== undefined ? { channel } : {}), error: e.toInfo() });
  }

  // ---- lifecycle ----------------------------------------------------------------

  /**
   * Called about once a second by the node: keepalive and dead-peer detection.
   *
   * Keepalive (for the client's idle timer): a HEARTBEAT, or a WebSocket ping when it
   * asked for `heartbeats=false`, whenever nothing was sent for half of maxIdleInterval.
   * Liveness (for us): a client may legitimately send nothing for hours (a subscriber),
   * so once it has been silent for maxIdleInterval it gets a WebSocket ping, which every
   * WebSocket peer answers with a pong (RFC 6455 §5.5.2) whatever heartbeat style it
   * chose. Only a client that answers nothing for 3 × maxIdleInterval is cut.
   */
  /** `now`: GatewayServices.monotonic. */
  tick(now: number): void {
    if (this.closed) return;
    const idle = this.services.limits.maxIdleIntervalMs;
    const silent = now - this.lastReceived;
    if (silent > idle * 3) {
      this.services.log.debug({ connectionId: this.id, silentMs: silent }, 'client answers nothing; closing transport');
      this.ws.terminate();
      return;
    }
    if (now - this.lastSent >= idle / 2) {
      if (this.heartbeats) this.sendMessage({ action: Action.HEARTBEAT });
      else this.probe(now);
    }
    if (silent >= idle && now - this.lastProbe >= idle / 2) this.probe(now);
  }

  private probe(now: number): void {
    this.ws.ping();
    this.lastSent = this.lastProbe = now;
  }

  /**
   * Graceful shutdown of this connection: stop taking publishes, let those in flight be
   * ACKed or NACKed (up to `timeoutMs`), then DISCONNECTED. A publish that arrives while
   * draining is never processed, so the SDK's resend after it reconnects is its only copy.
   */
  async drain(error: AblyError, timeoutMs: number): Promise<void> {
    this.draining = true;
    const deadline = this.services.monotonic() + timeoutMs;
    while (this.acks.pending > 0 && !this.closed && this.services.monotonic() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.disconnect(error);
  }

  /** Server-initiated disconnect (shutdown, lost quorum): the client reconnects and resumes. */
  disconnect(error: AblyError): void {
    if (this.closed) return;
    this.sendMessage({ action: Action.DISCONNECTED, error: error.toInfo() });
    this.closed = true;
    closeSocket(this.ws, WS_CLOSE_NORMAL); // dropped in a second if the client does not answer: it would hold its place under the cap
  }

  /** Fatal error: ERROR, then close. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.acks.flushNow(); // ACKs and NACKs of this turn go before the ERROR
    this.sendError(err);
    this.closed = true;
    closeSocket(this.ws, WS_CLOSE_POLICY);
  }

  /** This connection resumed elsewhere (or on a newer transport here): drop this transport. */
  supersede(): void {
    this.superseded = true;
    this.closed = true;
    this.ws.terminate();
  }

  private onTransportClosed(): void {
    this.closed = true;
    this.token.stop();
    for (const att of this.attachments.values()) this.dropAttachment(att);
    this.attachments.clear();
    this.presence.transportClosed(this.closedByClient);
    if (!this.superseded) {
      const now = this.services.now();
      const rec = { connectionId: this.id, appId: this.credentials.appId, clientId: this.credentials.clientId };
      if (this.closedByClient) this.services.connections.closed(this.id);
      else this.services.connections.lost(rec, now + this.services.limits.connectionStateTtlMs);
    }
    this.onClose?.(this);
    this.onClose = null;
  }

  // ---- inbound ------------------------------------------------------------------

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastReceived = this.services.monotonic();
    if (this.closed) return;
    if (data.length > this.services.limits.maxFrameSize) {
      this.fail(AblyError.of('messageTooLarge', `frame of ${data.length} bytes exceeds maxFrameSize ${this.services.limits.maxFrameSize}`));
      return;
    }
    let pm: ProtocolMessage;
    try {
      pm = decodeFrame(isBinary || this.format === 'msgpack' ? data : data.toString('utf8'), this.format);
    } catch (err) {
      this.fail(err);
      return;
    }
    try {
      this.dispatch(pm);
    } catch (err) {
      this.services.log.error({ connectionId: this.id, err }, 'error handling protocol message');
      this.fail(AblyError.of('internalConnection', (err as Error).message));
    }
  }

  private dispatch(pm: ProtocolMessage): void {
    switch (pm.action) {
      case Action.HEARTBEAT:
        this.sendMessage({ action: Action.HEARTBEAT, ...(typeof pm.id === 'string' ? { id: pm.id } : {}) });
        return;
      case Action.CLOSE:
        this.sendMessage({ action: Action.CLOSED });
        this.closedByClient = true;
        this.closed = true;
        this.ws.close(WS_CLOSE_NORMAL);
        return;
      case Action.DISCONNECT:
        this.ws.close(WS_CLOSE_NORMAL);
        return;
      case Action.ATTACH:
        this.onAttach(pm);
        return;
      case Action.DETACH:
        this.onDetach(pm);
        return;
      case Action.MESSAGE:
      case Action.ANNOTATION:
        if (!this.draining) this.onPublish(pm);
        return;
      case Action.PRESENCE:
        if (!this.draining) this.onPresence(pm);
        return;
      case Action.AUTH:
        this.onAuth(pm);
        return;
      case Action.SYNC:
        // A client may ask for a presence sync; with no presence state yet there is nothing to add.
        return;
      default: {
        const name = ActionName[pm.action];
        const err = AblyError.of('badRequest', name ? `action ${name} (${pm.action}) is not supported from clients` : `unknown action ${pm.action}`);
        if (typeof pm.msgSerial === 'number') {
          this.acks.nack(this.acks.slot(pm.msgSerial), err);
          return;
        }
        this.fail(err);
      }
    }
  }

  /**
   * In-band re-auth: a new token for the same connection. Answered with CONNECTED (the
   * SDK's authorize() waits for it). The identity may not change but from none or any to
   * one (the connection's record says so, for a resume elsewhere); attachments are granted
   * the modes the new capability allows of those they asked for (RTC8a1: more or fewer;
   * without presence, the connection's members there leave), and those it allows none of
   * fail with 40160.
   */
  private onAuth(pm: ProtocolMessage): void {
    let creds: Credentials;
    try {
      creds = reauthenticate(this.auth, this.credentials, pm.auth?.accessToken);
    } catch (err) {
      const e = toAblyError(err);
      if (e.code >= 40140 && e.code < 40150) this.disconnect(e);
      else this.fail(e);
      return;
    }
    const identified = creds.clientId !== this.credentials.clientId;
    this.credentials = creds;
    this.token.arm();
    for (const att of [...this.attachments.values()]) {
      // One whose ATTACH has not run yet is granted its modes by the new token when it does; one detaching goes anyway.
      if (att.modes === 0 || att.state === 'detaching') continue;
      const lost = att.regrant(this.credentials.capability);
      if (lost === null) {
        this.forget(att);
        this.sendError(AblyError.of('notPermitted', `the new token does not allow channel "${att.channelName}"`), att.channelName);
        continue;
      }
      if ((lost & Flag.PRESENCE) !== 0) this.presence.detached(att.key);
      if (att.client) this.services.hub.attachmentsChanged(att.client); // occupancy counts its modes again
    }
    // A resume elsewhere is checked against the record's clientId (server.ts): answered once the record has the new one.
    if (identified) void this.services.connections.opened({ connectionId: this.id, appId: creds.appId, clientId: creds.clientId }).then(() => this.sendConnected());
    else this.sendConnected();
  }

  // ---- channels -----------------------------------------------------------------

  private channelError(raw: unknown, err: unknown): void {
    if (typeof raw === 'string') this.sendError(err, raw);
    else this.fail(err);
  }

  private onAttach(pm: ProtocolMessage): void {
    const raw = pm.channel;
    let parsed: ParsedChannelName;
    try {
      parsed = parseChannelName(raw);
    } catch (err) {
      this.channelError(raw, err);
      return;
    }
    const name = raw as string;
    let att = this.attachments.get(name);
    // A DETACH queued before this ATTACH takes its attachment away: this one gets its own, after it.
    if (!att || att.state === 'detaching') {
      if (!att && this.attachments.size >= this.services.limits.maxChannelsPerConnection) {
        this.sendError(AblyError.of('tooManyChannels', `at most ${this.services.limits.maxChannelsPerConnection} channels per connection`), name);
        return;
      }
      const next = new Attachment(this, channelKey(this.credentials.appId, parsed.name), name, {}, parsed.filter);
      if (att) next.chain = att.chain;
      this.attachments.set(name, (att = next));
    }
    const params = { ...parsed.params, ...(pm.params && typeof pm.params === 'object' ? pm.params : {}) };
    const a = att;
    // Each ATTACH's params, when it runs (one still queued before it answers with its own).
    a.chain = a.chain.then(() => this.attach(a, parsed, pm, params)).catch((err) => {
      this.services.log.warn({ connectionId: this.id, channel: name, err: (err as Error).message }, 'attach failed');
    });
  }

  private async attach(att: Attachment, parsed: ParsedChannelName, pm: ProtocolMessage, params: Record<string, string>): Promise<void> {
    // Taken away meanwhile (an AUTH's capability, a failed ATTACH before it): it is the connection's again, if that still has room.
    if (this.closed || this.attachments.get(att.channelName) !== att) {
      if (this.closed || this.attachments.has(att.channelName) || this.attachments.size >= this.services.limits.maxChannelsPerConnection) return;
      this.attachments.set(att.channelName, att);
    }
    const channel = parsed.name;
    // An ATTACH refused takes the members away only from a channel the client had attached (its SDK fails it).
    const leave = att.state === 'attached' && !att.filter;
    att.params = params;
    const requested = typeof pm.flags === 'number' && (pm.flags & MODE_MASK) !== 0 ? pm.flags & MODE_MASK : DEFAULT_MODES;
    const granted = requested & permittedModes(this.credentials.capability, parsed);
    if (granted === 0) {
      this.forget(att, leave);
      this.sendError(AblyError.of('notPermitted', `no capability to attach to channel "${parsed.resource}"`), att.channelName);
      return;
    }
    att.modes = granted;
    att.requested = requested;
    att.state = 'attaching';
    const { resume, error: resumeError } = resumePoint(pm.channelSerial, this.services.region);
    let rewind: Rewind | null = null;
    try {
      if (att.params.rewind !== undefined && parsed.filter) {
        throw AblyError.of('invalidParameterValue', 'rewind is not available on a channel with a filter');
      }
      if (att.params.rewind !== undefined) rewind = parseRewind(att.params.rewind, this.services.now(), att.params.rewindLimit);
      att.occupancy = occupancyFor(att.params.occupancy, this.credentials.capability.opsFor(channel), channel);
      att.delta = parseDeltaParam(att.params.delta);
    } catch (err) {
      this.forget(att, leave);
      this.sendError(err, att.channelName);
      return;
    }
    let client: ChannelClient, outcome;
    try {
      client = att.client = this.services.hub.client(att.key, channel, resume !== null); // a new one refused at the memory budget
      outcome = await client.attach(att, resume, resumeError, rewind);
    } catch (err) {
      this.forget(att, leave);
      // DETACHED with an error: the SDK retries the attach after its channel retry timeout.
      this.sendMessage({ action: Action.DETACHED, channel: att.channelName, error: toAblyError(err).toInfo() });
      return;
    }
    if (this.closed || att.state !== 'attaching') return;
    att.state = 'attached';
    const presenceFlag = outcome.hasPresence && att.wants('presence') ? Flag.HAS_PRESENCE : 0;
    this.sendMessage({
      action: Action.ATTACHED,
      channel: att.channelName,
      flags: granted | presenceFlag | (outcome.resumed ? Flag.RESUMED : 0),
      channelSerial: outcome.channelSerial,
      ...att.applied(rewind !== null),
      ...(outcome.error ? { error: outcome.error.toInfo() } : {}),
    });
    client.activate(att);
    if (!att.filter) this.presence.attached(att.key); // a filtered channel has no presence
  }

  private onDetach(pm: ProtocolMessage): void {
    const raw = pm.channel;
    if (typeof raw !== 'string') {
      this.fail(AblyError.of('invalidChannelName', 'DETACH needs a channel'));
      return;
    }
    const att = this.attachments.get(raw);
    if (!att) {
      this.sendMessage({ action: Action.DETACHED, channel: raw });
      return;
    }
    att.state = 'detaching';
    att.chain = att.chain.then(() => {
      this.forget(att);
      this.sendMessage({ action: Action.DETACHED, channel: raw });
    });
  }

  /**
   * Ends an attachment (its stream stops), takes it out of the connection's (unless a newer
   * one is there), and its members leave: the SDK forgets them on DETACHED or a channel's
   * ERROR (RTP5a); a filtered channel has none of its own.
   */
  private forget(att: Attachment, leave = !att.filter): void {
    this.dropAttachment(att);
    if (this.attachments.get(att.channelName) === att) this.attachments.delete(att.channelName);
    if (leave) this.presence.detached(att.key);
  }

  private dropAttachment(att: Attachment): void {
    att.state = 'detached';
    const client = att.client;
    att.client = null;
    if (client && client.detach(att)) this.services.hub.release(att.key, client);
  }

  // ---- publishing ---------------------------------------------------------------

  private require(channel: string, op: Operation): void {
    this.credentials.capability.require(channel, op);
  }

  private onPublish(pm: ProtocolMessage): void {
    const slot = typeof pm.msgSerial === 'number' && Number.isInteger(pm.msgSerial) ? this.acks.slot(pm.msgSerial) : null;
    let key: string;
    let messages;
    try {
      const { name } = unfilteredChannelName(pm.channel, 'publishing');
      key = channelKey(this.credentials.appId, name);
      const o = { clientId: this.credentials.clientId, idBase: slot ? `${this.id}:${slot.msgSerial}` : null, connectionId: this.id, now: this.services.now() };
      const limits = this.services.limits;
      messages = pm.action === Action.ANNOTATION ? buildAnnotations(pm.annotations, { ...o, maxMessageSize: limits.maxMessageSize }) : buildMessages(pm.messages, { ...o, limits });
      authorizePublish(messages, this.credentials, name);
      if (!this.rate.take(messages.length, this.services.monotonic())) {
        throw AblyError.of('connectionRateLimited', `more than ${this.services.limits.maxInboundRate} messages per second`);
      }
    } catch (err) {
      if (slot) this.acks.nack(slot, err);
      else this.channelError(pm.channel, err);
      return;
    }
    this.services.publish(key, messages, this.id).then(
      (serials) => slot && this.acks.ack(slot, serials),
      (err) => (slot ? this.acks.nack(slot, err) : this.channelError(pm.channel, err)),
    );
  }

  /** The channels this connection has presence members on (none once it is closed or has moved on). */
  presenceChannels(): string[] {
    return this.closed || this.superseded ? [] : this.presence.channels();
  }

  private onPresence(pm: ProtocolMessage): void {
    const slot = typeof pm.msgSerial === 'number' && Number.isInteger(pm.msgSerial) ? this.acks.slot(pm.msgSerial) : null;
    let key: string;
    let ops;
    try {
      const { name } = unfilteredChannelName(pm.channel, 'presence');
      // Its own members' leave needs no capability (one that lost presence has had them leave already).
      const leaves = Array.isArray(pm.presence) && pm.presence.every((p) => (p as { action?: unknown } | null)?.action === PresenceAction.LEAVE);
      if (!leaves) this.require(name, 'presence');
      if (isMetaChannel(name)) throw AblyError.of('notPermitted', `no client can be present on the metachannel "${name}"`);
      const att = this.attachments.get(pm.channel as string);
      if (!att || (att.state !== 'attached' && att.state !== 'attaching')) {
        throw AblyError.of('presenceInvalidState', `channel "${name}" is not attached`);
      }
      if ((att.modes & Flag.PRESENCE) === 0 && !leaves) throw AblyError.of('notPermitted', `presence mode was not granted on "${name}"`);
      key = att.key;
      ops = buildPresence(pm.presence, {
        limits: this.services.limits,
        clientId: this.credentials.clientId,
        // Without a msgSerial (no Ably SDK sends none), an id of its own: the time made one
        // that a clock stepped back (or the same ms) gave again, and the repeat was dropped.
        idBase: `${this.id}:${slot ? slot.msgSerial : `p${randomBytes(9).toString('base64url')}`}`,
        connectionId: this.id,
        now: this.services.now(),
      });
      if (!this.rate.take(ops.length, this.services.monotonic())) {
        throw AblyError.of('connectionRateLimited', `more than ${this.services.limits.maxInboundRate} messages per second`);
      }
    } catch (err) {
      if (slot) this.acks.nack(slot, err);
      else this.channelError(pm.channel, err);
      return;
    }
    const k = key;
    this.presence.op(k, ops, () => this.services.presence(k, ops, this.id, this.presence.since)).then(
      () => slot && this.acks.ack(slot, []),
      (err) => (slot ? this.acks.nack(slot, err) : this.channelError(pm.channel, err)),
    );
  }
}
