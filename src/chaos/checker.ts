/**
 * The chaos checker: reads a workload record (`record.ts`) and checks it against the
 * guarantees of DESIGN.md, in the spirit of Jepsen's checkers. The core (`Checker`,
 * `check`) is pure: events in, a `Report` out (`report.ts` turns it into text, markdown
 * and a picture). The CLI at the bottom streams a record file through it:
 *
 *   node dist/chaos/checker.js RECORD.jsonl [--json OUT.json] [--report DIR [--name NAME]]
 *
 * exit 0: no violation; 1: at least one violation; 2: bad usage or an unreadable record.
 *
 * Definitions (a "subscriber" is one client on one channel):
 * - expected: an acknowledged publish is expected by every subscriber of its channel, in
 *   any region, whose first `subscribe` is at or before the publish's `t` and that did not
 *   `unsubscribe` before `end` (an unsubscribe at or after `end` is teardown).
 * - lost (violation): expected, never delivered, and no `continuity` event for that
 *   subscriber at or after the publish's `t` (and at or before `end`: signals during
 *   teardown excuse nothing). With such a signal it is `excused`, which is not a violation.
 *   A subscriber with a subscription filter (its `subscribe` line's `filter`) expects only
 *   the messages it lets through; a delivery of one it holds back is a leak (violation;
 *   filter-check.ts).
 * - duplicate (violation): each delivery of one (publisher, seq) to one subscriber after the first.
 * - order (violation): a first delivery of (publisher, seq) after a larger seq of the same
 *   publisher reached that subscriber. Order is the order of `deliver` lines in the record.
 * - region order (violation): a pair of subscribers of one channel in one region that both
 *   got messages m1 and m2 there, in opposite orders; counted once per subscriber pair.
 *   A subscriber told the channel restarted in a new epoch (a 90005 signal: its state was
 *   lost) has its deliveries before and after compared apart: that is two orders.
 * - a subscriber that moves to another region (its `deliver` lines name another region)
 *   keeps its client id and is held to every message across the move; its figures count
 *   in the region it first subscribed in, while region order and in-region latency take
 *   each delivery in the region it was made in.
 * - convergence of a fault window: from its end until every expected, not excused message
 *   published before that end had reached every subscriber expecting it (0 when all had
 *   arrived by then; null when some never did).
 * - latency: `deliver.t - deliver.sentAt` of first deliveries; in-region when the publisher's
 *   region (from its publish lines) is the subscriber's; "inside faults" when the interval
 *   [sentAt, t] overlaps a fault window. p50/p99 are nearest-rank percentiles.
 * - availability: per region, the share of publish attempts sent in a window (start <= t
 *   <= end) that were ACKed; NACKed and unknown count as not ACKed.
 * - presence (violation): a view of a channel's presence set (a region's REST endpoint, or
 *   a subscriber's SDK) that, when the workload's presence check ended, did not show
 *   exactly the member clients as they were connected then (`presence` lines); the
 *   figures say how long the slowest view took to show them.
 * - occupancy (violation): a view of a channel's occupancy (a member's last
 *   `[meta]occupancy` event, every region's clients; or a region's REST status, its own)
 *   that, when the workload's occupancy check ended, did not show the counts of the
 *   clients attached then (`occupancy` lines; occupancy-check.ts).
 * - history (violation): each region's stored history of each channel, read after the
 *   drain (`history` lines), missing an acknowledged message it should hold, holding one
 *   twice or after a later one of its publisher, or not readable (history-check.ts).
 * - tokens (violation; workloads with token auth): a client's own TokenRequest refused as
 *   replayed, or a replay of one issued a token with no fault window open at the time or
 *   ended within 10 s before (`token` lines; token-check.ts).
 * - revocations (violation; workloads with revocation probes): a region that had not
 *   refused a revoked token by the end (`revocation`, `revoked` lines; revocation-check.ts).
 */
import { writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyFailed, historyFigures } from './history-check.js';
import { SerialCheck, serialsFailed } from './serial-check.js';
import { isVersionProbeEvent, VersionCheck, versionsFailed } from './versions-check.js';
import { tokenFigures, tokensFailed } from './token-check.js';
import { revocationFigures, revocationsFailed } from './revocation-check.js';
import { filterFigures } from './filter-check.js';
import { readRecord, type HistoryEvent, type OccupancyEvent, type PresenceEvent, type RecordEvent, type RevocationEvent, type RevokedEvent, type TokenEvent } from './record.js';
import { formatSummary, writeScenarioReport } from './report.js';
import {
  type Channel,
  Convergence,
  type FaultWindow,
  Findings,
  LatencyBins,
  type Merged,
  type Msg,
  OUTCOME_RANK,
  type PublishAttempt,
  type Sub,
  TimelineBuilder,
  ackedByPublishTime,
  availabilities,
  byString,
  checkExpected,
  checkRegionOrder,
  countOutcome,
  countsOf,
  emptyCounts,
  findAnomalies,
  findDuplicates,
  lowerBound,
  mergeWindows,
  overlaps,
  regionFigures,
  staysOf,
  sumViolations,
} from './checker-parts.js';
import type { Availability, ChannelRegionFigures, CheckOptions, DeltaFigures, FaultFigures, PresenceFigures, PublishCounts, Report, Violation, ViolationCounts } from './checker-types.js';
import { occupancyFigures } from './occupancy-check.js';
import { lifecycleFailed, lifecycleFigures, type LifecycleRecordEvent } from './lifecycle-check.js';

export type * from './checker-types.js';


const DEFAULT_MAX_EXAMPLES = 10;
/** The code of a continuity signal that says the channel restarted in a new epoch (its state was lost). */
const NEW_EPOCH = 90005;
const DEFAULT_BUCKET_MS = 1000;
const MAX_TIMELINE_BUCKETS = 1800;
/**
 * A subscriber in delta mode given this many messages or more has most of them as deltas
 * (each but the first after an attach, the workload's being alike: 99 % in the forty-sixth
 * session's runs); one that decoded fewer than half was sent most whole, its path (one wire
 * format's, say) unchecked.
 */
const DELTA_CHECK_MIN = 10;

// ---------------------------------------------------------------------------------------
// Checker

/** Streaming checker: `add` every event of a record (in file order), then `finish` once. */
export class Checker {
  private readonly channels = new Map<string, Channel>();
  private readonly attempts: PublishAttempt[] = [];
  private readonly publisherRegion = new Map<string, string>();
  private readonly faultEvents: Array<{ t: number; action: string; target: string; phase: 'start' | 'end' }> = [];
  private readonly orderExamples: Violation[] = [];
  private readonly maxExamples: number;
  private events = 0;
  private deliveries = 0;
  private continuity = 0;
  /** Publishers' SDKs connected afresh (their resume failed): they resend under new ids. */
  private readonly newConnections: { t: number; client: string; code: number | undefined }[] = [];
  private readonly presenceViews: PresenceEvent[] = [];
  private readonly occupancyViews: OccupancyEvent[] = [];
  private readonly lifecycleViews: LifecycleRecordEvent[] = [];
  private deltas: DeltaFigures | null = null;
  private readonly historyReads: HistoryEvent[] = [];
  private readonly tokenEvents: TokenEvent[] = [];
  private readonly revocationsMade: RevocationEvent[] = [];
  private readonly revocationsSeen: RevokedEvent[] = [];
  private readonly serials = new SerialCheck();
  private readonly versions = new VersionCheck();
  private minT = Infinity;
  private maxT = -Infinity;
  private endT = NaN;

  constructor(private readonly options: CheckOptions = {}) {
    this.maxExamples = options.maxExamples ?? DEFAULT_MAX_EXAMPLES;
  }

