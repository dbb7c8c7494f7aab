/**
 * The kernel-burst watcher as run.js starts it (the built worker in dist/, a real child
 * process reading /proc), given a process of ours that runs in bursts it reports itself:
 * each burst is found, its window holds it, and its run time is the one the process used.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type * as WatchModule from '../../../src/bench/kernel-bursts-watch.js';
import { nowUs } from '../../../src/bench/payload.js';
import { ProcessGroup } from '../../../src/bench/processes.js';
import { waitFor } from '../../helpers/wait.js';

// The worker runs from dist/ (make test builds first), as it does under run.js.
const { KernelBurstWatch } = (await import(new URL('../../../dist/bench/kernel-bursts-watch.js', import.meta.url).href)) as typeof WatchModule;

const processes = new ProcessGroup();
afterEach(() => processes.stopAll());

/**
 * Every 150 ms: spin until the process has used 20 ms more CPU, then print the spin's
 * start and end (µs, nowUs's clock) and the CPU it used (ms). V8 runs single-threaded (no
 * compiler or collector threads), so the process's CPU is its main thread's, whose run
 * time the watcher reads; on a busy machine the spin takes longer than 20 ms of wall time.
 */
const SPINNER = `
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
setInterval(() => {
  const c0 = process.cpuUsage(); const t0 = now();
  let c;
  do c = process.cpuUsage(c0); while (c.user + c.system < 20000);
  console.log(JSON.stringify([t0, now(), (c.user + c.system) / 1000]));
}, 150);
`;

describe('KernelBurstWatch', () => {
  it.skipIf(process.platform !== 'linux')('finds each burst of a watched process, in a window that holds it, with the run time it used', async () => {
    const spins: [number, number, number][] = [];
    const spinner = processes.spawn('spinner', process.execPath, ['--single-threaded', '-e', SPINNER], { cpus: null, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    spinner.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        spins.push(JSON.parse(buf.slice(0, i)) as [number, number, number]);
        buf = buf.slice(i + 1);
      }
    });
    const watch = await KernelBurstWatch.start(processes, null);
    await watch.watch(spinner.pid);
    const from = nowUs();
    // The first spin printed is left out: Node sets up stdout after it, on the same thread.
    const counting = () => spins.slice(1).filter(([s]) => s > from + 5000);
    await waitFor(() => counting().length >= 5, { timeoutMs: 10_000, what: 'five spins' });
    // A little after the last spin, so that its burst has ended.
    const to = spins[spins.length - 1]![1] + 5000;
    await waitFor(() => nowUs() > to + 5000, { timeoutMs: 1000, intervalMs: 2, what: 'the quiet after the last spin' });
    const { bursts, threads } = await watch.take(from, to);
    expect(threads).toContain(readFileSync(`/proc/${spinner.pid}/comm`, 'utf8').trim());
    const mine = bursts.filter((b) => b.pid === spinner.pid);
    const counted = counting().filter(([, e]) => e < to);
    expect(counted.length).toBeGreaterThanOrEqual(5);
    for (const [s, e, cpuMs] of counted) {
      const over = mine.filter((b) => b.toUs >= s && b.fromUs <= e);
      expect(over.length, `a burst over the spin ${s}–${e}`).toBeGreaterThanOrEqual(1);
      // The window holds the spin's run: it starts by the spin's start and ends by its end,
      // give or take the time the spin was kept from its core (a window is placed by run
      // time: in a fresh clone's .ci/run a window ended 7.4 ms before the end a spin
      // printed, its run time no longer growing, the spinner kept from its core before it
      // read the clock) and a millisecond.
      const waitedUs = e - s - cpuMs * 1000;
      expect(Math.min(...over.map((b) => b.fromUs))).toBeLessThanOrEqual(s + waitedUs + 1000);
      expect(Math.max(...over.map((b) => b.toUs))).toBeGreaterThanOrEqual(e - waitedUs - 1000);
      // The CPU the spin used (20 ms), and a little more: the callback's own work around
      // it on the same thread (printing its line; V8 compiling it, once, took up to 6 ms;
      // 9.4 ms once in a make test on a loaded machine, 13.1 ms once in a fresh clone's
      // .ci/run on a host whose page faults took 10 µs), but never a second spin's (20 ms)
      // unless a window holds that one too: the watcher reads every millisecond, but on a
      // loaded machine it was kept from its core past the 130 ms between spins, and one
      // window then held two or three of them (47 and 61 ms, beside a chaos run).
      const run = over.reduce((a, b) => a + b.runMs, 0);
      const held = spins.slice(1).filter(([s2, e2]) => over.some((b) => b.toUs >= s2 && b.fromUs <= e2));
      expect(run).toBeGreaterThanOrEqual(cpuMs - 3);
      expect(run).toBeLessThan(held.reduce((a, [, , c]) => a + c, 0) + 18);
    }
    // Between spins the process sleeps: no burst lies wholly between two of them.
    for (const b of mine.filter((x) => x.fromUs > counted[0]![1] && x.toUs < counted[counted.length - 1]![0])) {
      expect(counted.some(([s, e]) => b.toUs >= s && b.fromUs <= e), `burst ${b.fromUs}–${b.toUs} overlaps a spin`).toBe(true);
    }
    await watch.stop();
  });
});
