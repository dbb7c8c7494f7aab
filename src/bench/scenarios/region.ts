/**
 * Scenario 3 of issue 7: one channel across a 3-node region. The publisher is on node
 * A, the channel's master on node B (a channel name the ring gives to B, checked against
 * B's own `GET /channels/{name}`), subscribers on node C (two thirds) and B (one third).
 * The fan-out ladder finds that layout's saturation; then every layout runs the same
 * loads, in the same run: half of that saturation, and a light load (a few messages/s,
 * no queue anywhere) that shows the path's own cost. Layouts: one node (no hop), the
 * region with every client on the master (the master still copies each batch to its
 * replica before broadcasting), publisher one hop from the master, subscribers one hop
 * from it, and the scenario's own A → B → C. Differences of light-load p50 give each
 * hop's cost; the bare mesh transport's hop (transport-hop.ts) is measured beside them.
 */
import { medians, type StepMedians } from '../channels-load.js';
import { measureFanout, type FanoutResult } from '../fanout.js';
import { addBurstFigures } from '../kernel-bursts.js';
import { Loadgen } from '../loadgen/driver.js';
import type { OpenResult, StepResult } from '../loadgen/protocol.js';
import { finiteMedian } from '../util.js';
import { meshHop } from '../transport-hop.js';
import { ms, num, pct, rate } from '../report/format.js';
import { barChart } from '../report/svg.js';
import { askMaster, channelMasteredBy, ringPlace, startRegion, type Region } from '../servers/ably-region.js';
import { serverById } from '../servers/index.js';
import type { RunningServer } from '../servers/server.js';
import { fanoutNotes, limitText } from './fanout-peers.js';
import { serverContext, type Scenario, type ScenarioContext, type ScenarioResult, type Table } from './scenario.js';

export interface RegionOptions {
  /** Subscribers of the one channel; each count is a separate set of measurements. */
  subscribers: number[];
  /** The light load: messages/s to `lightSubscribers` subscribers, low enough that nothing queues. */
  lightPublishPerS: number;
  lightSubscribers: number;
  lightStepMs: number;
  /** Steps per layout and load (medians are reported). */
  reps: number;
  /** The bare mesh transport (transport-hop.ts): round trips, and messages streamed. */
  hopRtts: number;
  hopMessages: number;
}

/** The issue's target: in-region p99 below this at half of saturation, across three nodes. */
const TARGET_P99_MS = 5;

type Role = 'A' | 'B' | 'C';

export interface Layout {
  id: string;
  label: string;
  /** Where the publisher and the subscribers connect ('one': the single-node deployment). */
  publisher: Role | 'one';
  subscribers: (Role | 'one')[];
  path: string;
}

export const LAYOUTS: readonly Layout[] = [
  { id: 'one-node', label: 'one node', publisher: 'one', subscribers: ['one'], path: 'publisher, master and subscribers on one node (no replica)' },
  { id: 'on-master', label: 'region, all on the master', publisher: 'B', subscribers: ['B'], path: 'B → B (replica copy first)' },
  { id: 'publish-hop', label: 'region, publisher one hop away', publisher: 'A', subscribers: ['B'], path: 'A → B → B' },
  { id: 'broadcast-hop', label: 'region, subscribers one hop away', publisher: 'B', subscribers: ['C'], path: 'B → C' },
  { id: 'a-b-c', label: 'region, A → B → C (scenario 3)', publisher: 'A', subscribers: ['C', 'C', 'B'], path: 'A → B → C (⅔), B (⅓)' },
];
const MAIN = 'a-b-c';
/**
 * Not ably-ng: nats-server (Go; several messages per WebSocket frame, as ours) at the
 * same load, with the same load generator. What the harness and this machine give a
 * server that is not ours: the floor under the target's p99.
 */
export const PEER: Layout = { id: 'nats', label: 'nats-server, same load (not ours)', publisher: 'one', subscribers: ['one'], path: 'publisher → nats-server → subscribers (one process)' };
const ORDER = [...LAYOUTS, PEER].map((l) => l.id);

