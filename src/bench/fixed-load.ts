/**
 * One layout of the region scenario (scenarios/region.ts) at one fixed load, step after
 * step: what an A/B comparison of the in-region tail needs (a flag, a build, a change)
 * without the scenario's ladder and its other layouts. Every node on CPU 0, this process
 * and the load generator on CPU 1, as in run.js. The default layout is scenario 3's own,
 * A → B → C: publisher on the first node, the channel's master the second, subscribers
 * on the third (two thirds) and the second (one third); `one-node` runs on one node;
 * `nats` runs the scenario's peer, nats-server, at the same load.
 *
 * Each step publishes for `--step-ms` at `--deliveries` ÷ `--subscribers` messages/s
 * after a warm-up step that is not counted. One line per step (p50/p99/max, messages
 * per frame, server and load generator CPU, how late the load generator's own event loop
 * ran, each node's user/system CPU and how long its threads waited for the core), then
 * one JSON line with every step and the median p99.
 *
 * Usage: node dist/bench/fixed-load.js [--layout a-b-c|one-node|on-master|publish-hop|broadcast-hop|nats]
 *        [--deliveries 1593500] [--subscribers 100] [--steps 6] [--step-ms 2000] [--out DIR] [--keep-logs]
 *   --keep-logs keeps the nodes' logs and configuration (the directory is named on stderr;
 *   removed otherwise). ABLY_NG_NODE_FLAGS passes flags to the nodes, e.g. to put a V8 default back;
 *   ABLY_NG_LOADGEN_FLAGS to the load generator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Loadgen } from './loadgen/driver.js';
import type { StepResult } from './loadgen/protocol.js';
import { cpuTimes, schedStatOf } from './proc.js';
import { hasTaskset, pinProcess, ProcessGroup } from './processes.js';
import { LAYOUTS, PEER, regionServer } from './scenarios/region.js';
import { startRegion, type Region } from './servers/ably-region.js';
import { serverById } from './servers/index.js';
import type { RunningServer } from './servers/server.js';
import { argOf, emitResult, median } from './util.js';
import { workerFlags } from './worker-process.js';

const layoutId = argOf('--layout') ?? 'a-b-c';
const layout = [...LAYOUTS, PEER].find((l) => l.id === layoutId);
if (!layout) throw new Error(`--layout is one of ${[...LAYOUTS, PEER].map((l) => l.id).join(', ')}`);
const nodes = layout === PEER ? 0 : layout.publisher === 'one' ? 1 : 3;
const deliveries = Number(argOf('--deliveries') ?? 1_593_500);
const subscribers = Number(argOf('--subscribers') ?? 100);
const steps = Number(argOf('--steps') ?? 6);
const stepMs = Number(argOf('--step-ms') ?? 2000);

const pin = hasTaskset() && os.cpus().length >= 2;
if (pin) pinProcess(process.pid, '1');
const processes = new ProcessGroup();
const ctx = { processes, cpus: pin ? '0' : null, dir: mkdtempSync(join(os.tmpdir(), 'ably-ng-fixed-load-')) };
let region: Region | null = null;
let server: RunningServer;
if (layout === PEER) server = await serverById(PEER.id).start(ctx);
else {
  region = await startRegion(ctx, nodes);
  server = regionServer(region, layout);
}
const rows: (StepResult & { nodeCpu: string })[] = [];
try {
  const { target } = server;
  const lg = await Loadgen.start(processes, pin ? '1' : null);
  try {
    const opened = await lg.subscribe(target, subscribers, 200);
    if (opened.opened < subscribers) throw new Error(`only ${opened.opened} of ${subscribers} subscribed: ${opened.errors.join('; ')}`);
    await lg.publisher(target);
    const pids = server.pids;
    const step = (durationMs: number) =>
      lg.step({ ratePerS: deliveries / subscribers, durationMs, drainMs: 1000, quietMs: 400, settleMaxMs: 10_000, serverPids: pids });
    await step(stepMs / 2);
    const named = region ? region.names.map((n) => ({ name: n, pid: region!.node(n).pid })) : pids.map((pid) => ({ name: PEER.id, pid }));
    const times = () => named.map(({ pid }) => ({ ...cpuTimes(pid), ...schedStatOf([pid]) }));
    const ms = (s: number) => Math.round(s * 1000);
    for (let i = 0; i < steps; i++) {
      const before = times();
      const s = await step(stepMs);
      const nodeCpu = times()
        .map((t, j) => {
          const b = before[j]!;
          const runs = t.runs - b.runs;
          const waitUs = runs > 0 ? Math.round(((t.waitS - b.waitS) * 1e6) / runs) : 0;
          return `${named[j]!.name} ${ms(t.user - b.user)}u/${ms(t.system - b.system)}s ms, waited for the core ${ms(t.waitS - b.waitS)} ms over ${runs} runs (${waitUs} µs each)`;
        })
        .join(', ');
      rows.push({ ...s, nodeCpu });
      console.error(
        `${s.publishPerS} msgs/s × ${s.subscribers}: p50 ${s.latency.p50Ms} ms, p99 ${s.latency.p99Ms} ms, max ${s.latency.maxMs} ms, ` +
          `${s.messagesPerFrame} msgs/frame, server CPU ${s.serverCpuPct}%, loadgen ${s.loadgenCpuPct}% (late ${s.loadgenLagP99Ms} ms p99)${s.lost ? `, ${s.lost} lost` : ''}; CPU per process ${nodeCpu}`,
      );
    }
    await lg.closeAll(500);
  } finally {
    await lg.stop();
  }
} finally {
  await (region ?? server).stop();
  await processes.stopAll();
  if (process.argv.includes('--keep-logs')) console.error(`node logs and configuration kept in ${ctx.dir}`);
  else rmSync(ctx.dir, { recursive: true, force: true });
}
emitResult(
  'fixed-load',
  {
    date: new Date().toISOString(),
    layout: layout.id,
    nodes,
    deliveriesPerS: deliveries,
    subscribers,
    stepMs,
    nodeFlags: process.env.ABLY_NG_NODE_FLAGS ?? '',
    loadgenFlags: workerFlags().join(' '),
    p99MedianMs: median(rows.map((r) => r.latency.p99Ms)),
    p50MedianMs: median(rows.map((r) => r.latency.p50Ms)),
    steps: rows,
  } as { date: string },
  argOf('--out'),
);
