/**
 * The run's handle on one many-channel load generator process (channels-worker.ts):
 * starts it pinned to the load generator's CPUs, sends it requests with a time limit
 * each, and stops it by PID.
 */
import type { ProcessGroup } from '../processes.js';
import { WorkerProcess } from '../worker-process.js';
import type { ChannelsOpenResult, ChannelsPlan, ChannelsRequest, StepResult, Totals } from './channels-protocol.js';

export class ChannelsLoadgen {
  private constructor(private readonly w: WorkerProcess<ChannelsRequest>) {}

  get pid(): number {
    return this.w.pid;
  }

  static async start(processes: ProcessGroup, cpus: string | null): Promise<ChannelsLoadgen> {
    return new ChannelsLoadgen(await WorkerProcess.start<ChannelsRequest>(processes, cpus, 'loadgen-channels', new URL('./channels-worker.js', import.meta.url)));
  }

  private request<T>(req: ChannelsRequest, expectedMs: number): Promise<T> {
    return this.w.request<T>(req, expectedMs);
  }

  /** Opens the subscriber connections with their attaches, and the publishers. */
  open(plan: ChannelsPlan): Promise<ChannelsOpenResult> {
    return this.request({ cmd: 'open', plan }, plan.channels.length * plan.subscribersPerChannel * 2 + plan.connections * 20);
  }

  step(o: { publishPerS: number; durationMs: number; drainMs: number; quietMs: number; settleMaxMs: number; serverPids: number[] }): Promise<StepResult> {
    return this.request({ cmd: 'step', ...o }, o.settleMaxMs + o.durationMs + 2 * o.drainMs);
  }

  totals(quietMs: number, settleMaxMs: number): Promise<Totals> {
    return this.request({ cmd: 'totals', quietMs, settleMaxMs }, settleMaxMs);
  }

  closeAll(concurrency: number, expectedMs = 20_000): Promise<{ closed: number; ms: number; notes: string[] }> {
    return this.request({ cmd: 'closeAll', concurrency }, expectedMs);
  }

  /** Stops the process by PID (its connections die with it). */
  async stop(): Promise<void> {
    await this.w.stop();
  }
}
