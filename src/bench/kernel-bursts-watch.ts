/**
 * The run's handle on kernel-bursts-worker.ts: which kernel threads took a core for a
 * millisecond or more, and when, over a scenario's measurements.
 */
import type { ProcessGroup } from './processes.js';
import type { KernelBurst } from './kernel-bursts.js';
import { WorkerProcess } from './worker-process.js';

type Request = { cmd: 'take'; fromUs: number; toUs: number } | { cmd: 'watch'; pid: number };

export interface TakenBursts {
  bursts: KernelBurst[];
  /** The kernel threads watched closely so far (any that ran a millisecond between two scans). */
  threads: string[];
}

export class KernelBurstWatch {
  private constructor(private readonly w: WorkerProcess<Request>) {}

  /** Starts the watcher pinned to `cpus` (the load generator's: it reads a file a millisecond). */
  static async start(processes: ProcessGroup, cpus: string | null): Promise<KernelBurstWatch> {
    return new KernelBurstWatch(await WorkerProcess.start<Request>(processes, cpus, 'kernel-bursts', new URL('./kernel-bursts-worker.js', import.meta.url)));
  }

  /** The bursts that overlap [fromUs, toUs] (µs, payload.ts's nowUs clock). */
  take(fromUs: number, toUs: number): Promise<TakenBursts> {
    return this.w.request<TakenBursts>({ cmd: 'take', fromUs, toUs }, 1000);
  }

  /** Watches a process closely from now on, kernel thread or not. */
  async watch(pid: number): Promise<void> {
    await this.w.request({ cmd: 'watch', pid }, 1000);
  }

  async stop(): Promise<void> {
    await this.w.stop();
  }
}
