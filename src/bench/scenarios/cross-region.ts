/**
 * Scenario 6 of issue 7: latency across regions. Two regions of real nodes; the
 * publisher on a node of region A ("eu"), a group of subscribers on region B's nodes
 * ("us", the remote group) and a control group on region A's nodes, all on one channel,
 * at a modest fixed rate. The link between the regions goes through the fault proxy the
 * Supervisor puts on every region link; the run measures, in turns (A B B A …), with no
 * added delay and with a one-way delay of `addedDelayMs` set on that link in both
 * directions through the chaos control endpoint (`ably-ng chaos latency eu us 40`).
 * Reported per condition and group: publish → deliver p50/p99/max (median over rounds),
 * the remote group's figures minus the added delay, loss and duplicates. Target from the
 * issue: remote p99 < added delay + 5 ms.
 */
import { addBurstFigures, burstFigures, mergeWindows, PROMOTE_MS, READ_MS, SCAN_MS, type BurstFigures } from '../kernel-bursts.js';
import { nowUs } from '../payload.js';
import type { GroupSummary, WaitResult } from '../probe/protocol.js';
import { ms } from '../report/format.js';
import { barChart } from '../report/svg.js';
import { channelPlacement, httpUrl, setLinkLatency, waitForLinks } from '../servers/ably-ops.js';
import { QUIET_THRESHOLD_PCT, waitForQuiet } from '../proc.js';
import { finiteMedian, median, sleep } from '../util.js';
import { CpuWindow, type CpuFigures } from './cpu-window.js';
import { regionUrls, withProbe } from './probe-session.js';
import { ProxyGauge, type GaugeFigures } from './proxy-gauge.js';
import type { Scenario, ScenarioContext, ScenarioResult, Table } from './scenario.js';

export interface CrossRegionOptions {
  nodesPerRegion: number;
  /** Subscribers in each group (remote, local). */
  subscribersPerGroup: number;
  /** Messages per second from the one publisher. */
  ratePerS: number;
  /** Publishing time per condition per round (ms). */
  measureMs: number;
  /** Each round measures both conditions (order alternating). */
  rounds: number;
  /** The one-way delay added on the region link, each direction (ms). */
  addedDelayMs: number;
  /** Wait after changing the link's delay before measuring (ms). */
  settleMs: number;
  /** Before each measurement, wait at most this long for other processes to use < 40 % of a core (ms). */
  quietWaitMs: number;
}

/** Target of issue 7: remote p99 under the added delay plus this (ms). */
const TARGET_OVER_DELAY_MS = 5;
const A = 'eu';
const B = 'us';
const CHANNEL_NAME = 'cross-region';
/**
 * The warm-up before the first measurement (interest reaches the publisher's region,
 * forwarding starts, V8 compiles every node's hot path): rounds of WARMUP_BURST_MS at
 * WARMUP_RATE_FACTOR × the measured rate, each followed by WARMUP_CHECK_MS at the
 * measured rate whose nodes' CPU is read. It ends when a check is no lower than every
 * check before it (at least WARMUP_MIN_ROUNDS rounds, at most WARMUP_MAX_ROUNDS). Ending
 * at 90 % of the lowest instead stopped runs that were still falling by a tenth a round
 * (78 → 67 → 55 → 50 %). With a fixed 4 s at 10× the nodes' CPU at the measured rate still
 * fell through the measured rounds, 63–77 % → 34–48 % of a core over a quick run's four,
 * with p99 falling with it; after 20 s at 10× the first round was already at 32 %.
 * Idling 16 s before the 4 s did not help, nor did 20,000 messages in 4 s: V8's compiler
 * threads, which share the one core with the nodes, need time under load. The bursts
 * themselves run the core full, so their own CPU says nothing. At least three rounds: a
 * first check can come out low by chance (47 % → 52 % stopped a run after two, and its
 * measured rounds then fell from 56 % to 38 %).
 */
const WARMUP_BURST_MS = 2000;
const WARMUP_CHECK_MS = 2000;
const WARMUP_RATE_FACTOR = 10;
const WARMUP_MIN_ROUNDS = 3;
const WARMUP_MAX_ROUNDS = 8;
/** How long a measurement may wait for its deliveries after publishing (ms). */
const DRAIN_MS = 5000;

type Group = 'remote' | 'local';

