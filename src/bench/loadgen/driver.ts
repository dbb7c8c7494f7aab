/**
 * The run's handle on one load generator process: starts it pinned to the load
 * generator's CPUs, sends it requests with a time limit each, and stops it by PID.
 */
import { burstFigures, mergeWindows } from '../kernel-bursts.js';
import type { KernelBurstWatch } from '../kernel-bursts-watch.js';
import type { OutsideSummary } from '../latency.js';
import type { ProcessGroup } from '../processes.js';
import { WorkerProcess } from '../worker-process.js';
import type { Target } from '../servers/server.js';
import type { LoadgenRequest, OpenResult, StepResult, Totals } from './protocol.js';

export class Loadgen {
  private kernel: KernelBurstWatch | null = null;

  private constructor(private readonly w: WorkerProcess<LoadgenRequest>) {}

  get pid(): number {
    return this.w.pid;
  }

  static async start(processes: ProcessGroup, cpus: string | null): Promise<Loadgen> {
    return new Loadgen(await WorkerProcess.start<LoadgenRequest>(processes, cpus, 'loadgen', new URL('./worker.js', import.meta.url)));
  }

  private request<T>(req: LoadgenRequest, expectedMs: number): Promise<T> {
    return this.w.request<T>(req, expectedMs);
  }

  /** Opens `count` subscribers; `perS` is the subscribe rate. */
  subscribe(target: Target, count: number, concurrency: number): Promise<OpenResult> {
    return this.request({ cmd: 'subscribe', target, count, concurrency }, count * 10);
  }

  publisher(target: Target): Promise<void> {
    return this.request({ cmd: 'publisher', target }, 0);
  }

  /** From now on every step also reports the kernel threads' bursts during it, and the latency outside them. */
  watchKernel(watch: KernelBurstWatch): void {
    this.kernel = watch;
  }

  async step(o: { ratePerS: number; durationMs: number; drainMs: number; quietMs: number; settleMaxMs: number; serverPids: number[] }): Promise<StepResult> {
    const s = await this.request<StepResult>({ cmd: 'step', ...o, sendTimes: this.kernel !== null }, o.settleMaxMs + o.durationMs + 2 * o.drainMs);
    if (this.kernel) {
      const { bursts } = await this.kernel.take(s.fromUs, s.toUs);
      const outside = bursts.length ? await this.request<OutsideSummary>({ cmd: 'outside', exclude: mergeWindows(bursts), untilUs: s.toUs }, 0) : { share: 1, p50Ms: s.latency.p50Ms, p99Ms: s.latency.p99Ms };
      s.kernel = { ...burstFigures(bursts), outside };
    }
    return s;
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
    await this.w.stop();
  }
}
