/**
 * Scenario 7 (b) of issue 7: catch-up after a region partition heals. Two regions;
 * subscribers attached in region B ("us") to a channel published in region A ("eu"),
 * forwarding checked with a few messages; then the region link is cut through the
 * chaos control endpoint (`ably-ng chaos partition eu us`), and once both globalmasters
 * report the link down a backlog is published in A as fast as acknowledgements come
 * back. On heal, B's masters ask A for everything after their last position and A
 * replays it from history; the probe records when each subscriber in B gets each
 * message. Reported: time to relink, to the first and the last backlog delivery, the rate
 * per subscriber (first → last, and heal → last), and whether anything is missing or
 * came twice. History is raised in the bench topology to hold the whole backlog.
 */
import { nowUs } from '../payload.js';
import type { GroupSummary, PublishResult, WaitResult } from '../probe/protocol.js';
import { ms, rate } from '../report/format.js';
import { lineChart } from '../report/svg.js';
import { channelPlacement, healthOf, heal, httpUrl, partition, waitForLinks } from '../servers/ably-ops.js';
import type { AblyDeployment } from '../servers/ably-ng.js';
import { channelMasteredBy } from '../servers/ably-region.js';
import type { Probe } from '../probe/driver.js';
import { QUIET_THRESHOLD_PCT, waitForQuiet } from '../proc.js';
import { median } from '../util.js';
import { CpuWindow, type CpuFigures } from './cpu-window.js';
import { regionUrls, withProbe } from './probe-session.js';
import type { Plot, ScenarioContext, Table } from './scenario.js';

export interface HealOptions {
  nodesPerRegion: number;
  /** Messages published in region A during the partition (one channel). */
  backlog: number;
  /** Subscribers in region B (spread over its nodes); one more in A checks A itself. */
  subscribers: number;
  /** Partition → publish → heal this many times (a fresh channel each). */
  rounds: number;
  /** Unacknowledged publishes at most while publishing the backlog. */
  maxInFlight: number;
  /** The catch-up is given up after this long (ms) from the heal. */
  catchUpTimeoutMs: number;
  /** Before the heal, wait at most this long for other processes to use < 40 % of a core (ms). */
  quietWaitMs: number;
  /**
   * Before the measured rounds, one partition and heal that is not counted: this many
   * messages on each of several channels, one mastered by each node of region B (0: none).
   */
  warmupBacklog: number;
}

/** Target of issue 7: catch-up at this many messages/s at least. */
const TARGET_MSGS_PER_S = 50_000;
const A = 'eu';
const B = 'us';
/** Catch-up curve resolution (ms). */
const BIN_MS = 250;
/** The catch-up counts as stalled after this long without a delivery (ms). */
const STALL_MS = 10_000;

interface Round {
  round: number;
  channel: string;
  linkDownMs: number;
  published: PublishResult;
  /** Backlog deliveries in B before the heal (should be 0). */
  deliveredDuringPartition: number;
  healUs: number;
  relinkMs: number | null;
  wait: WaitResult;
  b: GroupSummary;
  aCheck: WaitResult;
  /** CPU while the backlog was published, and from the heal to the end of the catch-up. */
  publishCpu: CpuFigures;
  catchUpCpu: CpuFigures;
  /** Other processes' CPU just before the heal, after waiting for them to calm down. */
  quietBeforeHeal: { waitedMs: number; otherPct: number };
  /** The channel's masters and replicas and the globalmasters, by region. */
  roles: { masters: Record<string, string>; replicas: Record<string, string>; globalmasters: Record<string, string> };
}

export interface HealOutcome {
  tables: Table[];
  targetRows: (string | number)[][];
  notes: string[];
  plots: Plot[];
  figures: Record<string, unknown>;
}