  add(e: RecordEvent): void {
    this.events++;
    if (e.t < this.minT) this.minT = e.t;
    if (e.t > this.maxT) this.maxT = e.t;
    if (isVersionProbeEvent(e)) return this.versions.add(e);
    switch (e.type) {
      case 'publish': {
        this.attempts.push({ t: e.t, region: e.region, outcome: e.outcome });
        if (!this.publisherRegion.has(e.publisher)) this.publisherRegion.set(e.publisher, e.region);
        const m = this.msg(this.channel(e.channel), e.publisher, e.seq);
        if (!(m.publishT <= e.t)) m.publishT = e.t;
        if (Number.isNaN(m.sentAt)) m.sentAt = e.t;
        if (m.outcome === null || OUTCOME_RANK[e.outcome] > OUTCOME_RANK[m.outcome]) {
          m.outcome = e.outcome;
          m.error = e.error;
        }
        this.serials.sent(e.channel, e.publisher, e.seq, e.t, e.doneAt);
        if (e.outcome === 'ack') this.serials.see(e.channel, e.publisher, e.seq, e.serial, `ACK in ${e.region}`);
        break;
      }
      case 'deliver':
        this.deliver(e.channel, e.region, e.client, e.publisher, e.seq, e.sentAt, e.t);
        this.serials.see(e.channel, e.publisher, e.seq, e.serial, `sent to ${e.region}/${e.client}`);
        break;
      case 'subscribe': {
        const s = this.sub(this.channel(e.channel), e.client, e.region);
        if (!(s.subscribeT <= e.t)) s.subscribeT = e.t;
        if (e.filter) s.filter = e.filter;
        break;
      }
      case 'unsubscribe': {
        const s = this.sub(this.channel(e.channel), e.client, e.region);
        if (!(s.unsubscribeT <= e.t)) s.unsubscribeT = e.t;
        break;
      }
      case 'continuity': {
        this.continuity++;
        const s = this.sub(this.channel(e.channel), e.client, e.region);
        s.continuity.push(e.t);
        if (e.error?.code === NEW_EPOCH && s.restarts.at(-1) !== s.order.length) s.restarts.push(s.order.length);
        break;
      }
      case 'connection':
        this.newConnections.push({ t: e.t, client: e.client, code: e.error?.code });
        break;
      case 'state':
        break;
      case 'fault':
        this.faultEvents.push({ t: e.t, action: e.action, target: e.target, phase: e.phase });
        break;
      case 'presence':
        this.presenceViews.push(e);
        break;
      case 'lifecycle':
        this.lifecycleViews.push(e);
        break;
      case 'occupancy':
        this.occupancyViews.push(e);
        break;
      case 'deltas': {
        const d = (this.deltas ??= { subscribers: 0, received: 0, decoded: 0, starved: [], reattached: 0 });
        d.subscribers++;
        d.received += e.received;
        d.decoded += e.decoded;
        d.reattached += e.reattached;
        if (e.received >= DELTA_CHECK_MIN && e.decoded < e.received / 2) d.starved.push(e.client);
        break;
      }
      case 'history':
        this.historyReads.push(e);
        e.serials?.forEach((serial, i) => {
          const item = e.items[i]!;
          const at = item.lastIndexOf('#');
          this.serials.see(e.channel, item.slice(0, at), Number(item.slice(at + 1)), serial, `history in ${e.region}`);
        });
        break;
      case 'token':
        this.tokenEvents.push(e);
        break;
      case 'revocation':
        this.revocationsMade.push(e);
        break;
      case 'revoked':
        this.revocationsSeen.push(e);
        break;
      case 'end':
        if (!(this.endT >= e.t)) this.endT = e.t;
        break;
    }
  }

  private channel(name: string): Channel {
    let c = this.channels.get(name);
    if (!c) this.channels.set(name, (c = { name, ids: new Map(), msgs: [], subs: new Map() }));
    return c;
  }

  private msgId(c: Channel, publisher: string, seq: number): number {
    const key = `${publisher}\u0000${seq}`;
    let id = c.ids.get(key);
    if (id === undefined) {
      id = c.msgs.length;
      c.ids.set(key, id);
      c.msgs.push({ publisher, seq, publishT: NaN, outcome: null, error: undefined, sentAt: NaN, deliveries: 0 });
    }
    return id;
  }

  private msg(c: Channel, publisher: string, seq: number): Msg {
    return c.msgs[this.msgId(c, publisher, seq)] as Msg;
  }

  private sub(c: Channel, client: string, region: string): Sub {
    let s = c.subs.get(client);
    if (!s) {
      s = {
        client,
        region,
        stays: [],
        subscribeT: NaN,
        unsubscribeT: NaN,
        continuity: [],
        restarts: [],
        order: [],
        times: [],
        index: new Map(),
        maxSeq: new Map(),
        extra: new Map(),
        duplicates: 0,
        orderViolations: 0,
        regionOrder: 0,
        expected: 0,
        excused: 0,
        lost: 0,
      };
      c.subs.set(client, s);
    }
    return s;
  }