interface LayoutFigures {
  layout: string;
  label: string;
  path: string;
  subscribe: OpenResult;
  /** At half of the main layout's saturation (deliveries/s). */
  half: StepMedians | null;
  /** Measured for the first subscriber count only (it does not depend on it). */
  light: StepMedians | null;
  lost: number;
  clientNotes: string[];
}

interface Point {
  subscribers: number;
  /** The main layout's ladder (saturation, half-saturation medians). */
  fanout: FanoutResult | null;
  halfDeliveriesPerS: number | null;
  layouts: LayoutFigures[];
}

/** Starts a Loadgen, runs `fn`, closes its connections and stops it by PID. */
async function withLoadgen<T>(ctx: ScenarioContext, fn: (lg: Loadgen) => Promise<T>): Promise<{ value: T; notes: string[] }> {
  const lg = await Loadgen.start(ctx.processes, ctx.cpus.loadgen);
  if (ctx.kernel) lg.watchKernel(ctx.kernel);
  try {
    const value = await fn(lg);
    const closed = await lg.closeAll(500).catch((e: Error) => ({ notes: [`closing connections: ${e.message}`] }));
    return { value, notes: closed.notes };
  } finally {
    await lg.stop();
  }
}

/**
 * One layout on a running server: the light load with `lightSubscribers` subscribers
 * (few, so that the path, not the fan-out, is what the latency shows), then, with the
 * rest of the `n` subscribers added, the half-saturation load (unless `halfRate` is
 * null). Each load starts with a short warm-up step that is not counted.
 */
async function measureLayout(ctx: ScenarioContext, server: RunningServer, layout: Layout, n: number, halfRate: number | null, light: boolean): Promise<LayoutFigures> {
  const o = ctx.profile.region;
  const f = ctx.profile.fanout;
  ctx.log(`region: ${layout.label} (${layout.path}), ${light ? `${o.lightSubscribers} then ` : ''}${n} subscribers`);
  const { value, notes } = await withLoadgen(ctx, async (lg) => {
    const subscribe = await lg.subscribe(server.target, Math.min(n, o.lightSubscribers), f.connectConcurrency);
    if (subscribe.opened === 0) throw new Error(`${layout.label}: no subscriber could subscribe (${subscribe.errors.join('; ')})`);
    await lg.publisher(server.target);
    const step = async (ratePerS: number, durationMs: number, counted = true) => {
      const s = await lg.step({ ratePerS, durationMs, drainMs: f.drainMs, quietMs: f.quietMs, settleMaxMs: f.settleMaxMs, serverPids: server.pids });
      if (counted) {
        ctx.log(
          `  ${s.publishPerS} msgs/s × ${s.subscribers} → ${s.deliveriesPerS}/s, p50 ${s.latency.p50Ms} ms, p99 ${s.latency.p99Ms} ms, server CPU ${s.serverCpuPct}% ` +
            `(its threads waited for the core ${s.serverWaitPct}% of the time, ${s.serverWaitPerRunUs} µs per run), ` +
            `loadgen ${s.loadgenCpuPct}% (its loop late by ${s.loadgenLagP99Ms} ms p99), other ${s.otherCpuPct}%${s.lost ? `, ${s.lost} late` : ''}`,
        );
      }
      return s;
    };
    const lightReps = [];
    if (light) {
      await step(o.lightPublishPerS, o.lightStepMs / 2, false);
      for (let i = 0; i < o.reps; i++) lightReps.push(await step(o.lightPublishPerS, o.lightStepMs));
    }
    let half: StepMedians | null = null;
    if (halfRate !== null) {
      const more = await lg.subscribe(server.target, n - subscribe.opened, f.connectConcurrency);
      subscribe.opened += more.opened;
      subscribe.failed += more.failed;
      subscribe.errors.push(...more.errors);
      const rate = halfRate / subscribe.opened;
      await step(rate, f.stepMs / 2, false);
      const reps = [];
      for (let i = 0; i < o.reps; i++) reps.push(await step(rate, f.stepMs));
      half = medians(reps);
    }
    const totals = await lg.totals(2000, f.settleMaxMs);
    return { subscribe, half, light: lightReps.length ? medians(lightReps) : null, lost: totals.missing };
  });
  return { layout: layout.id, label: layout.label, path: layout.path, ...value, clientNotes: notes };
}

