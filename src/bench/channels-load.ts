/**
 * The many-channel measurement shared by scenario 4 (10,000 channels on a 3-node region)
 * and the channel and node axes of scenario 8: a region of N nodes; subscriber
 * connections spread over its nodes, each attaching many channels, so that every channel
 * has a few subscribers on different nodes; one publisher per node, publishing round
 * robin over every channel. Steps up the total publish rate (a ladder) until deliveries
 * fall behind, are lost, or p99 passes the limit; then steps at half the saturation rate
 * and at a fixed rate (the same for every point of scenario 8); resident memory of every
 * node idle, with everything attached, after the load, and after closing. Each point is
 * measured once per run and reused (scenario 8 reuses scenario 4's).
 */
import { ChannelsLoadgen } from './loadgen/channels-driver.js';
import type { ChannelsOpenResult, ChannelsPlan } from './loadgen/channels-protocol.js';
import { loadgenBound, type StepResult, type Totals } from './loadgen/protocol.js';
import { cpuSecondsOf, QUIET_THRESHOLD_PCT, waitForQuiet } from './proc.js';
import type { ScenarioContext } from './scenarios/scenario.js';
import { serverContext } from './scenarios/scenario.js';
import { channelCounts, rssPerNode, startRegion, type Region } from './servers/ably-region.js';
import { finiteMedian, sleep } from './util.js';

export interface ChannelsOptions {
  channels: number;
  subscribersPerChannel: number;
  /** Channels a subscriber connection attaches (about): connections = channels × subscribersPerChannel ÷ this. */
  channelsPerConnection: number;
  /** Publisher connections per node. */
  publishersPerNode: number;
  /** Connection handshakes (with their attaches) in flight at once. */
  concurrency: number;
  /** Total publish rate of the ladder's first step (messages/s over all channels). */
  startPublishPerS: number;
  /**
   * Before the ladder, one message on every channel at this rate (at most one second's
   * worth of channels): a channel's first message makes its master copy the whole state
   * to the replica, so a ladder over cold channels would measure that and not publishing.
   */
  warmPublishPerS: number;
  stepFactor: number;
  maxSteps: number;
  stepMs: number;
  drainMs: number;
  quietMs: number;
  settleMaxMs: number;
  /** p99 above this is past saturation (ms). */
  p99LimitMs: number;
  /** Delivered below this share of what was offered: the region fell behind. */
  keepUpShare: number;
  /** Deliveries/s must grow by this factor from step to step to count as growing. */
  minGrowth: number;
  /** A failed ladder step runs again this many times (the machine is shared). */
  retriesPerStep: number;
  /** Steps at half of saturation (medians reported). */
  halfReps: number;
  /** Steps at a fixed publish rate, the same for every point of a scale axis (medians). */
  fixedPublishPerS: number;
  fixedReps: number;
  /** Wait before reading memory, so allocation settles. */
  rssSettleMs: number;
  /**
   * After everything is attached and RSS read: how long the nodes' CPU is read with nothing
   * published (what holding the channels costs: the periodic audits, retention, timers),
   * once what the attaches set off has settled.
   */
  idleCpuMs: number;
  /** Before the ladder, wait up to this long for other processes to use less than 40 % of a core. */
  quietWaitMs: number;
}

export type ChannelsLimit = 'p99' | 'loss' | 'disconnects' | 'fell-behind' | 'plateau' | 'max-steps';

export interface StepMedians {
  publishPerS: number;
  deliveriesPerS: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuPct: number;
  serverCpuUsPerDelivery: number;
  loadgenCpuPct: number;
  /** The load generator's own event-loop lateness, p99 (StepResult.loadgenLagP99Ms). */
  loadgenLagP99Ms: number;
  /** The servers' threads' wait for a core (StepResult.serverWaitPct, serverWaitPerRunUs). */
  serverWaitPct: number;
  serverWaitPerRunUs: number;
  lost: number;
  reps: StepResult[];
}

