/**
 * The chaos workload: publishers and subscribers in every region, real `ably` SDK
 * clients connected through each region's endpoint, recording every publish (ACKed,
 * NACKed, unknown), every delivery and every continuity signal for the checker.
 *
 * Every message carries its publisher's id, its per-publisher sequence number and its
 * send time: `{ p, s, t }`.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import Ably from 'ably';
import { decode as vcdiffDecode } from '@ably/vcdiff-decoder';
import type { HistoryEvent, OccupancyEvent, PresenceEvent, RecordEvent, StandingEvent } from './record.js';
import { RevocationProbes } from './workload-revocations.js';
import { VersionProbes } from './workload-versions.js';
import { clientOptions } from './client-options.js';
import { WorkloadTokens } from './workload-tokens.js';
import { OccupancyViews, type Counted } from './workload-occupancy.js';
import { LifecycleWatch } from './workload-lifecycle.js';
import { wholeHistory } from './rest-history.js';
import type { LifecycleRecordEvent } from './lifecycle-check.js';
import { filterHeaders, WORKLOAD_FILTER } from './filter-check.js';

export interface WorkloadOptions {
  /** Region name → client endpoint (host:port of its balancer). */
  regions: Map<string, { host: string; port: number }>;
  key: string;
  /** Clients authenticate with tokens of this lifetime (ms), from TokenRequests (workload-tokens.ts); absent: with the key. */
  tokenTtlMs?: number;
  /** Revocation probes (workload-revocations.ts): a key with revocableTokens, how often one begins (ms), and every node to ask. */
  revocations?: { key: string; everyMs: number; gapMs?: number; nodes: { name: string; region: string; host: string; port: number }[] };
  /** Version probes (workload-versions.ts): how often one appends (ms); the deployment's app needs the `mutable` namespace. */
  versions?: { everyMs: number; historyMs: number };
  channels: string[];
  publishersPerRegion: number;
  subscribersPerRegion: number;
  /** Regions that start with another number of subscribers. */
  subscribersByRegion?: Record<string, number>;
  /** Time between a publisher's messages (each publisher spreads them over the channels). */
  intervalMs: number;
  /** Clients per region that enter presence on every channel and stay (`checkPresence`). */
  presenceMembersPerRegion?: number;
  /**
   * Clients (`eu-sub1`, `us-pub0`, `eu-mem0`, …) whose SDK logs every protocol message
   * and state change (logLevel 4) to `dir/trace-ID.log`, each line after its time in ms.
   */
  trace?: { clients: ReadonlySet<string>; dir: string };
  record(e: RecordEvent): void;
}

type Realtime = InstanceType<typeof Ably.Realtime>;

/** A subscriber: one id for its whole life, the SDK instance and region it is in now (null: moving). */
interface Subscriber {
  id: string;
  region: string;
  binary: boolean;
  client: Realtime | null;
  /** In delta mode (every third): what it decoded, over all its SDK instances (DeltaEvent). */
  deltas: { received: number; decoded: number; reattached: number } | null;
  /** With WORKLOAD_FILTER (every fourth): attached through `channels.getDerived`. */
  filtered: boolean;
}

/** A client in every channel's presence set, under a clientId of its own, for the whole run. */
interface Member {
  id: string;
  region: string;
  client: Realtime;
}

/** How often `checkPresence` reads every view (ms), and how long one read may take. */
const PRESENCE_POLL_MS = 500;
const PRESENCE_READ_TIMEOUT_MS = 3000;

interface Payload {
  p: string;
  s: number;
  t: number;
  /** The same in every message: enough that a delta of one from the one before is smaller than it over JSON (delta.ts), as for a document's states. */
  x: string;
}

const PAYLOAD_FILL = 'the part of the message that stays the same from one to the next, '.repeat(2);

/** A subscriber's channel: the one named, or (`filtered`) the one derived from it with WORKLOAD_FILTER. */
function channelOf(c: Realtime, channel: string, filtered: boolean, options?: { params: Record<string, string> }) {
  return filtered ? c.channels.getDerived(channel, { filter: WORKLOAD_FILTER.expression }, options) : c.channels.get(channel, options);
}

/** Whether a client is connected and attached to a channel (its derived one, `filtered`) now. */
function attachedNow(c: Realtime | null, channel: string, filtered: boolean): boolean {
  return c?.connection.state === 'connected' && channelOf(c, channel, filtered).state === 'attached';
}

