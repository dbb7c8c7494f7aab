/**
 * The run's handle on one helper process of the benchmark (a load generator, a probe):
 * starts it pinned to the given CPUs, waits for its first message (ready), sends it
 * requests `{cmd, …, id}` with a time limit each (several may be under way at once),
 * matches the replies `{id, ok, result | error}`, and stops it by PID.
 */
import { fileURLToPath } from 'node:url';
import { flagsFromEnv } from '../cli/supervisor.js';
import type { ProcessGroup, Spawned } from './processes.js';
import type { WorkerReply } from './worker-serve.js';

/** A worker that has not said it is ready in this long failed to start. */
const START_TIMEOUT_MS = 10_000;
/** Slack on top of what a request should take, before it counts as hung. */
const REQUEST_SLACK_MS = 30_000;

/**
 * V8 flags every worker starts with (before ABLY_NG_LOADGEN_FLAGS, space-separated, which
 * can add to or override them).
 *
 * `--initial-old-space-size=256`: a load generator allocates fast (a socket read, a
 * WebSocket frame and their buffers per frame, over 100,000 frames a second) and keeps
 * little (8 MB). V8 then grows the young generation to its largest (two 16 MB
 * semi-spaces) while it sizes the old generation's limit from what is live, about 30 MB,
 * and it starts a full collection whenever the room left under that limit is less than
 * the young generation could promote. Here that was after nearly every scavenge: up to
 * 156 full collections in 20 s, each with a 3–5 ms pause in which nothing was read, so
 * the deliveries waiting were stamped late. A first limit of 256 MB leaves the room; the
 * old generation grows about 1 MB/s, so a scenario ends long before a full collection is
 * due. BENCHMARKS.md has the before and after.
 */
export const WORKER_V8_FLAGS: readonly string[] = ['--initial-old-space-size=256'];

/** The Node/V8 flags a worker starts with: WORKER_V8_FLAGS, then ABLY_NG_LOADGEN_FLAGS's. */
export function workerFlags(): string[] {
  return [...WORKER_V8_FLAGS, ...flagsFromEnv('ABLY_NG_LOADGEN_FLAGS')];
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class WorkerProcess<Req extends { cmd: string }> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly processes: ProcessGroup,
    private readonly child: Spawned,
    private readonly name: string,
  ) {
    child.proc.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${name}: ${m.error}`));
    });
    void child.exited.then((code) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (code ${code})`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Starts `script` (a URL relative to the caller's module) as `name`. */
  static async start<Req extends { cmd: string }>(processes: ProcessGroup, cpus: string | null, name: string, script: URL): Promise<WorkerProcess<Req>> {
    const child = processes.spawn(name, process.execPath, [...workerFlags(), fileURLToPath(script)], { cpus, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), START_TIMEOUT_MS);
      child.proc.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      void child.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${code}) while starting`));
      });
    }).catch(async (e) => {
      await processes.stop(child);
      throw e;
    });
    return new WorkerProcess<Req>(processes, child, name);
  }

  /** Sends a request; it fails if no answer comes within `expectedMs` plus a generous slack. */
  request<T>(req: Req, expectedMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${req.cmd} took over ${expectedMs + REQUEST_SLACK_MS} ms`));
      }, expectedMs + REQUEST_SLACK_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.proc.send({ ...req, id });
    });
  }

  /** Stops the process by PID (its connections die with it). */
  async stop(): Promise<void> {
    await this.processes.stop(this.child);
  }
}
