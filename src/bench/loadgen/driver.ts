/**
 * The run's handle on one load generator process: starts it pinned to the load
 * generator's CPUs, sends it requests with a time limit each, and stops it by PID.
 */
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, Spawned } from '../processes.js';
import type { Target } from '../servers/server.js';
import type { LoadgenMessage, LoadgenReply, LoadgenRequest, OpenResult, StepResult, Totals } from './protocol.js';

/** A load generator that has not said it is ready in this long failed to start. */
const START_TIMEOUT_MS = 10_000;
/** Slack on top of what a request should take, before it counts as hung. */
const REQUEST_SLACK_MS = 30_000;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class Loadgen {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly processes: ProcessGroup,
    private readonly child: Spawned,
  ) {
    child.proc.on('message', (m: LoadgenReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`load generator: ${m.error}`));
    });
    void child.exited.then((code) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`load generator exited (code ${code})`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  static async start(processes: ProcessGroup, cpus: string | null): Promise<Loadgen> {
    const script = fileURLToPath(new URL('./worker.js', import.meta.url));
    const child = processes.spawn('loadgen', process.execPath, [script], { cpus, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('load generator did not start')), START_TIMEOUT_MS);
      child.proc.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      void child.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`load generator exited (code ${code}) while starting`));
      });
    }).catch(async (e) => {
      await processes.stop(child);
      throw e;
    });
    return new Loadgen(processes, child);
  }

  private request<T>(req: LoadgenRequest, expectedMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load generator: ${req.cmd} took over ${expectedMs + REQUEST_SLACK_MS} ms`));
      }, expectedMs + REQUEST_SLACK_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.proc.send({ ...req, id } satisfies LoadgenMessage);
    });
  }

  /** Opens `count` subscribers; `perS` is the subscribe rate. */
  subscribe(target: Target, count: number, concurrency: number): Promise<OpenResult> {
    return this.request({ cmd: 'subscribe', target, count, concurrency }, count * 10);
  }

  publisher(target: Target): Promise<void> {
    return this.request({ cmd: 'publisher', target }, 0);
  }

  step(o: { ratePerS: number; durationMs: number; drainMs: number; quietMs: number; settleMaxMs: number; serverPids: number[] }): Promise<StepResult> {
    return this.request({ cmd: 'step', ...o }, o.settleMaxMs + o.durationMs + 2 * o.drainMs);
  }

  /** Every delivery so far against every expectation, after things went quiet. */
  totals(quietMs: number, settleMaxMs: number): Promise<Totals> {
    return this.request({ cmd: 'totals', quietMs, settleMaxMs }, settleMaxMs);
  }

  refill(concurrency: number): Promise<OpenResult> {
    return this.request({ cmd: 'refill', concurrency }, 0);
  }

  connect(target: Target, count: number, concurrency: number, serverPids: number[] = []): Promise<OpenResult> {
    return this.request({ cmd: 'connect', target, count, concurrency, serverPids }, count * 5);
  }

  closeAll(concurrency: number, expectedMs = 20_000): Promise<{ closed: number; ms: number; notes: string[] }> {
    return this.request({ cmd: 'closeAll', concurrency }, expectedMs);
  }

  /** Stops the process by PID (its connections die with it). */
  async stop(): Promise<void> {
    await this.processes.stop(this.child);
  }
}
