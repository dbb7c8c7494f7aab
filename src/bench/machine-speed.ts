/**
 * How fast the machine is right now, measured without any ably-ng code, at the start and
 * at the end of every run: the machine is a shared virtual one, and the same code has
 * measured two to three times the CPU per message from one hour to the next. Two
 * figures, each on the cores the run pins its processes to:
 * - a fixed hash loop (ns per iteration), on the servers' core and on the load generator's;
 * - 64-byte round trips over loopback TCP between two processes, one at a time (µs): both
 *   on the servers' core (a context switch each way, as between two nodes), and across
 *   the two cores (waking the other core each way, as between load generator and server);
 * - the same round trips, each after IDLE_GAP_MS of idling (a light load's hops: the
 *   cross-region scenario's 100 messages/s). On this virtual machine a round trip after
 *   10 ms idle took 4–8× a back-to-back one, in Node and in Python alike (2026-12-02).
 * - the cost of a minor page fault (the kernel giving a process a page it touches for the
 *   first time), on the servers' core: 10.7 µs here on 2026-12-03, 450 times a write to a
 *   page already given, so a node that keeps taking fresh memory (V8's heap pages as the
 *   garbage collector frees and takes them again, large buffers) pays it often.
 * A report whose run was slower on these than another's was run on a slower machine.
 */
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, Spawned } from './processes.js';
import { median } from './util.js';

export interface RoundTrips {
  p50Us: number;
  p99Us: number;
}

export interface MachineSpeed {
  /** Nanoseconds per iteration of the hash loop (median of LOOP_RUNS runs) on each core. */
  loopNs: { server: number; loadgen: number };
  /** Loopback TCP round trips: both processes on the servers' core, and one on each core. */
  sameCore: RoundTrips;
  acrossCores: RoundTrips;
  /** The same, each round trip after IDLE_GAP_MS idle (absent in reports before 2026-12-02). */
  sameCoreIdle?: RoundTrips;
  acrossCoresIdle?: RoundTrips;
  /** µs per minor page fault on the servers' core, median of FAULT_RUNS (absent before 2026-12-03). */
  pageFaultUs?: number;
}

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'machine-speed-worker.js');
const LOOP_ITERATIONS = 50_000_000;
const LOOP_RUNS = 3;
const ROUND_TRIPS = 3000;
const WARM_ROUND_TRIPS = 300;
/** Round trips after idling, and the idle before each (ms): 2 s per measurement. */
const IDLE_ROUND_TRIPS = 200;
const IDLE_WARM_ROUND_TRIPS = 10;
const IDLE_GAP_MS = 10;
/** Fresh memory touched per page-fault measurement (MB), and runs (the median is kept). */
const FAULT_MB = 64;
const FAULT_RUNS = 3;
/** A child that has not answered in this long has failed. */
const CHILD_TIMEOUT_MS = 15_000;

/** The child's first line of output, as JSON (it fails if none comes in time). */
async function firstLine<T>(child: Spawned): Promise<T> {
  const lines = createInterface({ input: child.proc.stdout! });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`machine-speed ${child.name} did not answer in ${CHILD_TIMEOUT_MS} ms`)), CHILD_TIMEOUT_MS);
      lines.once('line', (l) => {
        try {
          resolve(JSON.parse(l) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
      // 'close' of its output, not the child's 'exit' (which can come before its last line is read).
      lines.once('close', () => reject(new Error(`machine-speed ${child.name} ended its output without answering`)));
    });
  } finally {
    clearTimeout(timer);
    lines.close();
  }
}

/** A child's one answer; the child is stopped afterwards, answer or not. */
async function answerOf<T>(processes: ProcessGroup, child: Spawned): Promise<T> {
  try {
    return await firstLine<T>(child);
  } finally {
    await processes.stop(child);
  }
}

function start(processes: ProcessGroup, name: string, args: string[], cpus: string | null): Spawned {
  return processes.spawn(`machine-speed ${name}`, process.execPath, [WORKER, ...args], { cpus });
}

