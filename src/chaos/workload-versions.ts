/**
 * Message versions in the chaos workload (README "Message versions"), where the
 * deployment's first app has the namespace `mutable` with the `mutableMessages` rule.
 * One connection per region (all of them one client, PROBE_CLIENT_ID) attaches to `mutable:versions` (the channel then has interest in
 * every region), the first region's publishes a message (`base`), and then, every
 * `everyMs`, each region's client in turn appends a fragment of its own (`|eu:7`) to it,
 * through every fault; a new message is begun every third of the history's retention
 * (one older than that would be gone before the end of a long run). Each append's
 * outcome and version serial are recorded (`append` lines), and so is any continuity
 * signal on the channel (`continuity` lines, with the prober as client) and any new
 * connection of a prober (`connection` lines). After the drain each region's
 * `getMessage` of every message still well within retention is read (`standing` lines).
 * The checker (versions-check.ts): every region shows the same message, the base and
 * then fragments, every acknowledged one, none twice, the acknowledged ones in the order
 * of their version serials.
 *
 * With each append, the same client annotates the message (README "Annotations"): a
 * count of 1 under its region's name (PROBE_ANNOTATION_TYPE), with an id of its own, so
 * one sent again after a resume is a repeat (`append` lines with `annotation`), and a
 * vote (PROBE_VOTE_TYPE, unique.v1) for its region's name, every fifth taken back. The
 * probes of every region are one client (PROBE_CLIENT_ID), so its votes and their
 * deletes, made through every region and ordered by their serials, decide where it
 * stands. The reads record each region's summary of both; the checker: every region
 * sums them up the same, each region's count at least its acknowledged annotations and
 * at most those sent, and the client under one name at most.
 */
import Ably from 'ably';
import { clientOptions } from './client-options.js';
import type { AppendEvent, ConnectionEvent, ContinuityEvent, StandingEvent } from './record.js';

/** The channel the probes change. */
export const VERSIONS_CHANNEL = 'mutable:versions';
/** The message's data before any append. */
export const VERSIONS_BASE = 'base';
/** The type of the probes' annotations: a count per region (multiple.v1), and their votes (unique.v1). */
export const PROBE_ANNOTATION_TYPE = 'probe:multiple.v1';
export const PROBE_VOTE_TYPE = 'probe:unique.v1';
/** The clientId of every region's probe: one client, acting through every region. */
export const PROBE_CLIENT_ID = 'versions-probe';
/** How many times a region's read is tried, and how long apart (ms). */
const READ_ATTEMPTS = 5;
const READ_RETRY_MS = 1000;

type Realtime = InstanceType<typeof Ably.Realtime>;
type Endpoint = { host: string; port: number };