  private deliver(channel: string, region: string, client: string, publisher: string, seq: number, sentAt: number, t: number): void {
    this.deliveries++;
    const c = this.channel(channel);
    const id = this.msgId(c, publisher, seq);
    const m = c.msgs[id] as Msg;
    m.deliveries++;
    if (Number.isNaN(m.sentAt) || m.deliveries === 1) m.sentAt = sentAt;
    const s = this.sub(c, client, region);
    if (s.index.has(id)) {
      s.duplicates++;
      s.extra.set(id, (s.extra.get(id) ?? 0) + 1);
      return;
    }
    if (s.stays[s.stays.length - 1]?.region !== region) s.stays.push({ region, from: s.order.length });
    s.index.set(id, s.order.length);
    s.order.push(id);
    s.times.push(t);
    const max = s.maxSeq.get(publisher);
    if (max === undefined || seq > max) s.maxSeq.set(publisher, seq);
    else {
      s.orderViolations++;
      if (this.orderExamples.length < this.maxExamples) {
        this.orderExamples.push({ kind: 'order', channel, region: s.region, client, publisher, seq, afterSeq: max, at: t });
      }
    }
  }

  finish(): Report {
    const notes: string[] = [];
    const start = Number.isFinite(this.minT) ? this.minT : 0;
    const endRecorded = !Number.isNaN(this.endT);
    const end = endRecorded ? this.endT : Number.isFinite(this.maxT) ? this.maxT : 0;
    if (!endRecorded) notes.push('no end line: the record was closed at its last event, so stragglers may count as lost');

    const windows = this.windows(end, notes);
    const merged = mergeWindows(windows);
    const found = new Findings(this.maxExamples);
    const convergence = new Convergence(windows);
    const last = Math.max(end, this.maxT);
    const timeline = new TimelineBuilder(start, this.bucketMs(start, last), last);
    const latency = new LatencyBins();
    const regionLatency = new Map<string, LatencyBins>();
    const byChannel: ChannelRegionFigures[] = [];

    for (const c of [...this.channels.values()].sort((a, b) => byString(a.name, b.name))) {
      findAnomalies(c, found);
      const acked = ackedByPublishTime(c);
      const subs = [...c.subs.values()].sort((a, b) => byString(a.client, b.client));
      for (const s of subs) {
        findDuplicates(c, s, found);
        checkExpected(c, s, acked, end, convergence, found);
        this.measure(c, s, merged, timeline, latency, regionLatency);
      }
      byChannel.push(...checkRegionOrder(c, subs, found));
    }
    if (found.withoutSubscribe > 0) notes.push(`${found.withoutSubscribe} subscriber(s) received messages without a subscribe line: not checked for loss`);
    if (found.lateSignals > 0) notes.push(`${found.lateSignals} continuity signal(s) after the end line were ignored (teardown excuses nothing)`);
    if (this.newConnections.length > 0) {
      const at = this.newConnections.map((c) => `${c.client} at +${((c.t - this.minT) / 1000).toFixed(1)} s${c.code ? ` (${c.code})` : ''}`);
      notes.push(
        `publisher connection(s) replaced, their resume having failed: ${at.join(', ')}; the SDK sent their unacknowledged messages again under new ids, which the service cannot tell from new ones (beyond the one-node guarantee)`,
      );
    }

    const faults = convergence.figures();
    const publishes = this.publishFigures(faults, merged);
    const regions = [...new Set([...publishes.byRegion.keys(), ...timeline.regions()])].sort(byString);
    const byRegion = regions.map((region) => regionFigures(region, byChannel, publishes.byRegion.get(region), regionLatency.get(region)));
    const violations = sumViolations(byChannel);
    const presence = this.presenceFigures();
    const occupancy = occupancyFigures(this.occupancyViews, this.maxExamples);
    const lifecycle = lifecycleFigures(this.lifecycleViews, this.faultEvents.map((f) => ({ type: 'fault' as const, ...f })), this.maxExamples);
    const history = historyFigures(this.historyReads, this.channels, this.publisherRegion, this.maxExamples);
    const tokens = tokenFigures(this.tokenEvents, merged, this.maxExamples);
    const filters = filterFigures(this.channels.values(), this.maxExamples);
    const serials = this.serials.figures(this.newConnections, this.maxExamples);
    const versions = this.versions.figures(this.maxExamples);
    const revocations = revocationFigures(this.revocationsMade, this.revocationsSeen, merged, end, this.maxExamples);

    return {
      verdict: violationTotal(violations) > 0 || (filters?.leaked ?? 0) > 0 || serialsFailed(serials) || versionsFailed(versions) || (presence?.mismatched ?? 0) > 0 || (occupancy?.mismatched ?? 0) > 0 || lifecycleFailed(lifecycle) || deltasFailed(this.deltas) || historyFailed(history) || tokensFailed(tokens) || revocationsFailed(revocations) ? 'FAIL' : 'PASS',
      span: { start, end, endRecorded },
      totals: {
        events: this.events,
        channels: this.channels.size,
        regions: regions.length,
        subscribers: byChannel.reduce((a, r) => a + r.subscribers, 0),
        publishes: publishes.total,
        deliveries: this.deliveries,
        continuity: this.continuity,
        expected: byChannel.reduce((a, r) => a + r.expected, 0),
        excused: byChannel.reduce((a, r) => a + r.excused, 0),
      },
      violations,
      examples: [...found.lost, ...found.duplicates, ...this.orderExamples, ...found.regionOrder],
      anomalies: { deliveredButNacked: found.nacked, deliveredButNeverPublished: found.neverPublished, examples: found.anomalies },
      byRegion,
      byChannel,
      faults,
      latency: latency.figures(),
      availability: { outsideFaults: publishes.outsideFaults },
      timeline: timeline.build(),
      presence,
      occupancy,
      lifecycle,
      deltas: this.deltas,
      filters,
      serials,
      versions,
      history,
      tokens,
      revocations,
      notes,
    };
  }

