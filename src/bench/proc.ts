/**
 * Figures read from /proc: a process's CPU time and resident memory, the machine's busy
 * time (to tell how much of a core other work took during a step), and a description of
 * the machine for the results file.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { openFileLimit } from '../open-files.js';

let ticksPerS: number | null = null;

/** Clock ticks per second, the unit of /proc/<pid>/stat and /proc/stat times (usually 100). */
export function clockTicksPerS(): number {
  if (ticksPerS === null) {
    try {
      ticksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerS = 100;
    }
  }
  return ticksPerS;
}

/**
 * User and system CPU seconds used by a process (all its threads) so far, and its minor
 * page faults (first touches of memory it was given); NaN when it is gone.
 */
export function cpuTimes(pid: number): { user: number; system: number; minorFaults: number } {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { user: NaN, system: NaN, minorFaults: NaN };
  }
  // The command name (field 2) may hold spaces: count fields after its closing ')'.
  // rest[0] is field 3 (state), so field n is rest[n - 3]: minflt 10, utime 14, stime 15.
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / clockTicksPerS(), system: Number(rest[12]) / clockTicksPerS(), minorFaults: Number(rest[7]) };
}

/**
 * The scheduler's account of processes (every thread of each, from
 * /proc/<pid>/task/<tid>/schedstat), summed: seconds runnable but waiting for a CPU (in
 * a run queue), and how many times a thread was put on one. A thread or process that is
 * gone counts nothing.
 */
export function schedStatOf(pids: readonly number[]): { waitS: number; runs: number } {
  let wait = 0;
  let runs = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        // Fields: time on a CPU, time waiting for one (ns), times put on one.
        const [, w, n] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
        wait += w ?? 0;
        runs += n ?? 0;
      } catch {
        // the thread ended between the two reads
      }
    }
  }
  return { waitS: wait / 1e9, runs };
}

/** User + system CPU seconds used by a process (all its threads) so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** Summed CPU seconds of several processes. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += cpuSeconds(pid);
  return total;
}

/** Resident set size in bytes (VmRSS); NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export function rssBytesOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += rssBytes(pid);
  return total;
}

/**
 * CPU seconds the whole machine spent busy (every core: user, nice, system, irq,
 * softirq, steal), from the first line of /proc/stat, and the softirq part of it apart
 * (on loopback much of TCP's work runs there, for our own traffic). The busy time over
 * a step minus softirq and what our processes used is what other work took.
 */
export function machineBusySeconds(): { busy: number; softirq: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number) as number[];
  const t = clockTicksPerS();
  return { busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / t, softirq: (softirq ?? 0) / t };
}

function firstLine(cmd: string, args: string[]): string | null {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return out.split('\n').find((l) => l.trim() !== '')?.trim() ?? null;
  } catch (e) {
    // mosquitto -h exits non-zero but prints its version first.
    const out = String((e as { stdout?: unknown }).stdout ?? '');
    return out.split('\n').find((l) => l.trim() !== '')?.trim() ?? null;
  }
}

function packageVersion(name: string): string | null {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramBytes: number;
  kernel: string;
  node: string;
  loadAvgAtStart: number[];
  openFiles: { soft: number; hard: number };
  versions: Record<string, string | null>;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAvgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    openFiles: openFileLimit(),
    versions: {
      ws: packageVersion('ws'),
      'socket.io': packageVersion('socket.io'),
      'socket.io-client': packageVersion('socket.io-client'),
      mqtt: packageVersion('mqtt'),
      'nats-server': firstLine('nats-server', ['--version']),
      mosquitto: firstLine('mosquitto', ['-h']),
    },
  };
}

/** CPU used by every process but `own` over `windowMs`, in % of one core (softirq excluded). */
export async function othersCpuPct(own: readonly number[], windowMs: number): Promise<number> {
  const b0 = machineBusySeconds();
  const o0 = cpuSecondsOf(own);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const b1 = machineBusySeconds();
  const ownS = cpuSecondsOf(own) - o0;
  const s = (performance.now() - t0) / 1000;
  return Math.max(0, (100 * (b1.busy - b0.busy - (b1.softirq - b0.softirq) - ownS)) / s);
}

/** Other processes above this share of a core (%) make a multi-node measurement wait (briefly). */
export const QUIET_THRESHOLD_PCT = 40;

/**
 * Waits (at most `maxMs`) until other processes use less than `thresholdPct` of a core,
 * so that a measurement does not start in the middle of someone else's test run.
 */
export async function waitForQuiet(own: readonly number[], thresholdPct: number, maxMs: number): Promise<{ waitedMs: number; otherPct: number }> {
  const start = performance.now();
  let other = await othersCpuPct(own, 500);
  while (other > thresholdPct && performance.now() - start < maxMs) other = await othersCpuPct(own, 1000);
  return { waitedMs: Math.round(performance.now() - start), otherPct: Math.round(other) };
}