export class Workload {
  private readonly clients: Realtime[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending = new Map<string, { region: string; client: string; channel: string; publisher: string; seq: number; t: number }>();
  private stopped = false;
  private closed = false;
  /** Subscribers made so far, in all and per region (their ids are numbered per region). */
  private subscriberCount = 0;
  private readonly subscribersIn = new Map<string, number>();
  private readonly subscribers: Subscriber[] = [];
  private readonly members: Member[] = [];
  published = 0;
  delivered = 0;

  /** Open trace files by client id (WorkloadOptions.trace). */
  private readonly traces = new Map<string, WriteStream>();

  /** Token auth, where the workload uses it. */
  private readonly tokens: WorkloadTokens | null;
  /** Revocation probes, where the workload makes them. */
  private readonly probes: RevocationProbes | null;
  /** Version probes, where the workload makes them. */
  private readonly versions: VersionProbes | null;
  /** Members' occupancy events and the regions' REST status, for the occupancy check. */
  private readonly occupancy: OccupancyViews;
  /** A client on [meta]channel.lifecycle in each region, for the lifecycle check. */
  private readonly lifecycle: LifecycleWatch;

  constructor(private readonly o: WorkloadOptions) {
    this.tokens = o.tokenTtlMs ? new WorkloadTokens({ key: o.key, ttlMs: o.tokenTtlMs, endpoint: (r) => this.endpoint(r), record: (e) => o.record(e) }) : null;
    this.probes = o.revocations ? new RevocationProbes({ ...o.revocations, regions: o.regions, record: (e) => o.record(e) }) : null;
    this.versions = o.versions ? new VersionProbes({ ...o.versions, regions: o.regions, key: o.key, record: (e) => o.record(e) }) : null;
    this.occupancy = new OccupancyViews({ regions: o.regions, key: o.key, channels: o.channels });
    this.lifecycle = new LifecycleWatch({ regions: o.regions, key: o.key, channels: o.channels });
  }

  /** A client's SDK instance in `region` (one of several over its life, if it moves), kept to be closed. */
  private sdk(id: string, region: string, binary: boolean, extra: { recover?: string; clientId?: string } = {}, deltas: Subscriber['deltas'] = null): Realtime {
    const endpoint = this.endpoint(region);
    const auth = this.tokens ? { authCallback: this.tokens.authCallback(id, region, extra.clientId) } : { key: this.o.key };
    const opts: Record<string, unknown> = { ...clientOptions(endpoint, auth, binary), ...extra };
    // Ably's own decoder, counting what it applies.
    if (deltas) {
      const decode = (delta: Uint8Array, base: Uint8Array) => {
        const out = vcdiffDecode(delta, base);
        deltas.decoded++;
        return out;
      };
      opts.plugins = { vcdiff: { decode } };
    }
    const file = this.traceFile(id);
    if (file) {
      // A moved subscriber's next instance writes on in the same file, after a line that says so.
      const instance = this.clients.length;
      file.write(`${Date.now()} trace: ${id}: SDK instance #${instance} to ${endpoint.host}:${endpoint.port}${extra.recover ? ' (recovering)' : ''}\n`);
      opts.logLevel = 4;
      opts.logHandler = (line: string) => {
        if (!file.writableEnded) file.write(`${Date.now()} #${instance} ${line}\n`);
      };
    }
    const c = new Ably.Realtime(opts as never);
    this.clients.push(c);
    return c;
  }

  /** The trace file of a client named in WorkloadOptions.trace (opened at its first SDK instance), or null. */
  private traceFile(id: string): WriteStream | null {
    const t = this.o.trace;
    if (!t?.clients.has(id)) return null;
    let out = this.traces.get(id);
    if (!out) {
      out = createWriteStream(join(t.dir, `trace-${id}.log`));
      // A full disk must not end the run: the trace is lost, the record goes on.
      out.on('error', (err) => process.stderr.write(`chaos: cannot write the trace of ${id}: ${err.message}\n`));
      this.traces.set(id, out);
    }
    return out;
  }

  /** The clients WorkloadOptions.trace named that the workload never made (no file for them). */
  untraced(): string[] {
    return [...(this.o.trace?.clients ?? [])].filter((id) => !this.traces.has(id));
  }

  /** Connects every client and attaches every subscriber; publishers start publishing. */
  async start(): Promise<void> {
    await this.lifecycle.start();
    const attaching: Promise<unknown>[] = [];
    for (const region of this.o.regions.keys()) {
      attaching.push(this.addSubscribers(region, this.o.subscribersByRegion?.[region] ?? this.o.subscribersPerRegion));
    }
    await Promise.all(attaching);
    const entering: Promise<void>[] = [];
    for (const region of this.o.regions.keys()) {
      for (let i = 0; i < (this.o.presenceMembersPerRegion ?? 0); i++) entering.push(this.addMember(region, `${region}-mem${i}`, i % 2 === 0));
    }
    await Promise.all(entering);
    for (const region of this.o.regions.keys()) {
      for (let i = 0; i < this.o.publishersPerRegion; i++) {
        const id = `${region}-pub${i}`;
        const c = this.sdk(id, region, i % 2 === 0);
        await c.connection.once('connected');
        this.watchConnection(c, region, id);
        this.publishLoop(c, region, id);
      }
    }
    this.probes?.start();
    await this.versions?.start();
  }

  /** Each region's view of the version probes' message (after the drain). */
  async readVersions(): Promise<StandingEvent[]> {
    return (await this.versions?.read()) ?? [];
  }

  /** Waits (up to `ms`) until every region has refused every revoked probe token (revocation-check.ts). */
  async settleRevocations(ms: number): Promise<void> {
    await this.probes?.settle(ms);
  }

  /** `count` more subscribers in `region`, each attached to every channel (resolves when all are). */
  async addSubscribers(region: string, count: number): Promise<void> {
    const attaching: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const inRegion = this.subscribersIn.get(region) ?? 0;
      this.subscribersIn.set(region, inRegion + 1);
      // Every other subscriber, across regions, speaks msgpack; every third asks for
      // deltas; every fourth has a subscription filter (some of those deltas too).
      const n = this.subscriberCount++;
      const binary = n % 2 === 0;
      const id = `${region}-sub${inRegion}`;
      const deltas = n % 3 === 1 ? { received: 0, decoded: 0, reattached: 0 } : null;
      const c = this.sdk(id, region, binary, {}, deltas);
      const sub: Subscriber = { id, region, binary, client: c, deltas, filtered: n % 4 === 3 };
      this.subscribers.push(sub);
      for (const channel of this.o.channels) attaching.push(this.subscribe(sub, c, channel, false));
    }
    await Promise.all(attaching);
  }