async function loopNs(processes: ProcessGroup, cpus: string | null): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < LOOP_RUNS; i++) {
    const r = await answerOf<{ nsPerIter: number }>(processes, start(processes, 'loop', ['loop', String(LOOP_ITERATIONS)], cpus));
    runs.push(r.nsPerIter);
  }
  return Math.round(median(runs) * 1000) / 1000;
}

/** undefined where no run counted a fault (a kernel that gave the memory another way). */
async function pageFaultUs(processes: ProcessGroup, cpus: string | null): Promise<number | undefined> {
  const runs: number[] = [];
  for (let i = 0; i < FAULT_RUNS; i++) {
    // JSON has no NaN: a run without faults answers null.
    const r = await answerOf<{ faultUs: number | null }>(processes, start(processes, 'faults', ['faults', String(FAULT_MB)], cpus));
    if (typeof r.faultUs === 'number' && Number.isFinite(r.faultUs)) runs.push(r.faultUs);
  }
  return runs.length ? Math.round(median(runs) * 100) / 100 : undefined;
}

async function roundTrips(processes: ProcessGroup, port: number, cpus: string | null, idle = false): Promise<RoundTrips> {
  const args = idle ? [IDLE_ROUND_TRIPS, IDLE_WARM_ROUND_TRIPS, IDLE_GAP_MS] : [ROUND_TRIPS, WARM_ROUND_TRIPS];
  const r = await answerOf<RoundTrips>(processes, start(processes, 'ping', ['ping', String(port), ...args.map(String)], cpus));
  return { p50Us: Math.round(r.p50Us * 10) / 10, p99Us: Math.round(r.p99Us * 10) / 10 };
}

export async function measureMachineSpeed(processes: ProcessGroup, cpus: { server: string | null; loadgen: string | null }): Promise<MachineSpeed> {
  const server = await loopNs(processes, cpus.server);
  const loadgen = await loopNs(processes, cpus.loadgen);
  const faultUs = await pageFaultUs(processes, cpus.server);
  const echo = start(processes, 'echo', ['echo'], cpus.server);
  try {
    const { port } = await firstLine<{ port: number }>(echo);
    const sameCore = await roundTrips(processes, port, cpus.server);
    const acrossCores = await roundTrips(processes, port, cpus.loadgen);
    const sameCoreIdle = await roundTrips(processes, port, cpus.server, true);
    const acrossCoresIdle = await roundTrips(processes, port, cpus.loadgen, true);
    return { loopNs: { server, loadgen }, sameCore, acrossCores, sameCoreIdle, acrossCoresIdle, ...(faultUs !== undefined ? { pageFaultUs: faultUs } : {}) };
  } finally {
    await processes.stop(echo);
  }
}

/** The figures of one measurement, as words. */
export function speedText(s: MachineSpeed | null): string {
  if (!s) return 'not measured';
  return (
    `hash loop ${s.loopNs.server} ns per iteration on the servers' core (${s.loopNs.loadgen} on the load generator's); ` +
    `loopback round trip between two processes on the servers' core p50 ${s.sameCore.p50Us} µs (p99 ${s.sameCore.p99Us}), ` +
    `across the two cores p50 ${s.acrossCores.p50Us} µs (p99 ${s.acrossCores.p99Us})` +
    (s.sameCoreIdle && s.acrossCoresIdle
      ? `; each after ${IDLE_GAP_MS} ms idle, p50 ${s.sameCoreIdle.p50Us} µs on one core (p99 ${s.sameCoreIdle.p99Us}) and ${s.acrossCoresIdle.p50Us} µs across (p99 ${s.acrossCoresIdle.p99Us})`
      : '') +
    (s.pageFaultUs !== undefined ? `; a minor page fault (first touch of fresh memory) ${s.pageFaultUs} µs on the servers' core` : '')
  );
}

/** One line for a report: the figures at the start of the run and at its end. */
export function machineSpeedText(start: MachineSpeed | null, end: MachineSpeed | null): string {
  return `at the start: ${speedText(start)}; at the end: ${speedText(end)}`;
}