export async function measureHealCatchup(ctx: ScenarioContext, o: HealOptions): Promise<HealOutcome> {
  const session = await withProbe(
    ctx,
    'heal',
    {
      regions: [{ name: A, nodes: o.nodesPerRegion }, { name: B, nodes: o.nodesPerRegion }],
      // History must hold the whole backlog (and the warm-up), for long enough.
      retention: { maxMessagesPerChannel: Math.max(o.backlog, o.warmupBacklog) + 10_000, historyMs: 600_000 },
    },
    async (d, probe) => {
      await waitForLinks(d, 'up', 30_000);
      if (o.warmupBacklog > 0) await warmUp(ctx, d, probe, o);
      const rounds: Round[] = [];
      for (let round = 0; round < o.rounds; round++) {
        const channel = `heal-${round}`;
        const g = `b${round}`;
        const check = `a${round}`;
        const pubName = `pub${round}`;
        await forwarding(d, probe, o, channel, g, pubName);
        await probe.subscribe(check, regionUrls(d, A).slice(-1), 1, channel, d.key);
        await partition(d, A, B);
        const linkDownMs = await waitForLinks(d, 'down', 20_000);
        ctx.log(`  round ${round + 1}: link down (noticed after ${linkDownMs} ms); publishing ${o.backlog} messages in ${A}`);
        const nodes = () => d.nodes.map((n) => ({ name: n.name, pid: d.supervisor.nodes.get(n.name)?.pid ?? n.pid }));
        const pubWindow = CpuWindow.start(nodes(), [process.pid, probe.pid]);
        const published = await publishBacklog(probe, pubName, o.backlog, o);
        const publishCpu = pubWindow.end();
        const aCheck = await probe.waitFor(check, published.fromSeq, published.toSeq, 30_000, 10_000);
        const before = await probe.summary(g, { fromSeq: published.fromSeq, toSeq: published.toSeq });
        const roles = await rolesOf(d, channel);
        const quiet = await waitForQuiet([...nodes().map((n) => n.pid), process.pid, probe.pid], QUIET_THRESHOLD_PCT, o.quietWaitMs);
        const catchUpWindow = CpuWindow.start(nodes(), [process.pid, probe.pid]);
        const healUs = nowUs();
        await heal(d, A, B);
        const relink = waitForLinks(d, 'up', o.catchUpTimeoutMs).then(
          (t) => t,
          () => null,
        );
        const wait = await probe.waitFor(g, published.fromSeq, published.toSeq, o.catchUpTimeoutMs, STALL_MS);
        const catchUpCpu = catchUpWindow.end();
        const relinkMs = await relink;
        const bins = Math.ceil((wait.ms + 1000) / BIN_MS);
        const b = await probe.summary(g, { fromSeq: published.fromSeq, toSeq: published.toSeq, binFromUs: healUs, binMs: BIN_MS, bins });
        rounds.push({ round, channel, linkDownMs, published, deliveredDuringPartition: before.delivered, healUs, relinkMs, wait, b, aCheck, publishCpu, catchUpCpu, roles, quietBeforeHeal: quiet });
        const pubS = (published.answeredUs - published.startUs) / 1e6;
        ctx.log(
          `  round ${round + 1}: published ${published.acked} acked in ${pubS.toFixed(1)} s; after the heal: link up ${relinkMs ?? '?'} ms, first ${ms((b.firstAtUs - healUs) / 1000)} ms, all ${ms((b.completeAtUsMax - healUs) / 1000)} ms (${wait.why}); ${rate(b.perSubscriberRateMedian)} per subscriber; missing ${b.missing}, duplicates ${b.duplicates}`,
        );
      }
      return rounds;
    },
  );
  return report(o, session.value, session.clientNotes, session.serverProblems);
}

/**
 * One partition and heal before the measured rounds, not counted, so that every node of
 * B has run the catch-up as a channel's master, as its replica and as a subscribers'
 * node, and V8 has compiled that code, as in a region that has been carrying forwarded
 * traffic. Without it the first round at each master ran on colder code: in three runs,
 * the third round (the only one whose master and replica had had those roles before)
 * was the fastest each time, 1.4–1.8× the first.
 */