export interface ChannelsResult {
  nodes: number;
  channels: number;
  subscribersPerChannel: number;
  connections: number;
  publishers: number;
  open: ChannelsOpenResult;
  /** Per node: RSS with no client, with every channel attached, after the load, after closing everything. */
  rss: { idle: Record<string, number>; attached: Record<string, number>; afterLoad: Record<string, number>; afterClose: Record<string, number> };
  /** Per node, after the load: channels mastered, replicas held, channels with local subscribers. */
  placement: Record<string, { mastered: number; replicas: number; channels: number }>;
  /** Server CPU (all nodes, % of one core) with everything attached and nothing published. */
  idleCpuPct: number;
  /** The warm-up before the ladder: exactly one message on every channel, the first of each. */
  firstMessages: StepResult;
  ladder: StepResult[];
  saturationDeliveriesPerS: number;
  saturationStep: StepResult | null;
  limitedBy: ChannelsLimit;
  /** The load generator's core was (nearly) full at saturation. */
  loadgenBound: boolean;
  half: StepMedians | null;
  fixed: StepMedians | null;
  totals: Totals;
  clientNotes: string[];
  serverProblems: string[];
}

/** A failed step taken while other processes used more than this (% of a core) runs again after quiet… */
const NOISY_OTHER_CPU_PCT = 40;
/** …this many times per ladder. */
const NOISY_RETRIES = 3;
/** How many times the ladder may go down from its first rate to find one the region handles. */
const MAX_DOWN_STEPS = 2;
/** Before the final count, nothing may arrive for this long. */
const FINAL_QUIET_MS = 2000;

const cache = new Map<string, ChannelsResult>();

/** Limits for a subscriber connection holding many channels (Ably's default is 200 per connection). */
export function channelsLimits(o: ChannelsOptions): Record<string, number> {
  return { maxChannelsPerConnection: Math.max(200, 2 * o.channelsPerConnection) };
}

/** The plan's connection count: enough for channelsPerConnection, a multiple of the node count. */
export function connectionsFor(o: ChannelsOptions, nodes: number): number {
  const raw = Math.ceil((o.channels * o.subscribersPerChannel) / o.channelsPerConnection);
  return Math.max(nodes, Math.ceil(raw / nodes) * nodes);
}

/** Medians of repeated steps at one rate. */
export function medians(reps: StepResult[]): StepMedians {
  const m = (f: (s: StepResult) => number) => finiteMedian(reps.map(f));
  return {
    publishPerS: Math.round(m((s) => s.publishPerS)),
    deliveriesPerS: Math.round(m((s) => s.deliveriesPerS)),
    p50Ms: m((s) => s.latency.p50Ms),
    p99Ms: m((s) => s.latency.p99Ms),
    serverCpuPct: m((s) => s.serverCpuPct),
    serverCpuUsPerDelivery: m((s) => s.serverCpuUsPerDelivery),
    loadgenCpuPct: m((s) => s.loadgenCpuPct),
    loadgenLagP99Ms: m((s) => s.loadgenLagP99Ms),
    serverWaitPct: m((s) => s.serverWaitPct),
    serverWaitPerRunUs: m((s) => s.serverWaitPerRunUs),
    lost: reps.reduce((a, s) => a + s.lost, 0),
    reps,
  };
}

function describe(s: StepResult): string {
  return (
    `${s.publishPerS} msgs/s → ${s.deliveriesPerS} deliveries/s (offered ${s.offeredDeliveriesPerS}), p50 ${s.latency.p50Ms} ms, p99 ${s.latency.p99Ms} ms, ` +
    `${s.lost ? `${s.lost} not delivered in time, ` : ''}${s.rejected ? `${s.rejected} NACKed, ` : ''}${s.outOfOrder ? `${s.outOfOrder} out of order, ` : ''}server CPU ${s.serverCpuPct}%, loadgen ${s.loadgenCpuPct}%, other ${s.otherCpuPct}%`
  );
}

