/**
 * Every process a benchmark run starts, by PID: spawned pinned to CPUs with `taskset`,
 * stopped by PID (SIGTERM, then SIGKILL after a grace period), and all of them killed
 * when the run ends, fails or is interrupted. Nothing is ever stopped by name.
 */
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** After SIGTERM a process gets this long to exit before SIGKILL. */
export const STOP_GRACE_MS = 3000;

let tasksetChecked: boolean | null = null;

/** Whether `taskset` (util-linux) is here and works. */
export function hasTaskset(): boolean {
  if (tasksetChecked === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/**
 * Pins every thread of a running process to `cpus` (a taskset list such as "0" or
 * "0-1"); threads it starts later inherit that. Used for processes another module
 * spawned (the Supervisor's node processes).
 */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

export interface Spawned {
  name: string;
  pid: number;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

export interface Adopted {
  pids: number[];
  /** Stops the group (once; later calls do nothing). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** taskset CPU list; unpinned when null or when taskset is missing. */
  cpus?: string | null;
  env?: Record<string, string>;
  cwd?: string;
  stdio?: StdioOptions;
}

export class ProcessGroup {
  private readonly children = new Map<number, Spawned>();
  private readonly adopted = new Set<Adopted>();
  private closed = false;

  spawn(name: string, command: string, args: string[], o: SpawnOptions = {}): Spawned {
    if (this.closed) throw new Error(`not starting ${name}: the run is stopping`);
    const pinned = o.cpus && hasTaskset();
    const [cmd, argv] = pinned ? ['taskset', ['-c', o.cpus!, command, ...args]] : [command, args];
    // taskset execs the command, so the PID is the command's own.
    const proc = spawn(cmd, argv, {
      stdio: o.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
    if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const s: Spawned = { name, pid: proc.pid, proc, exited };
    this.children.set(s.pid, s);
    void exited.then(() => this.children.delete(s.pid));
    return s;
  }

  /**
   * Processes someone else spawns for us (the Supervisor's nodes): `stop` is how to end
   * them in order; push their PIDs into the returned `pids` as they become known, so a
   * last-resort kill at exit reaches them too.
   */
  adopt(stop: () => Promise<void>): Adopted {
    if (this.closed) throw new Error('not starting anything: the run is stopping');
    const group: Adopted = {
      pids: [],
      stop: async () => {
        if (!this.adopted.delete(group)) return;
        await stop();
      },
    };
    this.adopted.add(group);
    return group;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when it has exited. */
  async stop(s: Spawned, graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.children.has(s.pid)) return;
    signal(s.pid, 'SIGCONT');
    signal(s.pid, 'SIGTERM');
    const t = setTimeout(() => signal(s.pid, 'SIGKILL'), graceMs);
    await s.exited;
    clearTimeout(t);
  }

  /**
   * Stops everything still running: adopted groups first (their own way), then our
   * children. With `close`, nothing new may start afterwards (the run is ending).
   */
  async stopAll(close = false): Promise<void> {
    if (close) this.closed = true;
    for (const group of [...this.adopted]) await group.stop().catch(() => undefined);
    await Promise.all([...this.children.values()].map((s) => this.stop(s)));
  }

  /**
   * Last resort at process exit (synchronous): SIGKILL every PID still known, and every
   * remaining child of this process (a node the Supervisor spawned that had not yet
   * printed its ready line is known to nobody else).
   */
  killAllNow(): void {
    for (const pid of this.children.keys()) signal(pid, 'SIGKILL');
    for (const group of this.adopted) for (const pid of group.pids) signal(pid, 'SIGKILL');
    for (const pid of childrenOf(process.pid)) signal(pid, 'SIGKILL');
  }

  get running(): number[] {
    return [...this.children.keys(), ...[...this.adopted].flatMap((g) => g.pids)];
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** PIDs whose parent is `ppid`, from /proc. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name's closing ')' and the state.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
