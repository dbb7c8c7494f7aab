/**
 * CPU over a measurement window: each node's share (so a catch-up shows which node is
 * busy: the master, the globalmaster), their sum (every node is pinned to the server
 * CPU, so a sum near 100 % means that core was full), ours (the run, which hosts the
 * fault proxies, and the probe), and what other processes on the machine took.
 */
import { cpuSeconds, cpuTimes, machineBusySeconds } from '../proc.js';

export interface CpuFigures {
  seconds: number;
  /** % of one core per node. */
  nodes: Record<string, number>;
  /** Sum over the nodes (% of one core). */
  serverPct: number;
  /**
   * The nodes' system time (the kernel's work for them: syscalls, page faults), % of one
   * core (absent in reports before 2026-12-03).
   */
  serverSystemPct?: number;
  /** The nodes' minor page faults in the window, summed (first touches of memory they were given). */
  serverFaults?: number;
  /** The run process (fault proxies, link balancers) and the probe (% of one core). */
  ownPct: number;
  /** Everything else on the machine, softirq excluded (% of one core). */
  otherPct: number;
}

export class CpuWindow {
  private constructor(
    private readonly nodes: { name: string; pid: number }[],
    private readonly own: number[],
    private readonly t0: number,
    private readonly node0: { user: number; system: number; minorFaults: number }[],
    private readonly own0: number,
    private readonly busy0: { busy: number; softirq: number },
  ) {}

  static start(nodes: { name: string; pid: number }[], own: number[]): CpuWindow {
    return new CpuWindow(
      nodes,
      own,
      performance.now(),
      nodes.map((n) => cpuTimes(n.pid)),
      own.reduce((a, p) => a + cpuSeconds(p), 0),
      machineBusySeconds(),
    );
  }

  end(): CpuFigures {
    const s = (performance.now() - this.t0) / 1000;
    const pct = (cpu: number) => Math.round((1000 * cpu) / s) / 10;
    const now = this.nodes.map((n) => cpuTimes(n.pid));
    // A node gone since the start (killed) counts nothing.
    const delta = (f: (t: { user: number; system: number; minorFaults: number }) => number) =>
      now.map((t, i) => Math.max(0, f(t) - f(this.node0[i]!)) || 0);
    const perNode = delta((t) => t.user + t.system);
    const server = perNode.reduce((a, x) => a + x, 0);
    const system = delta((t) => t.system).reduce((a, x) => a + x, 0);
    const faults = delta((t) => t.minorFaults).reduce((a, x) => a + x, 0);
    const own = this.own.reduce((a, p) => a + cpuSeconds(p), 0) - this.own0;
    const b = machineBusySeconds();
    const other = Math.max(0, b.busy - this.busy0.busy - (b.softirq - this.busy0.softirq) - server - own);
    return {
      seconds: Math.round(s * 100) / 100,
      nodes: Object.fromEntries(this.nodes.map((n, i) => [n.name, pct(perNode[i]!)])),
      serverPct: pct(server),
      serverSystemPct: pct(system),
      serverFaults: faults,
      ownPct: pct(own),
      otherPct: pct(other),
    };
  }
}