export class VersionProbes {
  private readonly clients = new Map<string, Realtime>();
  private readonly pending = new Map<string, { region: string; t: number; serial: string; annotation?: true }>();
  private timer: NodeJS.Timeout | null = null;
  /** The messages begun, the newest last: serial and when. */
  private readonly messages: { serial: string; at: number }[] = [];
  private begun = 0;
  private idle: Promise<void> | null = null;
  private turn = 0;
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly o: {
      regions: Map<string, Endpoint>;
      key: string;
      everyMs: number;
      /** The deployment's history retention (ms). */
      historyMs: number;
      record(e: AppendEvent | StandingEvent | ContinuityEvent | ConnectionEvent): void;
    },
  ) {}

  private client(region: string): Realtime {
    return this.clients.get(region)!;
  }

  /** Attaches in every region, publishes the message, and starts appending. */
  async start(): Promise<void> {
    for (const [region, e] of this.o.regions) {
      const client = `versions-${region}`;
      const c = new Ably.Realtime(clientOptions(e, { key: this.o.key, clientId: PROBE_CLIENT_ID }, true) as never);
      this.clients.set(region, c);
      // A new connectionId (its resume failed): the SDK sends its unanswered appends again, under new ids.
      let id: string | undefined;
      c.connection.on('connected', () => {
        const now = c.connection.id;
        if (id && now && now !== id) this.o.record({ type: 'connection', t: Date.now(), region, client, connectionId: now, previous: id });
        id = now;
      });
      const ch = c.channels.get(VERSIONS_CHANNEL);
      let attached = false;
      ch.on((sc) => {
        const gap = (sc.current === 'attached' && attached && sc.resumed === false) || sc.current === 'failed';
        if (sc.current === 'attached') attached = true;
        if (gap) {
          this.o.record({ type: 'continuity', t: Date.now(), region, client, channel: VERSIONS_CHANNEL, resumed: false, ...(sc.reason ? { error: { code: sc.reason.code, message: sc.reason.message } } : {}) });
        }
      });
      await ch.attach();
    }
    await this.begin();
    this.timer = setInterval(() => this.tick(), this.o.everyMs);
  }

  /** A new message to append to, published in the first region. */
  private async begin(): Promise<void> {
    const first = [...this.o.regions.keys()][0]!;
    this.begun = Date.now();
    const r = await this.client(first).channels.get(VERSIONS_CHANNEL).publish({ name: 'versions', data: VERSIONS_BASE });
    if (r.serials[0]) this.messages.push({ serial: r.serials[0], at: this.begun });
  }

  private tick(): void {
    if (this.idle) return;
    if (Date.now() - this.begun > this.o.historyMs / 3) {
      // Appends wait for the new message (a failed publish: on to the old one, tried again next tick).
      this.idle = this.begin()
        .catch(() => undefined)
        .finally(() => (this.idle = null));
      return;
    }
    this.append();
  }

  private append(): void {
    const target = this.messages.at(-1)?.serial;
    if (!target) return;
    const regions = [...this.o.regions.keys()];
    const region = regions[this.turn++ % regions.length]!;
    const n = (this.sent.get(region) ?? 0) + 1;
    this.sent.set(region, n);
    const fragment = `|${region}:${n}`;
    const t = Date.now();
    this.pending.set(fragment, { region, t, serial: target });
    this.client(region)
      .channels.get(VERSIONS_CHANNEL)
      .appendMessage({ serial: target, data: fragment } as never)
      .then(
        (r) => this.settle(fragment, 'ack', r.versionSerial ?? undefined),
        (err: { code?: number; message?: string }) => this.settle(fragment, 'nack', undefined, err),
      );
    // And an annotation: its id is the probe's, so a resend is a repeat, counted once.
    const id = `ann-${region}-${n}`;
    this.pending.set(id, { region, t, serial: target, annotation: true });
    this.client(region)
      .channels.get(VERSIONS_CHANNEL)
      .annotations.publish(target, { id, type: PROBE_ANNOTATION_TYPE, name: region } as never)
      .then(
        () => this.settle(id, 'ack'),
        (err: { code?: number; message?: string }) => this.settle(id, 'nack', undefined, err),
      );
    // And a vote, every fifth taken back (not recorded: the check reads only where the client stands, the same everywhere).
    const vote = { id: `vote-${region}-${n}`, type: PROBE_VOTE_TYPE, name: region };
    const annotations = this.client(region).channels.get(VERSIONS_CHANNEL).annotations;
    (n % 5 === 0 ? annotations.delete(target, { ...vote, name: undefined } as never) : annotations.publish(target, vote as never)).catch(() => undefined);
  }

  private settle(fragment: string, outcome: 'ack' | 'nack' | 'unknown', versionSerial?: string, err?: { code?: number; message?: string }): void {
    const p = this.pending.get(fragment);
    if (!p) return;
    this.pending.delete(fragment);
    this.o.record({
      type: 'append',
      t: p.t,
      region: p.region,
      serial: p.serial,
      fragment,
      outcome,
      ...(p.annotation ? { annotation: true as const } : {}),
      ...(outcome === 'unknown' ? {} : { doneAt: Date.now() }),
      ...(versionSerial ? { versionSerial } : {}),
      ...(err ? { error: { code: err.code ?? 0, message: err.message ?? '' } } : {}),
    });
  }

  /** Stops appending; waits (up to `settleMs`) for every append to be answered. */
  async stop(settleMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = Date.now() + settleMs;
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Each region's `getMessage` of each message begun less than two thirds of the
   * retention ago (older ones may be gone by now; tried again while the service settles).
   */
  async read(): Promise<StandingEvent[]> {
    const out: StandingEvent[] = [];
    const now = Date.now();
    const rests = new Map([...this.o.regions].map(([region, e]) => [region, new Ably.Rest({ key: this.o.key, endpoint: e.host, port: e.port, tls: false, logLevel: 0 } as never)]));
    for (const { serial, at } of this.messages) {
      if (now - at > (this.o.historyMs * 2) / 3) continue;
      for (const [region, rest] of rests) {
        let error = '';
        let data: string | null = null;
        let summary: string | undefined;
        for (let i = 0; i < READ_ATTEMPTS && data === null; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, READ_RETRY_MS));
          try {
            const m = await rest.channels.get(VERSIONS_CHANNEL).getMessage(serial);
            data = typeof m.data === 'string' ? m.data : JSON.stringify(m.data);
            const all = m.annotations?.summary ?? {};
            summary = JSON.stringify({ counts: all[PROBE_ANNOTATION_TYPE] ?? {}, votes: all[PROBE_VOTE_TYPE] ?? {} });
          } catch (err) {
            error = (err as Error).message;
          }
        }
        out.push({ type: 'standing', t: Date.now(), region, serial, data, ...(summary !== undefined ? { summary } : {}), ...(data === null ? { error } : {}) });
      }
    }
    return out;
  }

  /** Records what is still unanswered as unknown and closes every client. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const fragment of [...this.pending.keys()]) this.settle(fragment, 'unknown');
    for (const c of this.clients.values()) {
      try {
        c.close();
      } catch {
        /* already closed */
      }
    }
  }
}
