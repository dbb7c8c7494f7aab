/**
 * The run's handle on one probe process (worker.ts): starts it pinned to the load
 * generator's CPUs, sends it requests (several may be under way at once) with a time
 * limit each, and stops it by PID.
 */
import type { ProcessGroup } from '../processes.js';
import { WorkerProcess } from '../worker-process.js';
import type { GroupSummary, ProbeRequest, PublishResult, SubscribeResult, SummaryQuery, WaitResult } from './protocol.js';

export interface PublishOptions {
  /** Messages per second; 0: as fast as acknowledgements allow. */
  ratePerS: number;
  /** Stop after this many messages (0: no limit) or this long (0: no limit), or on `stop`. */
  count?: number;
  durationMs?: number;
  maxInFlight?: number;
  ackWaitMs?: number;
}

export class Probe {
  private constructor(private readonly w: WorkerProcess<ProbeRequest>) {}

  get pid(): number {
    return this.w.pid;
  }

  static async start(processes: ProcessGroup, cpus: string | null): Promise<Probe> {
    return new Probe(await WorkerProcess.start<ProbeRequest>(processes, cpus, 'probe', new URL('./worker.js', import.meta.url)));
  }

  private request<T>(req: ProbeRequest, expectedMs: number): Promise<T> {
    return this.w.request<T>(req, expectedMs);
  }

  subscribe(group: string, urls: string[], count: number, channel: string, key: string, concurrency = 100): Promise<SubscribeResult> {
    return this.request({ cmd: 'subscribe', group, urls, count, channel, key, concurrency }, count * 20);
  }

  publisher(name: string, url: string, channel: string, key: string): Promise<void> {
    return this.request({ cmd: 'publisher', name, url, channel, key }, 0);
  }

  publish(name: string, o: PublishOptions): Promise<PublishResult> {
    const ackWaitMs = o.ackWaitMs ?? 10_000;
    // Unbounded publishes (ended by `stop`) get the longest a scenario may take.
    const expected = o.durationMs ? o.durationMs : o.count && o.ratePerS ? (1000 * o.count) / o.ratePerS : 300_000;
    return this.request(
      { cmd: 'publish', name, ratePerS: o.ratePerS, count: o.count ?? 0, durationMs: o.durationMs ?? 0, maxInFlight: o.maxInFlight ?? 1000, ackWaitMs },
      expected + ackWaitMs,
    );
  }

  /** Ends the publish under way on that publisher. */
  stopPublishing(name: string): Promise<void> {
    return this.request({ cmd: 'stop', name }, 0);
  }

  waitFor(group: string, fromSeq: number, toSeq: number, timeoutMs: number, quietMs = timeoutMs): Promise<WaitResult> {
    return this.request({ cmd: 'waitFor', group, fromSeq, toSeq, timeoutMs, quietMs }, timeoutMs);
  }

  summary(group: string, query: SummaryQuery): Promise<GroupSummary> {
    return this.request({ cmd: 'summary', group, query }, 0);
  }

  closeAll(): Promise<{ notes: string[] }> {
    return this.request({ cmd: 'closeAll' }, 10_000);
  }

  /** Stops the process by PID (its connections die with it). */
  async stop(): Promise<void> {
    await this.w.stop();
  }
}
