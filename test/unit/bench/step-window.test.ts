/**
 * A step's window (src/bench/loadgen/step-window.ts) reports how late this process's
 * event loop ran: a loop blocked for 60 ms inside the window shows as about that much
 * lateness at p99, and none of it as CPU of the (absent) servers.
 */
import { describe, expect, it } from 'vitest';
import { cpuWindow } from '../../../src/bench/loadgen/step-window.js';

const later = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('cpuWindow', () => {
  it("reports the event loop's lateness (p99, beyond the 1 ms timer) and this process's CPU", async () => {
    const w = cpuWindow([]);
    await later(10);
    const until = performance.now() + 60;
    while (performance.now() < until); // the loop is blocked: the 1 ms timer cannot fire
    await later(10);
    const u = w.end();
    // About 20 samples of ~1 ms and one of ~60: the p99 is the blocked stretch, less the period.
    expect(u.selfLagP99Ms).toBeGreaterThanOrEqual(50);
    expect(u.selfLagP99Ms).toBeLessThan(1000);
    expect(u.selfCpu).toBeGreaterThanOrEqual(0.05);
    expect(u.serverCpu).toBe(0);
  });
});
