/**
 * What both load generators (worker.ts, channels-worker.ts) measure around a step: the
 * CPU the servers, this process, softirq and everything else used in its window, and
 * the wait for deliveries to drain after publishing stopped.
 */
import { cpuSecondsOf, machineBusySeconds } from '../proc.js';

/** How often the drain wait looks again. */
const DRAIN_POLL_MS = 10;

export interface CpuUse {
  /** CPU seconds in the window. */
  serverCpu: number;
  selfCpu: number;
  softirq: number;
  otherCpu: number;
}

/** Starts counting now; `end()` says what each party used since. */
export function cpuWindow(serverPids: number[]): { end(): CpuUse } {
  const cpu0 = cpuSecondsOf(serverPids);
  const busy0 = machineBusySeconds();
  const self0 = process.cpuUsage();
  return {
    end(): CpuUse {
      const serverCpu = cpuSecondsOf(serverPids) - cpu0;
      const self = process.cpuUsage(self0);
      const selfCpu = (self.user + self.system) / 1e6;
      const busy1 = machineBusySeconds();
      const softirq = busy1.softirq - busy0.softirq;
      const otherCpu = Math.max(0, busy1.busy - busy0.busy - softirq - serverCpu - selfCpu);
      return { serverCpu, selfCpu, softirq, otherCpu };
    },
  };
}

/**
 * After publishing ended (at `pubEndUs`, µs): waits until everything expected arrived,
 * or `drainMs` passed, or nothing arrived for `quietMs` (since the last delivery or the
 * end of publishing, whichever is later).
 */
export async function drain(o: {
  received: () => number;
  expected: () => number;
  lastDeliveryUs: () => number;
  pubEndUs: number;
  drainMs: number;
  quietMs: number;
  nowUs: () => number;
}): Promise<void> {
  for (;;) {
    const now = o.nowUs();
    if (o.received() >= o.expected()) return;
    if (now - o.pubEndUs >= o.drainMs * 1000) return;
    if (now - Math.max(o.lastDeliveryUs(), o.pubEndUs) >= o.quietMs * 1000) return;
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
}