  /**
   * The first `count` subscribers now in `from` continue in `to`, as clients do whose
   * region became unreachable: each takes its connection's recovery key (which carries
   * its channelSerials) and closes; `afterMs` later a new SDK instance recovers from that
   * key in `to`. A subscriber keeps its id, so the checker holds it to every message
   * across the move. Resolves when every moved subscriber is attached again.
   */
  async move(from: string, to: string, count: number, afterMs = 0): Promise<void> {
    this.endpoint(to); // an unknown region throws before anyone moves
    const movers = this.subscribers.filter((s) => s.region === from && s.client !== null).slice(0, count);
    if (movers.length < count) throw new Error(`cannot move ${count} subscribers from ${from}: it has ${movers.length}`);
    const keys: string[] = [];
    for (const sub of movers) {
      // Taken in a turn of its own, after the SDK has handed on everything whose
      // channelSerial it holds; from here on the old instance's events are ignored.
      const old = sub.client!;
      const recover = old.connection.createRecoveryKey();
      if (!recover) throw new Error(`subscriber ${sub.id} has no recovery key (not connected)`);
      keys.push(recover);
      sub.client = null;
      old.close();
    }
    if (afterMs > 0) await new Promise((r) => setTimeout(r, afterMs));
    if (this.closed) return;
    const attaching: Promise<unknown>[] = [];
    for (const [i, sub] of movers.entries()) {
      const c = this.sdk(sub.id, to, sub.binary, { recover: keys[i]! }, sub.deltas);
      sub.client = c;
      sub.region = to;
      for (const channel of this.o.channels) attaching.push(this.subscribe(sub, c, channel, true));
    }
    await Promise.all(attaching);
  }

  /**
   * A member: its SDK, connected under clientId `id`, enters every channel's presence set
   * (attached for presence only, no messages) and keeps its occupancy events (the
   * occupancy check). The SDK enters again by itself after an attach that did not resume
   * (RTP17i); nothing else is done for it during the run.
   */
  private async addMember(region: string, id: string, binary: boolean): Promise<void> {
    const c = this.sdk(id, region, binary, { clientId: id });
    this.members.push({ id, region, client: c });
    await Promise.all(
      this.o.channels.map(async (channel) => {
        const ch = c.channels.get(channel, { modes: ['PRESENCE', 'PRESENCE_SUBSCRIBE'], params: { occupancy: 'metrics' } });
        await ch.subscribe('[meta]occupancy', (m) => this.occupancy.seen(id, region, channel, (m.data as { metrics?: unknown } | undefined)?.metrics));
        await ch.presence.enter({ member: id });
      }),
    );
  }