interface Sample {
  round: number;
  delayMs: number;
  group: Group;
  summary: GroupSummary;
  cpu: CpuFigures;
  /** A second fault proxy with the same delay, in the same process at the same time. */
  proxyAlone: GaugeFigures;
  /** Its p99 over the transits no kernel thread's burst overlapped. */
  proxyOutsideP99Ms: number;
  /** Kernel threads' bursts from the first publish to the last delivery (kernel-bursts.ts). */
  kernel: BurstFigures;
}

export const crossRegionScenario: Scenario = {
  id: 'cross-region',
  title: 'Cross-region latency, with and without 40 ms on the region link (scenario 6)',
  covers: '6',
  // Started with the scenario, so that the kernel threads that run in bursts are found before the rounds.
  watchesKernel: true,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const o = ctx.profile.crossRegion;
    const watch = ctx.kernel;
    if (!watch) throw new Error('cross-region: run it with runScenario (it watches the kernel threads)');
    const session = await withProbe(
      ctx,
      'cross-region',
      { regions: [{ name: A, nodes: o.nodesPerRegion }, { name: B, nodes: o.nodesPerRegion }] },
      async (d, probe) => {
        ctx.log(`cross-region: ${o.nodesPerRegion} + ${o.nodesPerRegion} nodes; waiting for the region link`);
        const linkUpMs = await waitForLinks(d, 'up', 30_000);
        const remote = await probe.subscribe('remote', regionUrls(d, B), o.subscribersPerGroup, CHANNEL_NAME, d.key);
        const local = await probe.subscribe('local', regionUrls(d, A), o.subscribersPerGroup, CHANNEL_NAME, d.key);
        const pubNode = d.nodes.find((n) => n.region === A)!;
        await probe.publisher('pub', pubNode.wsUrl, CHANNEL_NAME, d.key);
        // Warm-up: the remote region's interest reaches the publisher's region, forwarding
        // starts, and the nodes' hot paths get compiled.
        const warmCpu: number[] = [];
        let warmRemote: WaitResult | null = null;
        const publishAll = async (ratePerS: number, durationMs: number) => {
          const p = await probe.publish('pub', { ratePerS, durationMs });
          const remoteWait = await probe.waitFor('remote', p.fromSeq, p.toSeq, 15_000, 10_000);
          if (!warmRemote || remoteWait.why !== 'complete') warmRemote = remoteWait;
          await probe.waitFor('local', p.fromSeq, p.toSeq, DRAIN_MS, DRAIN_MS);
        };
        while (warmCpu.length < WARMUP_MAX_ROUNDS) {
          await publishAll(o.ratePerS * WARMUP_RATE_FACTOR, WARMUP_BURST_MS);
          const window = CpuWindow.start(d.nodes, [process.pid, probe.pid]);
          await publishAll(o.ratePerS, WARMUP_CHECK_MS);
          const cpu = window.end().serverPct;
          const lowest = Math.min(...warmCpu);
          warmCpu.push(cpu);
          if (warmCpu.length >= WARMUP_MIN_ROUNDS && cpu >= lowest) break;
        }
        ctx.log(`  warm-up: ${warmCpu.length} rounds; nodes' CPU at ${o.ratePerS} msgs/s after each ${warmCpu.map((c) => `${Math.round(c)} %`).join(' → ')}`);
        const placement = {
          [A]: await channelPlacement(httpUrl(pubNode), d.key, CHANNEL_NAME).catch(() => null),
          [B]: await channelPlacement(httpUrl(d.nodes.find((n) => n.region === B)!), d.key, CHANNEL_NAME).catch(() => null),
        };
        // What the six idle nodes cost (heartbeats, keepalives), for scale.
        const idleWindow = CpuWindow.start(d.nodes, [process.pid, probe.pid]);
        await sleep(2000);
        const idleCpu = idleWindow.end();
        const samples: Sample[] = [];
        let kernelThreads: string[] = [];
        for (let round = 0; round < o.rounds; round++) {
          const order = round % 2 === 0 ? [0, o.addedDelayMs] : [o.addedDelayMs, 0];
          for (const delayMs of order) {
            await setLinkLatency(d, A, B, delayMs);
            await sleep(o.settleMs);
            await waitForQuiet([...d.pids, process.pid, probe.pid], QUIET_THRESHOLD_PCT, o.quietWaitMs);
            const t0 = nowUs();
            const window = CpuWindow.start(d.nodes, [process.pid, probe.pid]);
            const gauge = await ProxyGauge.start(delayMs);
            const pub = await probe.publish('pub', { ratePerS: o.ratePerS, durationMs: o.measureMs });
            const proxyAlone = await gauge.stop(delayMs);
            for (const group of ['remote', 'local'] as const) await probe.waitFor(group, pub.fromSeq, pub.toSeq, DRAIN_MS, DRAIN_MS);
            const cpu = window.end();
            const { bursts, threads } = await watch.take(t0, nowUs());
            kernelThreads = threads;
            const kernel = burstFigures(bursts);
            const exclude = mergeWindows(bursts);
            const proxyOutsideP99Ms = gauge.outside(exclude).p99Ms;
            for (const group of ['remote', 'local'] as const) {
              samples.push({ round, delayMs, group, cpu, proxyAlone, proxyOutsideP99Ms, kernel, summary: await probe.summary(group, { fromSeq: pub.fromSeq, toSeq: pub.toSeq, exclude }) });
            }
            const r = samples.filter((s) => s.round === round && s.delayMs === delayMs);
            ctx.log(
              `  round ${round + 1}, +${delayMs} ms: ${r.map((s) => `${s.group} p50 ${ms(s.summary.p50Ms)} p99 ${ms(s.summary.p99Ms)} ms (${ms(s.summary.outside?.p99Ms)} outside kernel bursts)`).join(', ')} (kernel threads: ${kernel.count} bursts, ${kernel.runMs} ms, longest ${kernel.longestMs}; proxy alone p99 ${ms(proxyAlone.p99Ms)} ms; ${((nowUs() - t0) / 1e6).toFixed(1)} s; nodes ${Math.round(cpu.serverPct)} %, other processes ${Math.round(cpu.otherPct)} % of a core)`,
            );
          }
        }
        await setLinkLatency(d, A, B, 0);
        return { linkUpMs, remote, local, warmCpu, warmRemote: warmRemote!, placement, samples, idleCpu, kernelThreads };
      },
    );
    const v = session.value;
    const cell = (delayMs: number, group: Group) => {
      const mine = v.samples.filter((s) => s.delayMs === delayMs && s.group === group);
      const ss = mine.map((s) => s.summary);
      const sum = (f: (s: GroupSummary) => number) => ss.reduce((a, s) => a + f(s), 0);
      return {
        p50Ms: median(ss.map((s) => s.p50Ms)),
        p99Ms: median(ss.map((s) => s.p99Ms)),
        maxMs: Math.max(...ss.map((s) => s.maxMs)),
        roundsP99Ms: ss.map((s) => s.p99Ms),
        deliveries: sum((s) => s.delivered),
        expected: sum((s) => s.expected),
        missing: sum((s) => s.missing),
        duplicates: sum((s) => s.duplicates),
        outOfOrder: sum((s) => s.outOfOrder),
        subscribers: ss[0]?.subscribers ?? 0,
        proxyP50Ms: median(mine.map((s) => s.proxyAlone.p50Ms)),
        proxyP99Ms: median(mine.map((s) => s.proxyAlone.p99Ms)),
        proxyOutsideP99Ms: finiteMedian(mine.map((s) => s.proxyOutsideP99Ms)),
        serverCpuPct: median(mine.map((s) => s.cpu.serverPct)),
        otherCpuPct: median(mine.map((s) => s.cpu.otherPct)),
        kernel: addBurstFigures(mine.map((s) => s.kernel)),
        outside: {
          share: finiteMedian(ss.map((s) => s.outside?.share)),
          p50Ms: finiteMedian(ss.map((s) => s.outside?.p50Ms)),
          p99Ms: finiteMedian(ss.map((s) => s.outside?.p99Ms)),
        },
      };
    };
    const added = o.addedDelayMs;
    const grid = {
      none: { remote: cell(0, 'remote'), local: cell(0, 'local') },
      delayed: { remote: cell(added, 'remote'), local: cell(added, 'local') },
    };
    const overP99 = grid.delayed.remote.p99Ms - added;
    const outsideOverP99 = grid.delayed.remote.outside.p99Ms - added;
    const met = Number.isFinite(overP99) && overP99 < TARGET_OVER_DELAY_MS;
    const rows: (string | number)[][] = [];
    for (const [cond, delayMs] of [['none', 0], ['delayed', added]] as const) {
      for (const group of ['remote', 'local'] as const) {
        const c = grid[cond][group];
        const minus = (x: number) => (group === 'remote' && delayMs ? ms(x - delayMs) : '—');
        rows.push([
          delayMs ? `+${delayMs} ms each way` : 'none',
          group === 'remote' ? `remote (region ${B})` : `local (region ${A}, control)`,
          c.subscribers,
          ms(c.p50Ms),
          ms(c.p99Ms),
          minus(c.p50Ms),
          minus(c.p99Ms),
          ms(c.maxMs),
          `${c.deliveries} / ${c.expected}`,
          `${c.missing} / ${c.duplicates}`,
          group === 'remote' ? `${ms(c.proxyP50Ms)} / ${ms(c.proxyP99Ms)} (${ms(c.proxyOutsideP99Ms)})` : '—',
          `${Math.round(c.serverCpuPct)} % / ${Math.round(c.otherCpuPct)} %`,
          `${c.kernel.count}, ${c.kernel.runMs} ms, ${c.kernel.longestMs} ms`,
          `${Math.round(c.outside.share * 100)} %: ${ms(c.outside.p50Ms)} / ${ms(c.outside.p99Ms)}${group === 'remote' && delayMs ? ` (${ms(c.outside.p99Ms - delayMs)} over)` : ''}`,
        ]);
      }
    }
    const tables: Table[] = [
      {
        title: `Publish → deliver latency across regions: one publisher in ${A} at ${o.ratePerS} msgs/s, ${o.subscribersPerGroup} subscribers per group, ${o.rounds} rounds × ${o.measureMs / 1000} s per condition (medians over rounds)`,
        header: ['added link delay', 'group', 'subscribers', 'p50 (ms)', 'p99 (ms)', 'p50 − added (ms)', 'p99 − added (ms)', 'max (ms)', 'deliveries / expected', 'missing / duplicates', 'a second fault proxy alone, same delay, same time: p50 / p99 (p99 outside kernel bursts) (ms)', 'CPU: nodes (sum) / other processes (median)', "kernel threads' bursts meanwhile (all rounds): count, CPU, longest", 'deliveries no burst overlapped: share, p50 / p99 (ms)'],
        rows,
      },
      {
        title: 'Target of issue 7 (cross-region)',
        header: ['target', 'measured (same run)', 'met'],
        rows: [
          [
            `remote p99 < added delay + ${TARGET_OVER_DELAY_MS} ms (${added + TARGET_OVER_DELAY_MS} ms)`,
            `p99 ${ms(grid.delayed.remote.p99Ms)} ms with +${added} ms (${ms(overP99)} ms over it; rounds: ${grid.delayed.remote.roundsP99Ms.map((x) => ms(x)).join(', ')}); without the delay: remote p99 ${ms(grid.none.remote.p99Ms)} ms, local p99 ${ms(grid.none.local.p99Ms)} ms; a fault proxy alone with +${added} ms had p99 ${ms(grid.delayed.remote.proxyP99Ms)} ms meanwhile (${ms(grid.delayed.remote.proxyOutsideP99Ms)} outside kernel threads' bursts); over the ${Math.round(grid.delayed.remote.outside.share * 100)} % of deliveries that no kernel thread's burst overlapped, p99 ${ms(grid.delayed.remote.outside.p99Ms)} ms (${ms(grid.delayed.remote.outside.p99Ms - added)} over)`,
            met ? 'yes' : 'no',
          ],
        ],
      },
    ];
    const notes: string[] = [
      `Channel "${CHANNEL_NAME}": master in ${A} ${v.placement[A]?.master ?? '?'}, in ${B} ${v.placement[B]?.master ?? '?'}; the publisher is on ${A}'s first node, each group's subscribers are spread over its region's ${o.nodesPerRegion} nodes. Region link up ${v.linkUpMs} ms after the nodes were ready.`,
      `The delay is the fault proxy's (src/proxy/fault-proxy.ts: each chunk held ${added} ms, order kept, timed by a thread of its own: src/proxy/precise-timer.ts), set in both directions with the control endpoint as \`ably-ng chaos latency ${A} ${B} ${added}\` does; the proxy and the region link balancers run in the bench process (CPU 1), as they run in \`ably-ng up\`, so the proxy's own lateness (the second proxy's column) is part of "− added".`,
      `The ${2 * o.nodesPerRegion} nodes share the one server core (CPU 0); idle they used ${Math.round(v.idleCpu.serverPct)} % of it (heartbeats, keepalives), other processes ${Math.round(v.idleCpu.otherPct)} % of a core meanwhile.`,
      `Latency is the subscriber's receive time minus the publisher's send time (one probe process, one clock), over every delivery of the measured messages.`,
      `Kernel threads' bursts (src/bench/kernel-bursts.ts): a process on CPU 1 reads every kernel thread's run time every ${SCAN_MS} ms and, once one ran ${PROMOTE_MS} ms between two reads, that thread's every ${READ_MS} ms; a burst is a stretch in which it kept running, of 1 ms of CPU or more. While one runs, whatever waits for its core (a node, or the probe stamping arrivals) is late. Threads watched: ${v.kernelThreads.length ? v.kernelThreads.join(', ') : 'none ran 1 ms between two reads'}. "No burst overlapped" keeps the deliveries whose flight, send to arrival, overlapped no burst's window; the target is judged on all deliveries.`,
      `Before the first round, not measured: rounds of ${WARMUP_BURST_MS / 1000} s at ${o.ratePerS * WARMUP_RATE_FACTOR} msgs/s (${WARMUP_RATE_FACTOR}× the measured rate), each followed by ${WARMUP_CHECK_MS / 1000} s at ${o.ratePerS} msgs/s whose nodes' CPU is read, until that CPU stopped falling (no lower than every check before it; ${WARMUP_MIN_ROUNDS} to ${WARMUP_MAX_ROUNDS} rounds), so that forwarding has started and V8 has compiled the nodes' hot paths: ${v.warmCpu.length} rounds, nodes' CPU ${v.warmCpu.map((c) => `${Math.round(c)} %`).join(' → ')} of a core.`,
    ];
    if (v.warmRemote.why !== 'complete') notes.push(`Warm-up: the remote group had ${v.warmRemote.have} of ${v.warmRemote.want} deliveries after ${v.warmRemote.ms} ms (${v.warmRemote.why}).`);
    for (const [name, r] of [['remote', v.remote], ['local', v.local]] as const) {
      if (r.failed) notes.push(`${name}: ${r.failed} subscribers failed to attach (${r.errors.join('; ')}).`);
    }
    const lost = grid.none.remote.missing + grid.delayed.remote.missing + grid.none.local.missing + grid.delayed.local.missing;
    const dups = grid.none.remote.duplicates + grid.delayed.remote.duplicates + grid.none.local.duplicates + grid.delayed.local.duplicates;
    notes.push(lost || dups ? `Acknowledged messages missing: ${lost} deliveries; duplicates: ${dups}.` : 'Every acknowledged message reached every subscriber exactly once, in order.');
    if (session.clientNotes.length) notes.push(`Seen by the clients: ${session.clientNotes.slice(0, 8).join('; ')}.`);
    if (session.serverProblems.length) notes.push(`Logged by the nodes: ${session.serverProblems.slice(0, 8).join('; ')}.`);
    const bar = (label: string, x: number, highlight = false) => ({ label, value: x, text: `${ms(x)} ms`, highlight });
    return {
      id: this.id,
      title: this.title,
      figures: { options: o, targetOverDelayMs: TARGET_OVER_DELAY_MS, met, remoteP99OverAddedMs: overP99, remoteP99OverAddedOutsideKernelBurstsMs: outsideOverP99, kernelThreads: v.kernelThreads, grid, placement: v.placement, linkUpMs: v.linkUpMs, idleCpu: v.idleCpu, samples: v.samples },
      tables,
      plots: [
        {
          file: 'cross-region.svg',
          title: 'Cross-region p50/p99',
          svg: barChart({
            title: 'Publish → deliver latency across regions (ms)',
            subtitle: `publisher in ${A}; +${added} ms one-way on the ${A}–${B} link vs none; medians over ${o.rounds} rounds`,
            bars: [
              bar(`local p50, no delay`, grid.none.local.p50Ms),
              bar(`local p99, no delay`, grid.none.local.p99Ms),
              bar(`remote p50, no delay`, grid.none.remote.p50Ms),
              bar(`remote p99, no delay`, grid.none.remote.p99Ms),
              bar(`remote p50, +${added} ms`, grid.delayed.remote.p50Ms, true),
              bar(`remote p99, +${added} ms`, grid.delayed.remote.p99Ms, true),
              bar(`target: ${added} + ${TARGET_OVER_DELAY_MS} ms`, added + TARGET_OVER_DELAY_MS),
            ],
          }),
        },
      ],
      notes,
    };
  },
};