/** The scenario's own layout: the fan-out ladder with `n` subscribers (saturation, then half of it). */
async function ladder(ctx: ScenarioContext, server: RunningServer, n: number): Promise<FanoutResult> {
  ctx.log(`region: fan-out ladder on ${server.label}, ${n} subscribers`);
  const { value, notes } = await withLoadgen(ctx, (lg) => measureFanout(server, lg, { ...ctx.profile.fanout, subscribers: n, overloadMs: 0 }, ctx.log));
  return { ...value, clientNotes: notes };
}

/** NACKs the clients saw, from their counted notes ("ably: NACK … ×12"). */
function nackCount(clientNotes: string[]): number {
  return clientNotes.filter((n) => n.startsWith('ably: NACK')).reduce((a, n) => a + Number(/×(\d+)$/.exec(n)?.[1] ?? 1), 0);
}

/** The roles on a region: its nodes in order (a one-node region's node plays them all). */
function rolesOf(region: Region): Record<Role, string> {
  const [a, b, c] = region.names.length === 3 ? region.names : [region.names[0], region.names[0], region.names[0]];
  return { A: a!, B: b!, C: c! };
}

/** The layouts' one channel: on a region of three, one whose master is B. */
function layoutChannel(region: Region): string {
  return region.names.length === 3 ? channelMasteredBy(region.names, rolesOf(region).B, 'region') : 'region-one';
}

/** A layout on a running region (three nodes; one for the one-node layout), as the load generator's server. */
export function regionServer(region: Region, layout: Layout): RunningServer {
  const roles = rolesOf(region);
  const channel = layoutChannel(region);
  const url = (r: Role | 'one') => region.node(r === 'one' ? region.names[0]! : roles[r]).wsUrl;
  return {
    id: `ably-ng-${region.names.length}n`,
    label: `ably-ng (${region.names.length === 1 ? '1 node' : `${region.names.length}-node region`}, ${layout.label})`,
    target: { protocol: 'ably', publisherUrl: url(layout.publisher), subscriberUrls: layout.subscribers.map(url), channel, key: region.deployment.key },
    pids: region.deployment.pids,
    problems: region.problems,
    stop: region.stop,
  };
}

/**
 * The kernel threads' bursts over the steps that report them, and the medians of the
 * p99 and the share of the deliveries that no burst overlapped.
 */
function kernelCell(reps: readonly StepResult[] | undefined): string {
  const k = (reps ?? []).flatMap((s) => (s.kernel ? [s.kernel] : []));
  if (!k.length) return '—';
  const b = addBurstFigures(k);
  const m = (f: (x: (typeof k)[number]) => number) => finiteMedian(k.map(f));
  return `${b.count}, ${b.runMs} ms, ${b.longestMs} ms; ${ms(m((x) => x.outside.p99Ms))} (${Math.round(m((x) => x.outside.share) * 100)} %)`;
}

