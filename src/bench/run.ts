/**
 * `make bench`: runs the benchmark scenarios of issue 7 and writes the results.
 *   node dist/bench/run.js [--mode quick|full] [--only fanout,connections,scale-subscribers]
 *                          [--out DIR] [--name STEM] [--no-pin]
 * Servers run pinned to CPU 0 and the load generator (and this process) to CPU 1, with
 * `taskset`. Everything talks to 127.0.0.1 only. The run is bounded by its mode's time
 * budget; every process it starts is stopped by PID when it ends, fails, is interrupted
 * (SIGINT/SIGTERM) or runs out of time. Writes, in the results directory (default
 * bench/results): <date>.json (every figure, the machine), <date>.md (tables), and
 * <date>-*.svg (plots); a full run writes <date>-full.* instead, and `--name STEM` writes
 * STEM.* (so a run of some scenarios does not overwrite the day's complete results).
 */
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FanoutResult } from './fanout.js';
import { PROFILES, type Mode, type ModeProfile } from './modes.js';
import { measureMachineSpeed, speedText } from './machine-speed.js';
import { machineInfo } from './proc.js';
import { hasTaskset, pinProcess, ProcessGroup } from './processes.js';
import { renderMarkdown, type RunMeta, type ScenarioFailure } from './report/markdown.js';
import { SCENARIOS, selectScenarios } from './scenarios/index.js';
import { serverById } from './servers/index.js';
import { runScenario, type ScenarioContext, type ScenarioResult } from './scenarios/scenario.js';
import { median } from './util.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

const program = new Command()
  .name('bench')
  .description('ably-ng benchmarks against peers (issue 7)')
  .option('--mode <mode>', `quick (about 11 minutes on a 2-core machine, at most ${PROFILES.quick.budgetMs / 60_000}) or full (about 50 minutes, at most ${PROFILES.full.budgetMs / 60_000})`, 'quick')
  .option('--only <ids>', `comma-separated scenario ids (${SCENARIOS.map((s) => s.id).join(', ')}); default: all, in that order`)
  .option('--servers <ids>', 'comma-separated servers to measure (ably-ng, ws, ws-corked, socket.io, nats, mosquitto); default: each scenario\'s own list')
  .option('--out <dir>', 'results directory', join(REPO_ROOT, 'bench', 'results'))
  .option('--name <stem>', 'file name stem of the results (default: <date>, or <date>-full in full mode)')
  .option('--no-pin', 'do not pin servers and the load generator to separate CPUs')
  .parse();
const opts = program.opts<{ mode: string; only?: string; servers?: string; out: string; name?: string; pin: boolean }>();
if (opts.mode !== 'quick' && opts.mode !== 'full') {
  console.error(`--mode must be quick or full, not ${opts.mode}`);
  process.exit(2);
}
const mode = opts.mode as Mode;
const profile = restrictServers(PROFILES[mode], opts.servers ? opts.servers.split(',').map((s) => s.trim()) : null);
const scenarios = selectScenarios(opts.only ? opts.only.split(',').map((s) => s.trim()) : null);
const outDir = resolve(opts.out);

/** The profile with every scenario's server list cut down to `only` (in the profile's order). */
function restrictServers(p: ModeProfile, only: string[] | null): ModeProfile {
  if (!only) return p;
  for (const id of only) serverById(id);
  const keep = (ids: string[]) => ids.filter((id) => only.includes(id));
  return {
    ...p,
    fanoutServers: keep(p.fanoutServers),
    connections: { ...p.connections, servers: keep(p.connections.servers) },
    scale: { ...p.scale, servers: keep(p.scale.servers) },
  };
}

const started = Date.now();
const date = new Date(started).toISOString().slice(0, 10);
const log = (line: string) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);

// Pinning: servers on CPU 0, the load generator and this process on CPU 1.
const cores = os.cpus().length;
const pin = opts.pin && hasTaskset() && cores >= 2;
const cpus = pin ? { server: '0', loadgen: '1' } : { server: null, loadgen: null };
if (pin) pinProcess(process.pid, cpus.loadgen!);
const pinningNote = pin
  ? 'servers pinned to CPU 0 (`taskset -c 0`, all threads), load generator and the run itself to CPU 1 (`taskset -c 1`)'
  : `not pinned (${!opts.pin ? '--no-pin' : !hasTaskset() ? 'taskset missing' : `${cores} core`}): server and load generator share the CPUs`;

const processes = new ProcessGroup();
const workDir = mkdtempSync(join(os.tmpdir(), 'ably-ng-bench-'));
const results: ScenarioResult[] = [];
const failures: ScenarioFailure[] = [];
const fanoutCache = new Map<string, FanoutResult>();
const machine = machineInfo();
const speed: RunMeta['speed'] = { start: null, end: null };
let aborted: string | null = null;