  /** The presence check's views (null: the record has none): those off at its end, and the slowest one's time. */
  private presenceFigures(): PresenceFigures | null {
    if (this.presenceViews.length === 0) return null;
    const off = this.presenceViews.filter((v) => v.convergedAfterMs === null);
    const examples = off.slice(0, this.maxExamples).map((v) => ({
      region: v.region,
      observer: v.observer,
      channel: v.channel,
      missing: v.expected.filter((x) => !v.seen.includes(x)),
      extra: v.seen.filter((x) => !v.expected.includes(x)),
    }));
    return {
      views: this.presenceViews.length,
      mismatched: off.length,
      convergedAfterMs: off.length ? null : Math.max(...this.presenceViews.map((v) => v.convergedAfterMs!)),
      members: this.presenceViews[0]!.expected.length,
      examples,
    };
  }

  /** Latency and timeline of a subscriber's first deliveries, in the regions it received them in. */
  private measure(c: Channel, s: Sub, merged: Merged, timeline: TimelineBuilder, latency: LatencyBins, byRegion: Map<string, LatencyBins>): void {
    timeline.touch(s.region);
    for (const stay of staysOf(s)) {
      let here = byRegion.get(stay.region);
      if (!here) byRegion.set(stay.region, (here = new LatencyBins()));
      const bins = [latency, here];
      for (let k = 0; k < stay.order.length; k++) {
        const m = c.msgs[stay.order[k] as number] as Msg;
        const t = s.times[stay.from + k] as number;
        const ms = t - m.sentAt;
        timeline.add(stay.region, t, ms);
        const from = this.publisherRegion.get(m.publisher);
        if (from === undefined) continue;
        const inFault = overlaps(merged, m.sentAt, t);
        for (const b of bins) b.add(from === stay.region, inFault, ms);
      }
    }
  }

