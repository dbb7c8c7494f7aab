/**
 * A step's window (src/bench/loadgen/step-window.ts) reports how late this process's
 * event loop ran: a loop blocked for 60 ms inside the window shows as about that much
 * lateness at p99, and none of it as CPU of the (absent) servers. It also reports how
 * long the servers waited for a core: three busy processes pinned to one core each wait
 * about two thirds of the time, twice as long as they run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cpuWindow } from '../../../src/bench/loadgen/step-window.js';

const later = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('cpuWindow', () => {
  it("reports the event loop's lateness (p99, beyond the 1 ms timer) and this process's CPU", async () => {
    const w = cpuWindow([]);
    await later(10);
    // The loop is blocked (the 1 ms timer cannot fire) for 60 ms, and for as long as it
    // takes to use 60 ms of CPU: on a loaded machine the spin got only 38 ms of its 60.
    const until = performance.now() + 60;
    const cpu0 = process.cpuUsage();
    const cpuMs = () => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1000;
    };
    while (performance.now() < until || cpuMs() < 60);
    await later(10);
    const u = w.end();
    // About 20 samples of ~1 ms and one of ~60: the p99 is the blocked stretch, less the period.
    expect(u.selfLagP99Ms).toBeGreaterThanOrEqual(50);
    expect(u.selfLagP99Ms).toBeLessThan(1000);
    expect(u.selfCpu).toBeGreaterThanOrEqual(0.05);
    expect(u.serverCpu).toBe(0);
  });

  it('reports how long the servers waited for a core: three busy processes on one core wait twice as long as they run', async () => {
    // Each says when it starts and spins until killed below, for at most 15 s (bounded even
    // if the kill never came): one that ended early on a loaded machine, before the window
    // closed, would take its wait out of the figure.
    const spinner = () =>
      spawn('taskset', ['-c', '0', process.execPath, '-e', 'process.stdout.write("go\\n"); const end = Date.now() + 15000; while (Date.now() < end);'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const procs: ChildProcess[] = [spinner(), spinner(), spinner()];
    try {
      await Promise.all(procs.map((p) => once(p.stdout!, 'data')));
      const w = cpuWindow(procs.map((p) => p.pid!));
      const t0 = performance.now();
      await later(400);
      const u = w.end();
      const windowS = (performance.now() - t0) / 1000;
      // One core for three spinners: together they run one window and wait two. Time on
      // the core can never exceed one window, so a figure above that is the waiting.
      expect(u.serverWaitS).toBeGreaterThanOrEqual(1.3 * windowS);
      expect(u.serverWaitS).toBeGreaterThan(u.serverCpu);
      expect(u.serverWaitS).toBeLessThan(3 * windowS + 0.5);
      expect(u.serverRuns).toBeGreaterThan(0);
    } finally {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    }
  });
});