export const regionScenario: Scenario = {
  id: 'region',
  title: 'One channel across a 3-node region: latency per mesh hop (scenario 3)',
  covers: '3',
  watchesKernel: true,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const o = ctx.profile.region;
    const notes: string[] = [];
    const points: Point[] = o.subscribers.map((n) => ({ subscribers: n, fanout: null, halfDeliveriesPerS: null, layouts: [] }));
    const problems: string[] = [];
    let placement: Record<string, unknown> = {};

    // The 3-node region: the main layout's ladder first, then the other region layouts.
    const region = await startRegion(serverContext(ctx, 'region-3n'), 3);
    try {
      const roles = rolesOf(region);
      const { A: a, B: b, C: c } = roles;
      const channel = layoutChannel(region);
      const ring = ringPlace(region.names, channel);
      placement = { channel, nodes: roles, ring };
      ctx.log(`region: channel "${channel}" is mastered by ${ring.master} (replica ${ring.replica}); publisher on ${a}, subscribers on ${c} and ${b}`);
      const main = LAYOUTS.find((l) => l.id === MAIN)!;
      for (const [i, p] of points.entries()) {
        p.fanout = await ladder(ctx, regionServer(region, main), p.subscribers);
        p.halfDeliveriesPerS = p.fanout.half ? p.fanout.saturationDeliveriesPerS / 2 : null;
        if (!('reported' in placement)) {
          // The ladder made the channel active (its master keeps the history): ask a node which one masters it.
          const said = await askMaster(region.node(a).httpUrl, region.deployment.key, channel).catch((e: Error) => ({ error: e.message }));
          placement = { ...placement, reported: said };
          if ('master' in said && said.master !== b) notes.push(`The node reported master ${said.master} for "${channel}", not ${b} as the ring says: the layouts' hop counts are off.`);
        }
        for (const l of LAYOUTS.filter((x) => x.publisher !== 'one')) {
          // The scenario's own layout has its half-saturation figures from the ladder; only
          // the light load (once) is left to measure on it.
          const own = l.id === MAIN;
          const m: LayoutFigures =
            own && i > 0
              ? { layout: l.id, label: l.label, path: l.path, subscribe: p.fanout.subscribe, half: null, light: null, lost: 0, clientNotes: [] }
              : await measureLayout(ctx, regionServer(region, l), l, p.subscribers, own ? null : p.halfDeliveriesPerS, i === 0);
          if (own && p.fanout.half) m.half = medians(p.fanout.half.reps);
          p.layouts.push(m);
        }
      }
      problems.push(...region.problems());
    } finally {
      await region.stop();
    }

    // The same loads on one node.
    const one = await startRegion(serverContext(ctx, 'region-1n'), 1);
    try {
      const l = LAYOUTS.find((x) => x.publisher === 'one')!;
      const server = regionServer(one, l);
      for (const [i, p] of points.entries()) p.layouts.unshift(await measureLayout(ctx, server, l, p.subscribers, p.halfDeliveriesPerS, i === 0));
      problems.push(...one.problems().map((x) => `one node: ${x}`));
    } finally {
      await one.stop();
    }

    // The same half-saturation load on nats-server: the floor the harness and the machine set.
    if (points.some((p) => p.halfDeliveriesPerS !== null)) {
      try {
        const peer = await serverById(PEER.id).start(serverContext(ctx, 'region-nats'));
        try {
          for (const p of points) if (p.halfDeliveriesPerS !== null) p.layouts.push(await measureLayout(ctx, peer, PEER, p.subscribers, p.halfDeliveriesPerS, false));
        } finally {
          await peer.stop();
        }
      } catch (e) {
        notes.push(`nats-server was not measured at the same load: ${(e as Error).message}.`);
      }
    }

    ctx.log(`region: bare mesh transport hop (transport-hop.ts --mesh-only, ${o.hopRtts} round trips, ${o.hopMessages} messages)`);
    const hop = await meshHop({ messages: o.hopMessages, rtts: o.hopRtts }).catch((e: Error) => {
      notes.push(`The bare mesh hop was not measured: ${e.message}.`);
      return null;
    });

    const tables: Table[] = [];
    const targetRows: (string | number)[][] = [];
    const bars = [];
    const order = (x: LayoutFigures, y: LayoutFigures) => ORDER.indexOf(x.layout) - ORDER.indexOf(y.layout);
    for (const p of points) p.layouts.sort(order);
    const first = new Map((points[0]?.layouts ?? []).map((l) => [l.layout, l]));
    const lightBase = first.get('one-node')?.light;
    const light = `${o.lightPublishPerS} messages/s to ${o.lightSubscribers} subscribers`;
    tables.push({
      title: `The path's own cost: ${light} (nothing queues), medians of ${o.reps} steps of ${o.lightStepMs / 1000} s`,
      header: ['layout', 'path (publisher → master → subscribers)', 'p50 (ms)', 'p99 (ms)', 'Δ p50 vs one node (ms)', 'server CPU (all nodes, % of a core)'],
      rows: [...first.values()].filter((l) => l.light).map((l) => [
        l.label,
        l.path,
        ms(l.light?.p50Ms),
        ms(l.light?.p99Ms),
        l.light && lightBase && l.layout !== 'one-node' ? num(l.light.p50Ms - lightBase.p50Ms, 3) : '—',
        pct(l.light?.serverCpuPct),
      ]),
    });
    const d = (x: string, y: string) => {
      const a = first.get(x)?.light?.p50Ms;
      const b = first.get(y)?.light?.p50Ms;
      return a !== undefined && b !== undefined ? num(a - b, 3) : '—';
    };
    tables.push({
      title: `Cost of each step of the path (differences of p50 at ${light})`,
      header: ['step', 'how', 'added p50 (ms)'],
      rows: [
        ['replica copy before broadcast, and three nodes sharing one core', 'region all on the master − one node', d('on-master', 'one-node')],
        ['publish hop (publisher\'s node → master)', 'publisher one hop away − all on the master', d('publish-hop', 'on-master')],
        ['broadcast hop (master → subscribers\' node)', 'subscribers one hop away − all on the master', d('broadcast-hop', 'on-master')],
        ['A → B → C against one node', 'scenario 3 − one node', d(MAIN, 'one-node')],
        ...(hop
          ? [
              [
                'bare mesh transport hop (two processes, no node)',
                `transport-hop.ts --mesh-only: round trip p50 ${(hop.corked.rttP50Us / 1000).toFixed(3)} ms (p99 ${(hop.corked.rttP99Us / 1000).toFixed(3)} ms) ÷ 2; ${rate(hop.corked.streamMsgsPerS)} messages streamed`,
                num(hop.corked.hopP50Us / 1000, 3),
              ],
            ]
          : []),
      ],
    });
    for (const p of points) {
      const byId = new Map(p.layouts.map((l) => [l.layout, l]));
      const base = byId.get('one-node');
      const peer = byId.get(PEER.id)?.half;
      tables.push({
        title: `One channel, ${p.subscribers} subscribers, the same load on every layout: half of the A → B → C saturation (${rate(p.halfDeliveriesPerS)} deliveries), medians of ${o.reps} steps`,
        header: [
          'layout',
          'path (publisher → master → subscribers)',
          'p50 (ms)',
          'p99 (ms)',
          'server CPU (all nodes, % of a core)',
          'server CPU µs per delivery',
          'server threads waiting for the core: % of the time (summed), µs per run',
          'load generator: CPU, and its event loop late by (p99, ms)',
          "kernel threads' bursts in the steps: count, CPU, longest; p99 of the deliveries none overlapped (ms, share)",
        ],
        rows: p.layouts.map((l) => [
          l.label,
          l.path,
          ms(l.half?.p50Ms),
          ms(l.half?.p99Ms),
          pct(l.half?.serverCpuPct),
          num(l.half?.serverCpuUsPerDelivery, 2),
          l.half ? `${pct(l.half.serverWaitPct)}, ${num(l.half.serverWaitPerRunUs, 0)}` : '—',
          l.half ? `${pct(l.half.loadgenCpuPct)}, ${ms(l.half.loadgenLagP99Ms)}` : '—',
          kernelCell(l.half?.reps),
        ]),
      });
      const main = byId.get(MAIN);
      const f = p.fanout;
      if (f) {
        const p99 = f.half?.p99Ms;
        targetRows.push([
          `in-region p99 < ${TARGET_P99_MS} ms at half of saturation across three nodes (${p.subscribers} subscribers)`,
          `p99 ${ms(p99)} ms (p50 ${ms(f.half?.p50Ms)}) at ${rate(f.half?.deliveriesPerS)}; saturation ${rate(f.saturationDeliveriesPerS)} (${limitText(f)}); kernel threads' bursts in the steps, and the p99 of the deliveries none overlapped: ${kernelCell(f.half?.reps)}`,
          `one node at the same load: p99 ${ms(base?.half?.p99Ms)} ms (p50 ${ms(base?.half?.p50Ms)})` +
            (peer ? `; nats-server at the same load: p99 ${ms(peer.p99Ms)} ms (p50 ${ms(peer.p50Ms)})` : ''),
          p99 === undefined ? 'not measured' : p99 < TARGET_P99_MS ? 'yes' : 'no',
        ]);
        notes.push(...fanoutNotes(f).map((t) => `${p.subscribers} subscribers: ${t}`));
        const nacks = nackCount(f.clientNotes);
        if (f.totals.missing && nacks) {
          notes.push(
            `${p.subscribers} subscribers: the publisher got ${nacks} NACKs; a NACK that arrives after its step was counted is not taken off what that step expected, ` +
              `so up to ${nacks * p.subscribers} of the ${f.totals.missing} deliveries counted as never arrived are of refused messages, not lost ones.`,
          );
        }
      }
      for (const l of p.layouts) {
        if (l.lost) notes.push(`${p.subscribers} subscribers, ${l.label}: ${l.lost} deliveries never arrived.`);
        if (l.clientNotes.length) notes.push(`${p.subscribers} subscribers, ${l.label}, seen by the clients: ${l.clientNotes.slice(0, 4).join('; ')}.`);
        bars.push({ label: `${l.label.replace('region, ', '')} (${p.subscribers})`, value: l.half?.p99Ms ?? NaN, text: `${ms(l.half?.p99Ms)} ms`, highlight: l.layout === MAIN });
      }
      if (main && !main.half) notes.push(`${p.subscribers} subscribers: the ladder found no saturation, so no half-saturation load was run.`);
    }
    tables.push({ title: 'Target of issue 7 (in-region latency)', header: ['target', 'ably-ng', 'same load, same run', 'met'], rows: targetRows });
    notes.push(
      'Every node of a deployment is pinned to the same core (CPU 0) and the load generator to the other, so a region of three nodes has one core in all: ' +
        'a hop is a loopback TCP write plus a context switch between node processes on that core, and the region\'s saturation is that of one core shared by three nodes.',
      `Light load: ${light}, so that the path and not the fan-out shows; half-saturation load: half of the A → B → C layout's saturation deliveries/s, the same rate on every layout.`,
      `Kernel threads' bursts (src/bench/kernel-bursts.ts, as in the cross-region scenario): while one runs, whatever waits for its core is late; "none overlapped" keeps the deliveries whose flight, send to arrival, overlapped no burst. The target is judged on all deliveries.`,
    );
    if (problems.length) notes.push(`Logged by the nodes while measured: ${problems.slice(0, 6).join('; ')}.`);
    return {
      id: this.id,
      title: this.title,
      figures: { placement, lightPublishPerS: o.lightPublishPerS, points, meshHop: hop },
      tables,
      plots: bars.length
        ? [
            {
              file: 'region-p99.svg',
              title: 'p99 by layout at half of the 3-node saturation',
              svg: barChart({
                title: 'p99 at half of the A → B → C saturation, by layout (ms)',
                subtitle: `same deliveries/s on every layout; issue 7 target: < ${TARGET_P99_MS} ms across three nodes; (n) = subscribers`,
                bars,
              }),
            },
          ]
        : [],
      notes,
    };
  },
};