  /** Publish counts per region: in all, inside each fault window (filling `faults`), and outside them all. */
  private publishFigures(faults: FaultFigures[], merged: Merged): { total: PublishCounts; byRegion: Map<string, PublishCounts>; outsideFaults: Availability[] } {
    const attempts = [...this.attempts].sort((a, b) => a.t - b.t);
    const times = attempts.map((a) => a.t);
    for (const f of faults) {
      const per = new Map<string, PublishCounts>();
      for (let i = lowerBound(times, f.start, false); i < attempts.length && (times[i] as number) <= f.end; i++) {
        const a = attempts[i] as PublishAttempt;
        countOutcome(countsOf(per, a.region), a.outcome);
      }
      f.availability = availabilities(per);
    }
    const total = emptyCounts();
    const byRegion = new Map<string, PublishCounts>();
    const outside = new Map<string, PublishCounts>();
    for (const a of attempts) {
      countOutcome(total, a.outcome);
      countOutcome(countsOf(byRegion, a.region), a.outcome);
      if (!overlaps(merged, a.t, a.t)) countOutcome(countsOf(outside, a.region), a.outcome);
    }
    return { total, byRegion, outsideFaults: availabilities(outside) };
  }

  /** Pairs fault starts and ends by (action, target), oldest open start first. */
  private windows(end: number, notes: string[]): FaultWindow[] {
    const open = new Map<string, Array<{ t: number; action: string; target: string }>>();
    const out: FaultWindow[] = [];
    const events = [...this.faultEvents].sort((a, b) => a.t - b.t);
    for (const f of events) {
      const key = `${f.action}\u0000${f.target}`;
      const q = open.get(key) ?? [];
      if (f.phase === 'start') {
        q.push(f);
        open.set(key, q);
        continue;
      }
      const s = q.shift();
      if (!s) {
        notes.push(`fault end without a start ignored: ${f.action} ${f.target} at ${f.t}`);
        continue;
      }
      out.push({ action: s.action, target: s.target, start: s.t, end: f.t, open: false });
    }
    for (const q of open.values()) {
      for (const s of q) out.push({ action: s.action, target: s.target, start: s.t, end: Math.max(s.t, end), open: true });
    }
    return out.sort((a, b) => a.start - b.start || a.end - b.end);
  }

  private bucketMs(start: number, last: number): number {
    const want = this.options.bucketMs ?? DEFAULT_BUCKET_MS;
    const span = Math.max(0, last - start);
    return Math.max(want, Math.ceil(span / MAX_TIMELINE_BUCKETS / want) * want);
  }
}

/** Checks a whole history at once. */
export function check(events: Iterable<RecordEvent>, options?: CheckOptions): Report {
  const c = new Checker(options);
  for (const e of events) c.add(e);
  return c.finish();
}

/** All violations of a report's kinds together; the verdict is FAIL when this is not 0. */
export function violationTotal(v: ViolationCounts): number {
  return v.lost + v.duplicates + v.order + v.regionOrder;
}

// ---------------------------------------------------------------------------------------
// CLI

const USAGE = 'usage: node dist/chaos/checker.js RECORD.jsonl [--json OUT.json] [--report DIR [--name NAME]]';

async function main(argv: string[]): Promise<number> {
  let record: string | undefined;
  let json: string | undefined;
  let reportDir: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--json') json = value();
    else if (a === '--report') reportDir = value();
    else if (a === '--name') name = value();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else if (a.startsWith('-') || record !== undefined) throw new UsageError(`unexpected argument ${a}`);
    else record = a;
  }
  if (record === undefined) throw new UsageError('no record file given');

  const checker = new Checker();
  const read = await readRecord(record, (e) => checker.add(e));
  const report = checker.finish();
  if (read.truncatedTail) report.notes.push('the last line of the record was cut short (writer killed mid-line) and was skipped');
  process.stdout.write(formatSummary(report));
  if (json !== undefined) await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  if (reportDir !== undefined) {
    const files = await writeScenarioReport(reportDir, name ?? record.replace(/^.*\//, '').replace(/\.jsonl$/, ''), report);
    process.stdout.write(`report: ${files.markdown}\n`);
  }
  return report.verdict === 'PASS' ? 0 : 1;
}

class UsageError extends Error {}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof UsageError ? `${err.message}\n${USAGE}` : err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}

function deltasFailed(d: DeltaFigures | null): boolean {
  return (d?.starved.length ?? 0) > 0;
}
