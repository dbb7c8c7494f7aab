/**
 * The machine-speed calibration that opens and closes every bench run: real child
 * processes (the built worker in dist/, as `run.js` starts it), pinned where asked, and
 * every one of them stopped afterwards.
 */
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type * as MachineSpeedModule from '../../../src/bench/machine-speed.js';
import { pidAlive } from '../../../src/cli/chaos.js';
import { ProcessGroup, hasTaskset, type Spawned } from '../../../src/bench/processes.js';

// The worker runs from dist/ (make test builds first), as it does under run.js.
const { measureMachineSpeed, machineSpeedText, speedText } = (await import(new URL('../../../dist/bench/machine-speed.js', import.meta.url).href)) as typeof MachineSpeedModule;

const processes = new ProcessGroup();
afterEach(() => processes.stopAll());

describe('measureMachineSpeed', () => {
  it('measures a hash loop on each core, a page fault on the servers\' core, and loopback round trips on one core and across two, back to back and after idling, then stops every child', async () => {
    const spawned: Spawned[] = [];
    const spawn = processes.spawn.bind(processes);
    processes.spawn = (...args) => {
      const s = spawn(...args);
      spawned.push(s);
      return s;
    };
    const pin = hasTaskset() && os.cpus().length >= 2;
    const t0 = Date.now();
    const s = await measureMachineSpeed(processes, pin ? { server: '0', loadgen: '1' } : { server: null, loadgen: null });
    // Two runs of 200 round trips, each after 10 ms idle, cannot take less than 4 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000);

    for (const ns of [s.loopNs.server, s.loopNs.loadgen]) {
      // A multiply and an xor per iteration: well under 100 ns on anything that runs Node.
      expect(ns).toBeGreaterThan(0.05);
      expect(ns).toBeLessThan(100);
    }
    for (const rt of [s.sameCore, s.acrossCores, s.sameCoreIdle!, s.acrossCoresIdle!]) {
      expect(rt.p50Us).toBeGreaterThan(1);
      expect(rt.p99Us).toBeGreaterThanOrEqual(rt.p50Us);
    }
    // The kernel's work for a fault (finding, zeroing and mapping a page): something, and
    // well under a millisecond anywhere.
    expect(s.pageFaultUs).toBeGreaterThan(0.05);
    expect(s.pageFaultUs).toBeLessThan(1000);
    // Three loops per core, three fault runs, an echo server, four pingers (two of them idling between round trips).
    expect(spawned.map((c) => c.name).sort()).toEqual(
      ['machine-speed echo', ...Array(6).fill('machine-speed loop'), ...Array(3).fill('machine-speed faults'), ...Array(4).fill('machine-speed ping')].sort(),
    );
    const args = spawned.map((c) => c.proc.spawnargs.join(' '));
    expect(args.filter((a) => / ping \d+ 200 10 10$/.test(a)).length).toBe(2);
    if (pin) {
      expect(args.filter((a) => a.includes('taskset -c 0')).length).toBe(3 + 3 + 1 + 2); // server loops, fault runs, echo, same-core pings
      expect(args.filter((a) => a.includes('taskset -c 1')).length).toBe(3 + 2); // load generator loops, across-cores pings
    }
    // Every child is gone once the measurement returns (waiting for their exits here would
    // only hide one left running behind the test's timeout).
    expect(spawned.filter((c) => pidAlive(c.pid))).toEqual([]);
  });

  it('says so when a measurement is missing', () => {
    expect(speedText(null)).toBe('not measured');
    const s = { loopNs: { server: 1.1, loadgen: 1.2 }, sameCore: { p50Us: 20, p99Us: 80 }, acrossCores: { p50Us: 70, p99Us: 200 } };
    expect(machineSpeedText(s, null)).toBe(`at the start: ${speedText(s)}; at the end: not measured`);
    expect(speedText(s)).toContain('p50 20 µs (p99 80)');
    expect(speedText(s)).toContain('p50 70 µs (p99 200)');
    expect(speedText(s)).not.toContain('idle');
    const idle = { ...s, sameCoreIdle: { p50Us: 110, p99Us: 190 }, acrossCoresIdle: { p50Us: 260, p99Us: 400 } };
    expect(speedText(idle)).toContain('each after 10 ms idle, p50 110 µs on one core (p99 190) and 260 µs across (p99 400)');
    expect(speedText(idle)).not.toContain('page fault');
    expect(speedText({ ...idle, pageFaultUs: 10.6 })).toContain("a minor page fault (first touch of fresh memory) 10.6 µs on the servers' core");
  });
});