const ctx: ScenarioContext = {
  mode,
  profile,
  processes,
  cpus,
  workDir,
  log,
  timeLeftMs: () => profile.budgetMs - (Date.now() - started),
  fanoutCache,
};

function noise(): RunMeta['noise'] {
  const other = [...fanoutCache.values()].flatMap((r) => [...r.ladder, ...(r.half?.tries ?? [])].map((s) => s.otherCpuPct));
  const m = other.length ? median(other) : null;
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  return {
    loadAvgAtEnd: load,
    otherCpuPctMedian: m,
    note:
      `the machine is shared (other sessions run tests on it); load average ${machine.loadAvgAtStart.join(' / ')} at the start, ${load.join(' / ')} at the end` +
      (m !== null ? `; other processes used a median ${m.toFixed(0)} % of a core during the fan-out steps (max ${Math.max(...other).toFixed(0)} %)` : '') +
      '. Figures are medians of short repetitions, and ratios come from the same run.',
  };
}

function writeResults(): { json: string; md: string } {
  mkdirSync(outDir, { recursive: true });
  const meta: RunMeta = {
    date,
    mode,
    command: `node dist/bench/run.js --mode ${mode}${opts.only ? ` --only ${opts.only}` : ''}${opts.servers ? ` --servers ${opts.servers}` : ''}${opts.name ? ` --name ${opts.name}` : ''}${opts.pin ? '' : ' --no-pin'}`,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    machine,
    speed,
    pinning: { ...cpus, note: pinningNote },
    noise: noise(),
    aborted,
  };
  // Quick runs are <date>.*, full runs <date>-full.*, so a day keeps one of each.
  const stem = opts.name ?? (mode === 'quick' ? date : `${date}-${mode}`);
  const plotFile = (file: string) => `${stem}-${file}`;
  for (const r of results) for (const p of r.plots) writeFileSync(join(outDir, plotFile(p.file)), p.svg);
  const json = join(outDir, `${stem}.json`);
  const md = join(outDir, `${stem}.md`);
  writeFileSync(
    json,
    `${JSON.stringify(
      { meta, scenarios: results.map(({ plots, ...r }) => ({ ...r, plots: plots.map((p) => plotFile(p.file)) })), failures },
      (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
      2,
    )}\n`,
  );
  writeFileSync(md, renderMarkdown(meta, results, failures, plotFile));
  return { json, md };
}

async function abort(why: string, code: number): Promise<void> {
  if (aborted) return;
  aborted = why;
  log(`stopping: ${why}`);
  await processes.stopAll(true);
  const files = writeResults();
  log(`partial results in ${relative(process.cwd(), files.md)}; node logs and configurations kept in ${workDir}`);
  process.exit(code);
}

process.on('SIGINT', () => void abort('interrupted (SIGINT)', 130));
process.on('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
process.on('exit', () => processes.killAllNow());
const budget = setTimeout(() => void abort(`time budget of ${profile.budgetMs / 60_000} minutes exceeded`, 3), profile.budgetMs);

async function main(): Promise<void> {
  log(`${mode} mode: ${scenarios.map((s) => s.id).join(', ')}; ${pinningNote}`);
  const measureSpeed = () =>
    measureMachineSpeed(processes, cpus).catch((e: Error) => {
      log(`machine speed not measured: ${e.message}`);
      return null;
    });
  speed.start = await measureSpeed();
  log(`machine speed at the start: ${speedText(speed.start)}`);
  for (const s of scenarios) {
    const t0 = Date.now();
    log(`scenario ${s.id}: ${s.title}`);
    try {
      const r = await runScenario(s, ctx);
      r.durationMs = Date.now() - t0;
      results.push(r);
    } catch (e) {
      if (aborted) return;
      log(`scenario ${s.id} failed: ${(e as Error).stack}`);
      failures.push({ id: s.id, title: s.title, error: (e as Error).message });
    }
    await processes.stopAll();
  }
  speed.end = await measureSpeed();
  log(`machine speed at the end: ${speedText(speed.end)}`);
  clearTimeout(budget);
  const files = writeResults();
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${relative(process.cwd(), files.md)}, ${relative(process.cwd(), files.json)}`);
  rmSync(workDir, { recursive: true, force: true });
}

main().then(
  () => {
    if (!aborted) process.exit(failures.length ? 1 : 0);
  },
  async (e: unknown) => {
    log(`failed: ${(e as Error).stack}; node logs and configurations kept in ${workDir}`);
    await processes.stopAll(true);
    process.exit(1);
  },
);
