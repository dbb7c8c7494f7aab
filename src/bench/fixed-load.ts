/**
 * One region layout at one fixed load, step after step: what an A/B comparison of the
 * in-region tail needs (a flag, a build, a change) without the region scenario's ladder
 * and its other layouts. A region of `--nodes` nodes (every node on CPU 0, this process
 * and the load generator on CPU 1, as in run.js); with three nodes the publisher is on
 * the first, the channel's master the second, subscribers on the third (two thirds) and
 * the second (one third): scenario 3's A → B → C. With one node, everything is on it.
 *
 * Each step publishes for `--step-ms` at `--deliveries` ÷ `--subscribers` messages/s
 * after a warm-up step that is not counted. One line per step (p50/p99/max, messages
 * per frame, server and load generator CPU, how late the load generator's own event loop
 * ran, each node's user/system CPU ticks), then
 * one JSON line with every step and the median p99.
 *
 * Usage: node dist/bench/fixed-load.js [--nodes 3] [--deliveries 1593500]
 *        [--subscribers 100] [--steps 6] [--step-ms 2000] [--out DIR]
 *   ABLY_NG_NODE_FLAGS passes flags to the nodes, e.g. to put a V8 default back.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Loadgen } from './loadgen/driver.js';
import type { StepResult } from './loadgen/protocol.js';
import { hasTaskset, pinProcess, ProcessGroup } from './processes.js';
import { channelMasteredBy, startRegion } from './servers/ably-region.js';
import { argOf, emitResult, median } from './util.js';

const nodes = Number(argOf('--nodes') ?? 3);
const deliveries = Number(argOf('--deliveries') ?? 1_593_500);
const subscribers = Number(argOf('--subscribers') ?? 100);
const steps = Number(argOf('--steps') ?? 6);
const stepMs = Number(argOf('--step-ms') ?? 2000);
if (nodes !== 1 && nodes !== 3) throw new Error('--nodes is 1 or 3');

/** User and system CPU ticks of a process so far (/proc/PID/stat). */
function ticks(pid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(f[11]), Number(f[12])];
}

const pin = hasTaskset() && os.cpus().length >= 2;
if (pin) pinProcess(process.pid, '1');
const processes = new ProcessGroup();
const region = await startRegion({ processes, cpus: pin ? '0' : null, dir: mkdtempSync(join(os.tmpdir(), 'ably-ng-fixed-load-')) }, nodes);
const rows: (StepResult & { nodeTicks: string })[] = [];
try {
  const [a, b, c] = nodes === 3 ? region.names : [region.names[0]!, region.names[0]!, region.names[0]!];
  const url = (n: string) => region.node(n!).wsUrl;
  const target = {
    protocol: 'ably' as const,
    publisherUrl: url(a!),
    subscriberUrls: [url(c!), url(c!), url(b!)],
    channel: nodes === 3 ? channelMasteredBy(region.names, b!, 'fixed') : 'fixed-0',
    key: region.deployment.key,
  };
  const lg = await Loadgen.start(processes, pin ? '1' : null);
  try {
    const opened = await lg.subscribe(target, subscribers, 200);
    if (opened.opened < subscribers) throw new Error(`only ${opened.opened} of ${subscribers} subscribed: ${opened.errors.join('; ')}`);
    await lg.publisher(target);
    const pids = region.deployment.pids;
    const step = (durationMs: number) =>
      lg.step({ ratePerS: deliveries / subscribers, durationMs, drainMs: 1000, quietMs: 400, settleMaxMs: 10_000, serverPids: pids });
    await step(stepMs / 2);
    for (let i = 0; i < steps; i++) {
      const before = region.names.map((n) => ticks(region.node(n).pid));
      const s = await step(stepMs);
      const nodeTicks = region.names.map((n, j) => `${n} ${ticks(region.node(n).pid).map((t, k) => t - before[j]![k]!).join('u/')}s`).join(', ');
      rows.push({ ...s, nodeTicks });
      console.error(
        `${s.publishPerS} msgs/s × ${s.subscribers}: p50 ${s.latency.p50Ms} ms, p99 ${s.latency.p99Ms} ms, max ${s.latency.maxMs} ms, ` +
          `${s.messagesPerFrame} msgs/frame, server CPU ${s.serverCpuPct}%, loadgen ${s.loadgenCpuPct}% (late ${s.loadgenLagP99Ms} ms p99)${s.lost ? `, ${s.lost} lost` : ''}; ticks ${nodeTicks}`,
      );
    }
    await lg.closeAll(500);
  } finally {
    await lg.stop();
  }
} finally {
  await region.stop();
  await processes.stopAll();
}
emitResult(
  'fixed-load',
  {
    date: new Date().toISOString(),
    nodes,
    deliveriesPerS: deliveries,
    subscribers,
    stepMs,
    nodeFlags: process.env.ABLY_NG_NODE_FLAGS ?? '',
    p99MedianMs: median(rows.map((r) => r.latency.p99Ms)),
    p50MedianMs: median(rows.map((r) => r.latency.p50Ms)),
    steps: rows,
  } as { date: string },
  argOf('--out'),
);