async function warmUp(ctx: ScenarioContext, d: AblyDeployment, probe: Probe, o: HealOptions): Promise<void> {
  const names = d.nodes.filter((n) => n.region === B).map((n) => n.name);
  const channels = names.map((n) => channelMasteredBy(names, n, 'heal-warm'));
  for (const [i, channel] of channels.entries()) await forwarding(d, probe, o, channel, `w${i}`, `wpub${i}`);
  await partition(d, A, B);
  await waitForLinks(d, 'down', 20_000);
  const published: PublishResult[] = [];
  for (const i of channels.keys()) published.push(await publishBacklog(probe, `wpub${i}`, o.warmupBacklog, o));
  const t0 = nowUs();
  await heal(d, A, B);
  for (const [i, p] of published.entries()) {
    const w = await probe.waitFor(`w${i}`, p.fromSeq, p.toSeq, o.catchUpTimeoutMs, STALL_MS);
    if (!w.done) throw new Error(`warm-up: ${channels[i]} did not catch up: ${w.have} of ${w.want} (${w.why})`);
  }
  ctx.log(
    `  warm-up (not counted): ${channels.length} channels × ${o.warmupBacklog} messages, mastered in ${B} by ${names.join(', ')}; caught up ${((nowUs() - t0) / 1e6).toFixed(1)} s after the heal`,
  );
  await waitForLinks(d, 'up', 30_000);
}

/**
 * Subscribers in B (probe group `group`) and a publisher in A (`pub`) on `channel`; then
 * 100 messages, which must reach B: forwarding has started.
 */
async function forwarding(d: AblyDeployment, probe: Probe, o: HealOptions, channel: string, group: string, pub: string): Promise<void> {
  await probe.subscribe(group, regionUrls(d, B), o.subscribers, channel, d.key);
  await probe.publisher(pub, d.nodes.find((n) => n.region === A)!.wsUrl, channel, d.key);
  const first = await probe.publish(pub, { ratePerS: 200, count: 100 });
  const got = await probe.waitFor(group, first.fromSeq, first.toSeq, 15_000, 10_000);
  if (!got.done) throw new Error(`forwarding to ${B} did not start on ${channel}: ${got.have} of ${got.want} first deliveries`);
}

/** `count` messages as fast as acknowledgements come back (at most `maxInFlight` unanswered). */
function publishBacklog(probe: Probe, pub: string, count: number, o: HealOptions): Promise<PublishResult> {
  return probe.publish(pub, { ratePerS: 0, count, maxInFlight: o.maxInFlight, ackWaitMs: 30_000 });
}

/** Which node masters the channel in each region, and which is each region's globalmaster. */
async function rolesOf(d: Parameters<typeof healthOf>[0], channel: string): Promise<Round['roles']> {
  const masters: Record<string, string> = {};
  const replicas: Record<string, string> = {};
  const globalmasters: Record<string, string> = {};
  for (const region of [A, B]) {
    const node = d.nodes.find((n) => n.region === region)!;
    const p = await channelPlacement(httpUrl(node), d.key, channel).catch(() => null);
    masters[region] = p?.master ?? '?';
    replicas[region] = p?.replica ?? '?';
  }
  for (const h of await healthOf(d)) if (h.globalmaster) globalmasters[h.region] = h.node;
  return { masters, replicas, globalmasters };
}

/** "us-n2 (B master) 61 %, …": the busiest nodes of a window. */
function busiest(c: CpuFigures, r: Round, n = 3): string {
  const role = (node: string) => {
    const tags: string[] = [];
    for (const [region, m] of Object.entries(r.roles.masters)) if (m === node) tags.push(`${region} master`);
    for (const [region, m] of Object.entries(r.roles.replicas)) if (m === node) tags.push(`${region} replica`);
    for (const [region, g] of Object.entries(r.roles.globalmasters)) if (g === node) tags.push(`${region} globalmaster`);
    return tags.length ? ` (${tags.join(', ')})` : '';
  };
  return Object.entries(c.nodes)
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([node, pct]) => `${node}${role(node)} ${Math.round(pct)} %`)
    .join(', ');
}