/** Measures (or returns this run's earlier figure for) `channels` channels on a region of `nodes` nodes. */
export async function channelsOn(ctx: ScenarioContext, nodes: number, o: ChannelsOptions): Promise<ChannelsResult> {
  const key = `${nodes}:${o.channels}:${o.subscribersPerChannel}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = await measure(ctx, nodes, o);
  cache.set(key, r);
  return r;
}

async function measure(ctx: ScenarioContext, nodes: number, o: ChannelsOptions): Promise<ChannelsResult> {
  const log = ctx.log;
  log(`channels: ${o.channels} channels × ${o.subscribersPerChannel} subscribers on a ${nodes}-node region`);
  const region = await startRegion(serverContext(ctx, `channels-${nodes}n-${o.channels}`), nodes, channelsLimits(o));
  let loadgen: ChannelsLoadgen | null = null;
  try {
    loadgen = await ChannelsLoadgen.start(ctx.processes, ctx.cpus.loadgen);
    const result = await run(ctx, region, loadgen, nodes, o);
    // Read before the nodes stop: what they log while stopping (peers leaving) is not a problem.
    result.serverProblems = region.problems();
    return result;
  } finally {
    await loadgen?.stop();
    await region.stop();
  }
}

async function run(ctx: ScenarioContext, region: Region, loadgen: ChannelsLoadgen, nodes: number, o: ChannelsOptions): Promise<ChannelsResult> {
  const log = ctx.log;
  const pids = region.deployment.pids;
  const plan: ChannelsPlan = {
    urls: region.names.map((n) => region.node(n).wsUrl),
    key: region.deployment.key,
    channels: Array.from({ length: o.channels }, (_, i) => `ch-${i}`),
    subscribersPerChannel: o.subscribersPerChannel,
    connections: connectionsFor(o, nodes),
    publishers: o.publishersPerNode * nodes,
    concurrency: o.concurrency,
  };
  await sleep(o.rssSettleMs);
  const idle = rssPerNode(region);
  const open = await loadgen.open(plan);
  log(
    `  ${open.opened}/${plan.connections} connections, ${open.subscriptions} attachments (${open.subscriptionsFailed} failed) in ${open.ms} ms ` +
      `(${open.attachesPerS} attaches/s)${open.errors.length ? `: ${open.errors.slice(0, 3).join('; ')}` : ''}`,
  );
  if (open.subscriptions === 0) throw new Error(`no channel could be attached (${open.errors.join('; ')})`);
  await sleep(o.rssSettleMs);
  const attached = rssPerNode(region);
  // CPU while nothing is published: what holding the channels and connections costs.
  const cpu0 = cpuSecondsOf(pids);
  const t0 = performance.now();
  await sleep(o.idleCpuMs);
  const idleCpuPct = (100 * (cpuSecondsOf(pids) - cpu0)) / ((performance.now() - t0) / 1000);
  log(`  idle with everything attached: server CPU ${idleCpuPct.toFixed(0)} % of a core; RSS ${Object.values(attached).map((b) => (b / 1048576).toFixed(0)).join(' / ')} MB`);

  const own = [...pids, loadgen.pid, process.pid];
  const q = await waitForQuiet(own, QUIET_THRESHOLD_PCT, o.quietWaitMs);
  if (q.waitedMs > 1000) log(`  waited ${(q.waitedMs / 1000).toFixed(0)} s for other processes to calm down (now ${q.otherPct} % of a core)`);
  const step = async (publishPerS: number, durationMs = o.stepMs): Promise<StepResult> => {
    const s = await loadgen.step({ publishPerS, durationMs, drainMs: o.drainMs, quietMs: o.quietMs, settleMaxMs: o.settleMaxMs, serverPids: pids });
    log(`  ${describe(s)}`);
    return s;
  };
  const good = (s: StepResult) => s.lost === 0 && s.disconnects === 0 && s.received > 0 && s.latency.p99Ms <= o.p99LimitMs;
  const keepsUp = (s: StepResult) => good(s) && s.deliveriesPerS >= o.keepUpShare * s.offeredDeliveriesPerS;

  // The warm-up, not counted: the first message on every channel (the publishers go round
  // robin, so this many messages touch each channel once), which also pays for JIT compilation.
  const warmRate = Math.min(o.warmPublishPerS, o.channels);
  log(`  warm-up: the first message on each of the ${o.channels} channels, ${warmRate} msgs/s`);
  const firstMessages = await step(warmRate, (1000 * o.channels) / warmRate);
  const ladder: StepResult[] = [];
  let best: StepResult | null = null;
  let prev: StepResult | null = null;
  let limitedBy: ChannelsLimit = 'max-steps';
  let rate = o.startPublishPerS;
  let downSteps = 0;
  let noisyRetries = NOISY_RETRIES;
  for (let i = 0; i < o.maxSteps; i++) {
    let s = await step(rate);
    ladder.push(s);
    // The machine is shared: a failed step runs again, after waiting for quiet when other
    // processes took much of a core meanwhile (that retry does not count against retriesPerStep).
    for (let t = 0; t < o.retriesPerStep && !keepsUp(s); ) {
      if (s.otherCpuPct > NOISY_OTHER_CPU_PCT && noisyRetries > 0) {
        noisyRetries--;
        log(`  (again: other processes took ${Math.round(s.otherCpuPct)} % of a core)`);
        await waitForQuiet(own, QUIET_THRESHOLD_PCT, o.quietWaitMs);
      } else {
        t++;
        log('  (again)');
      }
      const again = await step(rate);
      ladder.push(again);
      if (keepsUp(again) || again.latency.p99Ms < s.latency.p99Ms) s = again;
    }
    if (!best && !keepsUp(s) && downSteps < MAX_DOWN_STEPS) {
      // Nothing good yet: find a rate the region handles, going down.
      downSteps++;
      rate /= o.stepFactor;
      log('  (a lower rate first)');
      continue;
    }
    if (keepsUp(s) && (!best || s.deliveriesPerS > best.deliveriesPerS)) best = s;
    if (!keepsUp(s)) {
      limitedBy = s.disconnects > 0 ? 'disconnects' : s.lost > 0 || s.received === 0 ? 'loss' : s.latency.p99Ms > o.p99LimitMs ? 'p99' : 'fell-behind';
      break;
    }
    if (prev && s.deliveriesPerS < o.minGrowth * prev.deliveriesPerS) {
      limitedBy = 'plateau';
      break;
    }
    prev = s;
    rate *= o.stepFactor;
  }
  const sat = best?.deliveriesPerS ?? 0;
  let half: StepMedians | null = null;
  if (best) {
    const reps: StepResult[] = [];
    for (let i = 0; i < o.halfReps; i++) reps.push(await step(best.publishPerS / 2));
    half = medians(reps);
  }
  let fixed: StepMedians | null = null;
  if (o.fixedReps > 0) {
    log(`  fixed load: ${o.fixedPublishPerS} msgs/s`);
    const reps: StepResult[] = [];
    for (let i = 0; i < o.fixedReps; i++) reps.push(await step(o.fixedPublishPerS));
    fixed = medians(reps);
  }
  const totals = await loadgen.totals(FINAL_QUIET_MS, o.settleMaxMs);
  if (totals.missing) log(`  ${totals.missing} of ${totals.expected} deliveries never arrived (after a final wait of ${totals.settleMs} ms)`);
  // After the load: a replica exists once its master has replicated something.
  const placement = await channelCounts(region);
  await sleep(o.rssSettleMs);
  const afterLoad = rssPerNode(region);
  const closed = await loadgen.closeAll(o.concurrency, plan.connections * 20);
  await sleep(o.rssSettleMs);
  const afterClose = rssPerNode(region);
  return {
    nodes,
    channels: o.channels,
    subscribersPerChannel: o.subscribersPerChannel,
    connections: plan.connections,
    publishers: plan.publishers,
    open,
    rss: { idle, attached, afterLoad, afterClose },
    placement,
    idleCpuPct: Math.round(idleCpuPct * 10) / 10,
    firstMessages,
    ladder,
    saturationDeliveriesPerS: sat,
    saturationStep: best,
    limitedBy,
    loadgenBound: loadgenBound(ladder, sat),
    half,
    fixed,
    totals,
    clientNotes: closed.notes,
    serverProblems: [],
  };
}

/** Sum of a per-node record. */
export function total(byNode: Record<string, number>): number {
  return Object.values(byNode).reduce((a, b) => a + b, 0);
}

export function limitText(r: ChannelsResult): string {
  const why: Record<ChannelsLimit, string> = {
    p99: 'p99 over the limit',
    loss: 'deliveries missed the drain window',
    disconnects: 'subscribers were disconnected',
    'fell-behind': 'fell behind the offered rate',
    plateau: 'deliveries/s stopped growing',
    'max-steps': 'last ladder step reached',
  };
  return `${why[r.limitedBy]}${r.loadgenBound ? ' (load generator core full)' : ''}`;
}
