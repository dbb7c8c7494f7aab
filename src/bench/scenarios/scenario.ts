/**
 * The contract between the run and a scenario. A scenario starts the servers it needs
 * (one node, a region, several regions: anything that is a RunningServer), drives them
 * with load generators, and returns its figures as data plus the tables, notes and
 * plots the report shows. Adding a scenario is a module here and a line in index.ts.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { FanoutResult } from '../fanout.js';
import { KernelBurstWatch } from '../kernel-bursts-watch.js';
import { Loadgen } from '../loadgen/driver.js';
import type { Mode, ModeProfile } from '../modes.js';
import type { ProcessGroup } from '../processes.js';
import type { RunningServer, ServerContext, ServerDef } from '../servers/server.js';

export interface Table {
  title: string;
  header: string[];
  rows: (string | number)[][];
}

export interface Plot {
  /** File name inside the results directory (prefixed with the date by the run). */
  file: string;
  title: string;
  svg: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** Everything measured, for the JSON file. */
  figures: Record<string, unknown>;
  tables: Table[];
  plots: Plot[];
  /** Caveats and observations, one sentence each. */
  notes: string[];
  durationMs?: number;
}

export interface ScenarioContext {
  mode: Mode;
  profile: ModeProfile;
  processes: ProcessGroup;
  /** taskset CPU lists (null: unpinned). */
  cpus: { server: string | null; loadgen: string | null };
  /** Root of this run's scratch space (topologies, configs, node logs). */
  workDir: string;
  log(line: string): void;
  /** Milliseconds left in the run's time budget. */
  timeLeftMs(): number;
  /** Fan-out results measured earlier in this run, by `${server}:${subscribers}`. */
  fanoutCache: Map<string, FanoutResult>;
  /** For a scenario that `watchesKernel`: the watcher (runScenario starts and stops it); its load generators' steps then report the bursts. */
  kernel?: KernelBurstWatch;
}

export interface Scenario {
  id: string;
  title: string;
  /** Which scenarios of issue 7 this covers. */
  covers: string;
  /** It reports the kernel threads' bursts during its measurements (kernel-bursts.ts): its context has `kernel`. */
  watchesKernel?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** Runs a scenario, with a kernel-burst watcher in its context if it `watchesKernel` (stopped after it). */
export async function runScenario(s: Scenario, ctx: ScenarioContext): Promise<ScenarioResult> {
  if (!s.watchesKernel) return s.run(ctx);
  const kernel = await KernelBurstWatch.start(ctx.processes, ctx.cpus.loadgen);
  try {
    return await s.run({ ...ctx, kernel });
  } finally {
    await kernel.stop();
  }
}

/** A fresh directory under the run's scratch space. */
export function newDir(ctx: ScenarioContext, name: string): string {
  return mkdtempSync(join(ctx.workDir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

export function serverContext(ctx: ScenarioContext, name: string): ServerContext {
  return { processes: ctx.processes, cpus: ctx.cpus.server, dir: newDir(ctx, name) };
}

export interface ServerSession<T> {
  value: T;
  /** What the load generator's clients saw (errors, server-side closes), counted. */
  clientNotes: string[];
  /** Warnings and errors the server logged. */
  serverProblems: string[];
}

/**
 * Starts a server and a load generator, runs `fn`, and always stops both (by PID),
 * whatever happens. The server's problems are read after it stopped, so its last words
 * count. `start` is a ServerDef or any function that starts a RunningServer (a
 * multi-node region, several regions).
 */
export async function withServer<T>(
  ctx: ScenarioContext,
  start: ServerDef | { id: string; start(sc: ServerContext): Promise<RunningServer> },
  fn: (server: RunningServer, loadgen: Loadgen) => Promise<T>,
): Promise<ServerSession<T>> {
  const server = await start.start(serverContext(ctx, start.id));
  let loadgen: Loadgen | null = null;
  let value: T;
  let clientNotes: string[] = [];
  try {
    loadgen = await Loadgen.start(ctx.processes, ctx.cpus.loadgen);
    value = await fn(server, loadgen);
    const closed = await loadgen.closeAll(500).catch((e: Error) => ({ notes: [`closing connections: ${e.message}`] }));
    clientNotes = closed.notes;
  } finally {
    await loadgen?.stop();
    await server.stop();
  }
  return { value, clientNotes, serverProblems: server.problems?.() ?? [] };
}