/** "24 % / 5.1": the nodes' system time as a share of their CPU, and their page faults per message. */
function kernelShare(c: CpuFigures, messages: number): string {
  if (c.serverSystemPct === undefined || c.serverFaults === undefined || !(c.serverPct > 0)) return '—';
  return `${Math.round((100 * c.serverSystemPct) / c.serverPct)} % / ${(c.serverFaults / messages).toFixed(1)}`;
}

/** Messages/s the catch-up would reach if the busiest node had a whole core (CPU-bound estimate). */
function ownCoreBound(r: Round, backlog: number): number {
  const busiestS = (Math.max(...Object.values(r.catchUpCpu.nodes)) / 100) * r.catchUpCpu.seconds;
  return busiestS > 0 ? backlog / busiestS : NaN;
}

function report(o: HealOptions, rounds: Round[], clientNotes: string[], serverProblems: string[]): HealOutcome {
  const since = (r: Round, us: number) => (us ? (us - r.healUs) / 1000 : NaN);
  const rows = rounds.map((r) => {
    const pubS = (r.published.answeredUs - r.published.startUs) / 1e6;
    const completeS = since(r, r.b.completeAtUsMedian) / 1000;
    return [
      r.round + 1,
      `${r.published.acked} (${rate(r.published.acked / pubS)})`,
      r.deliveredDuringPartition,
      r.relinkMs === null ? '—' : ms(r.relinkMs),
      ms(since(r, r.b.firstAtUs)),
      ms(since(r, r.b.completeAtUsMax)),
      rate(r.b.perSubscriberRateMedian),
      rate(o.backlog / completeS),
      `${r.b.delivered} / ${r.b.expected}`,
      `${r.b.missing} / ${r.b.duplicates} / ${r.b.outOfOrder}`,
      r.wait.why === 'complete' ? 'yes' : `no (${r.wait.why} after ${(r.wait.ms / 1000).toFixed(0)} s)`,
      `${Math.round(r.catchUpCpu.serverPct)} %: ${busiest(r.catchUpCpu, r)}`,
      Math.round(((r.catchUpCpu.serverPct / 100) * r.catchUpCpu.seconds * 1e6) / o.backlog),
      kernelShare(r.catchUpCpu, o.backlog),
      rate(ownCoreBound(r, o.backlog)),
      `${Math.round(r.catchUpCpu.ownPct)} % / ${Math.round(r.catchUpCpu.otherPct)} %`,
    ];
  });
  const transfer = median(rounds.map((r) => r.b.perSubscriberRateMedian));
  const overall = median(rounds.map((r) => o.backlog / (since(r, r.b.completeAtUsMedian) / 1000)));
  const complete = rounds.every((r) => r.wait.why === 'complete' && r.b.missing === 0 && r.b.duplicates === 0);
  const tables: Table[] = [
    {
      title: `Heal catch-up: ${o.backlog} messages published in ${A} on one channel during a partition of the ${A}–${B} link, ${o.subscribers} subscribers in ${B}; times in ms after the heal`,
      header: [
        'round',
        'published and acknowledged (rate)',
        `delivered in ${B} during the partition`,
        'region link up again',
        'first backlog delivery',
        'last subscriber complete',
        'rate per subscriber, first → last delivery (median)',
        'rate per subscriber, heal → complete (median)',
        'deliveries / expected',
        'missing / duplicates / out of order',
        'complete',
        'nodes\' CPU from the heal to the end (sum, % of the one server core; busiest)',
        'nodes\' CPU per backlog message (µs, all nodes)',
        'of it, system time (kernel: syscalls, page faults) / minor page faults per backlog message',
        'bound if each node had a core of its own (backlog ÷ busiest node\'s CPU time)',
        'CPU of the bench process and probe / of other processes',
      ],
      rows,
    },
  ];
  const targetRows = [
    [
      `heal catch-up ≥ ${rate(TARGET_MSGS_PER_S).replace('/s', '')} messages/s`,
      `${rate(transfer)} per subscriber from the first to the last backlog delivery, ${rate(overall)} counting from the heal (relink included); ${o.backlog} messages, ${complete ? 'none missing or duplicated' : 'NOT complete or not exact: see the table'}`,
      complete && transfer >= TARGET_MSGS_PER_S ? 'yes' : 'no',
    ],
  ];
  const notes: string[] = [
    ...(o.warmupBacklog > 0
      ? [
          `(b) Before round 1, one partition and heal not counted (a warm-up): ${o.warmupBacklog} messages on each of ${o.nodesPerRegion} channels, one mastered by each node of ${B}, so that every node there has run the catch-up (as master, replica and subscribers' node) and V8 has compiled it, as in a region that has been carrying forwarded traffic. In the three runs before it was added, the third round, the only one whose master and replica had had those roles before, was the fastest each time (1.4–1.8× the first).`,
        ]
      : []),
    `(b) Each round: ${o.subscribers} subscribers in ${B} (spread over ${o.nodesPerRegion} nodes) and one in ${A} on a fresh channel; 100 warm-up messages must reach ${B} first; then \`partition ${A} ${B}\` through the control endpoint, wait until both globalmasters report the link down (gRPC keepalive), publish the backlog from ${A}'s first node with at most ${o.maxInFlight} unacknowledged, and \`heal ${A} ${B}\`. Retention in this topology: ${o.backlog + 10_000} messages and 10 minutes per channel.`,
  ];
  for (const r of rounds) {
    notes.push(
      `(b) round ${r.round + 1}: publishing the backlog took ${((r.published.answeredUs - r.published.startUs) / 1e6).toFixed(1)} s with the nodes at ${Math.round(r.publishCpu.serverPct)} % of the server core (${busiest(r.publishCpu, r)}), other processes ${Math.round(r.publishCpu.otherPct)} %; the region link was reported down ${(r.linkDownMs / 1000).toFixed(1)} s after the partition.`,
    );
    if (r.deliveredDuringPartition) notes.push(`(b) round ${r.round + 1}: ${r.deliveredDuringPartition} backlog deliveries reached ${B} before the heal (the partition leaked?).`);
    if (!r.aCheck.done) notes.push(`(b) round ${r.round + 1}: the subscriber in ${A} itself had ${r.aCheck.have} of ${r.aCheck.want} backlog messages (${r.aCheck.why}).`);
    if (r.published.nacked || r.published.unanswered) notes.push(`(b) round ${r.round + 1}: ${r.published.nacked} publishes refused, ${r.published.unanswered} unanswered (${r.published.nackReasons.join('; ')}).`);
  }
  if (clientNotes.length) notes.push(`(b) Seen by the clients: ${clientNotes.slice(0, 8).join('; ')}.`);
  if (serverProblems.length) notes.push(`(b) Logged by the nodes: ${serverProblems.slice(0, 8).join('; ')}.`);
  const plots: Plot[] = [
    {
      file: 'heal-catchup.svg',
      title: 'Backlog deliveries after the heal',
      svg: lineChart({
        title: `Catch-up after a partition heals: ${o.backlog} messages, ${o.subscribers} subscribers in ${B}`,
        subtitle: `deliveries per second (all subscribers together), ${BIN_MS} ms bins, from the heal`,
        xLabel: 'seconds after the heal',
        yLabel: 'deliveries/s',
        series: rounds.map((r) => ({
          name: `round ${r.round + 1}`,
          points: (r.b.bins ?? []).map((n, i) => [((i + 1) * BIN_MS) / 1000, (n * 1000) / BIN_MS] as [number, number]),
        })),
      }),
    },
  ];
  return {
    tables,
    targetRows,
    notes,
    plots,
    figures: { options: o, targetMsgsPerS: TARGET_MSGS_PER_S, transferRateMedian: transfer, fromHealRateMedian: overall, complete, rounds },
  };
}