  /**
   * After the presence check: waits, up to `withinMs`, until every member's last occupancy
   * event, and every region's REST status, shows the counts of the clients attached now
   * (workload-occupancy.ts); returns each view as it stood at the last read.
   */
  async checkOccupancy(withinMs: number): Promise<OccupancyEvent[]> {
    const on = (c: Realtime | null, filtered = false) => (channel: string) => attachedNow(c, channel, filtered);
    const clients = (): Counted[] => [
      ...this.subscribers.map((s) => ({ region: s.region, kind: s.filtered ? ('filtered' as const) : ('subscriber' as const), attached: on(s.client, s.filtered) })),
      ...this.members.map((m) => ({ region: m.region, kind: 'member' as const, attached: on(m.client) })),
    ];
    // No members, no check (as for presence); members all disconnected still leave the REST views checked.
    if (this.members.length === 0) return [];
    const watchers = () => this.members.filter((m) => m.client.connection.state === 'connected');
    return this.occupancy.check(clients, watchers, withinMs);
  }

  /** After the occupancy check, clients still attached: each region's history of [meta]channel.lifecycle (lifecycle-check.ts); `nodes`: each region's. */
  async readLifecycle(nodes: Record<string, string[]>): Promise<LifecycleRecordEvent[]> {
    const attached: Record<string, string[]> = {};
    for (const channel of this.o.channels) {
      const on = (c: Realtime | null, filtered = false) => attachedNow(c, channel, filtered);
      const regions = new Set([...this.subscribers.filter((s) => on(s.client, s.filtered)).map((s) => s.region), ...this.members.filter((m) => on(m.client)).map((m) => m.region)]);
      attached[channel] = [...regions].sort();
    }
    return this.lifecycle.read(attached, nodes);
  }

  /**
   * After the run: waits, up to `withinMs`, until every view of every channel's presence
   * set shows exactly the members as they are connected now (`clientId connectionId`):
   * each region's REST endpoint, and every subscriber's SDK. Presence is forwarded between
   * regions, so every region should show the members of all. Returns each view as it
   * stood at the last read (`PresenceEvent`); none when the workload has no members.
   */
  async checkPresence(withinMs: number): Promise<PresenceEvent[]> {
    if (this.members.length === 0) return [];
    const start = Date.now();
    const matchingSince = new Map<string, number>();
    for (;;) {
      const expected = this.members.map((m) => `${m.id} ${m.client.connection.state === 'connected' ? m.client.connection.id : `(${m.client.connection.state})`}`).sort();
      const views = await this.readPresenceViews();
      const t = Date.now();
      let all = true;
      const events: PresenceEvent[] = views.map((v) => {
        const key = `${v.region}\u0000${v.observer}\u0000${v.channel}`;
        const same = v.seen.length === expected.length && v.seen.every((x, i) => x === expected[i]);
        if (!same) {
          matchingSince.delete(key);
          all = false;
        } else if (!matchingSince.has(key)) matchingSince.set(key, t);
        const since = matchingSince.get(key);
        return { type: 'presence', t, ...v, expected, convergedAfterMs: since === undefined ? null : since - start };
      });
      if (all || t - start >= withinMs) return events;
      await new Promise((r) => setTimeout(r, PRESENCE_POLL_MS));
    }
  }

  /**
   * After the run: each region's stored history of each channel, through the region's
   * REST endpoint with the SDK's REST client (oldest first, every page), as the
   * workload's messages in it (`publisher#seq`). `retention`: the deployment's, carried
   * on each line for the checker.
   */
  async readHistory(retention: { historyMs: number; maxMessages: number }): Promise<HistoryEvent[]> {
    const reads: Promise<HistoryEvent>[] = [];
    for (const region of this.o.regions.keys()) {
      const { host, port } = this.endpoint(region);
      const rest = new Ably.Rest({ key: this.o.key, endpoint: host, port, tls: false, useBinaryProtocol: false, logLevel: 0 } as never);
      for (const channel of this.o.channels) {
        reads.push(
          this.historyOf(rest, channel).then((r) => ({ type: 'history', t: Date.now(), region, channel, ...r, historyMs: retention.historyMs, maxMessages: retention.maxMessages })),
        );
      }
    }
    return Promise.all(reads);
  }

  /** One channel's history through `rest` (rest-history.ts): the workload's messages as `publisher#seq`, with their serials. */
  private async historyOf(rest: InstanceType<typeof Ably.Rest>, channel: string): Promise<{ items: string[]; serials?: string[]; error?: string }> {
    const read = await wholeHistory(rest, channel);
    if (read.error !== undefined) return { items: [], error: read.error };
    const items: string[] = [];
    const serials: string[] = [];
    for (const m of read.items) {
      const d = m.data as Payload | undefined;
      if (!d || typeof d.p !== 'string' || typeof d.s !== 'number') continue;
      items.push(`${d.p}#${d.s}`);
      serials.push(m.serial ?? '');
    }
    return { items, serials };
  }

  /** One read of every view (`checkPresence`); a view that cannot be read shows `(error …)`. */
  private async readPresenceViews(): Promise<{ region: string; observer: string; channel: string; seen: string[] }[]> {
    const reads: Promise<{ region: string; observer: string; channel: string; seen: string[] }>[] = [];
    const fail = (err: unknown) => [`(error ${(err as Error).message})`];
    const members = (list: { clientId?: string; connectionId?: string }[]) => list.map((p) => `${p.clientId} ${p.connectionId}`).sort();
    const auth = `Basic ${Buffer.from(this.o.key).toString('base64')}`;
    for (const region of this.o.regions.keys()) {
      const { host, port } = this.endpoint(region);
      for (const channel of this.o.channels) {
        const url = `http://${host}:${port}/channels/${encodeURIComponent(channel)}/presence?limit=1000`;
        reads.push(
          fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(PRESENCE_READ_TIMEOUT_MS) })
            .then(async (res) => (res.ok ? members((await res.json()) as { clientId?: string; connectionId?: string }[]) : [`(error HTTP ${res.status})`]))
            .catch(fail)
            .then((seen) => ({ region, observer: 'rest', channel, seen })),
        );
      }
    }
    for (const sub of this.subscribers) {
      const c = sub.client;
      // A filtered channel has no presence (Ably's docs): its SDK is not a view of it.
      if (!c || sub.filtered) continue;
      for (const channel of this.o.channels) {
        const read = c.channels.get(channel).presence.get();
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), PRESENCE_READ_TIMEOUT_MS).unref());
        reads.push(
          Promise.race([read, timeout])
            .then(members, fail)
            .then((seen) => ({ region: sub.region, observer: sub.id, channel, seen })),
        );
      }
    }
    return Promise.all(reads);
  }

  private endpoint(region: string): { host: string; port: number } {
    const endpoint = this.o.regions.get(region);
    if (!endpoint) throw new Error(`no region ${region}`);
    return endpoint;
  }

  /**
   * Records `sub`'s deliveries and continuity signals on `channel` through its SDK
   * instance `c` (nothing once `sub` has moved on to another instance). A `resuming`
   * instance (after a move) must be told RESUMED on its first attach, or that is a gap.
   */
  private async subscribe(sub: Subscriber, c: Realtime, channel: string, resuming: boolean): Promise<void> {
    const { id: client, region } = sub;
    const current = () => sub.client === c;
    const ch = channelOf(c, channel, sub.filtered, sub.deltas ? { params: { delta: 'vcdiff' } } : undefined);
    let subscribed = false;
    const signal = (t: number, reason: { code: number; message: string } | null | undefined) =>
      this.o.record({
        type: 'continuity',
        t,
        region,
        client,
        channel,
        resumed: false,
        ...(reason ? { error: { code: reason.code, message: reason.message } } : {}),
      });
    ch.on((sc) => {
      if (!current()) return;
      const t = Date.now();
      if (sc.current === 'attaching' && sc.reason?.code === 40018 && sub.deltas) sub.deltas.reattached++;
      if (sc.current === 'attached' && !subscribed) {
        subscribed = true;
        if (!resuming) this.o.record({ type: 'subscribe', t, region, client, channel, ...(sub.filtered ? { filter: { mod: WORKLOAD_FILTER.mod, keep: WORKLOAD_FILTER.keep } } : {}) });
        else if (!sc.resumed) signal(t, sc.reason);
        return;
      }
      // The service's word that continuity was lost: an ATTACHED (or UPDATE) without
      // RESUMED after the first attach, or the channel failing for good. (Suspended and
      // detached are not: the SDK re-attaches and the service then says whether it resumed.)
      // This listener hears every event, UPDATE (attached → attached) among them: one
      // listener, so each signal is recorded once.
      const gap = (sc.current === 'attached' && sc.resumed === false && sc.previous !== 'initialized') || sc.current === 'failed';
      if (subscribed && gap) signal(t, sc.reason);
    });
    await ch.subscribe((m) => {
      const d = m.data as Payload;
      if (!current() || !d || typeof d.p !== 'string') return;
      this.delivered++;
      if (sub.deltas) sub.deltas.received++;
      this.o.record({
        type: 'deliver',
        t: Date.now(),
        region,
        client,
        channel,
        publisher: d.p,
        seq: d.s,
        sentAt: d.t,
        ...(m.serial ? { serial: m.serial } : {}),
      });
    });
  }

  /** Records each state change of a publisher's SDK, and each new connectionId (a resume that failed). */
  private watchConnection(c: Realtime, region: string, client: string): void {
    let id = c.connection.id;
    c.connection.on((sc) => {
      const t = Date.now();
      const error = sc.reason ? { error: { code: sc.reason.code, message: sc.reason.message } } : {};
      this.o.record({ type: 'state', t, region, client, state: sc.current, ...error });
      const now = c.connection.id;
      if (sc.current !== 'connected' || !now || !id || now === id) return;
      this.o.record({ type: 'connection', t, region, client, connectionId: now, previous: id, ...error });
      id = now;
    });
  }

  private publishLoop(c: Realtime, region: string, publisher: string): void {
    const seqs = new Map<string, number>();
    let turn = 0;
    const tick = () => {
      if (this.stopped) return;
      const channel = this.o.channels[turn++ % this.o.channels.length]!;
      const seq = (seqs.get(channel) ?? 0) + 1;
      seqs.set(channel, seq);
      const t = Date.now();
      const key = `${publisher}\u0000${channel}\u0000${seq}`;
      this.pending.set(key, { region, client: publisher, channel, publisher, seq, t });
      this.published++;
      const payload: Payload = { p: publisher, s: seq, t, x: PAYLOAD_FILL };
      c.channels
        .get(channel)
        .publish({ name: 'm', data: payload, extras: { headers: filterHeaders(seq) } })
        .then(
          (r) => this.settle(key, 'ack', undefined, r.serials[0] ?? undefined),
          (err: { code?: number; message?: string }) => this.settle(key, 'nack', err),
        );
    };
    this.timers.push(setInterval(tick, this.o.intervalMs));
  }

  private settle(key: string, outcome: 'ack' | 'nack', err?: { code?: number; message?: string }, serial?: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    this.o.record({
      type: 'publish',
      t: p.t,
      region: p.region,
      client: p.client,
      channel: p.channel,
      publisher: p.publisher,
      seq: p.seq,
      outcome,
      doneAt: Date.now(),
      ...(serial ? { serial } : {}),
      ...(err ? { error: { code: err.code ?? 0, message: err.message ?? '' } } : {}),
    });
  }

  /** Stops publishing; waits (up to `settleMs`) for every outstanding publish to be answered. */
  async stopPublishing(settleMs: number): Promise<void> {
    this.stopped = true;
    this.probes?.stop();
    for (const t of this.timers) clearInterval(t);
    const deadline = Date.now() + settleMs;
    const probes = this.versions?.stop(settleMs);
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await probes;
    for (const s of this.subscribers) if (s.deltas) this.o.record({ type: 'deltas', t: Date.now(), region: s.region, client: s.id, ...s.deltas });
  }

  /** Records what is still unanswered as unknown and closes every client. */
  close(): void {
    this.closed = true;
    this.lifecycle.close();
    this.tokens?.close();
    this.probes?.close();
    this.versions?.close();
    for (const [key, p] of this.pending) {
      this.pending.delete(key);
      this.o.record({ type: 'publish', t: p.t, region: p.region, client: p.client, channel: p.channel, publisher: p.publisher, seq: p.seq, outcome: 'unknown' });
    }
    for (const c of this.clients) {
      try {
        c.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Ends the trace files, once what the closed clients logged is written. */
  async closeTraces(): Promise<void> {
    await Promise.all([...this.traces.values()].map((out) => new Promise<void>((r) => out.end(r))));
  }
}
