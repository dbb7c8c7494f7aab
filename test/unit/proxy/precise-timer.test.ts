/**
 * The fault proxy's timers (`precise-timer.ts`): never before their time, in time order,
 * cancellable, with a real waiting thread; a process whose only pending work is such a
 * timer still exits; and if the thread ends, timers go on with the event loop's.
 */
import { spawn } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PreciseTimers } from '../../../src/proxy/precise-timer.js';
import { waitFor } from '../../helpers/wait.js';

interface Fired {
  id: number;
  at: number;
  firedAt: number;
}

/** Schedules `times` (ms from now) on `timers`; resolves with each one's firing, in firing order. */
async function fireAll(timers: PreciseTimers, offsets: number[]): Promise<Fired[]> {
  const fired: Fired[] = [];
  const base = performance.now();
  offsets.forEach((off, id) => {
    const at = base + off;
    timers.at(at, () => fired.push({ id, at, firedAt: performance.now() }));
  });
  await waitFor(() => fired.length === offsets.length, { what: 'every timer fired', timeoutMs: 10_000 });
  return fired;
}

function expectInTimeOrder(fired: Fired[]): void {
  for (const f of fired) expect(f.firedAt).toBeGreaterThanOrEqual(f.at);
  for (let i = 1; i < fired.length; i++) {
    const [a, b] = [fired[i - 1]!, fired[i]!];
    // Time order; equal times in the order they were set.
    expect(a.at < b.at || (a.at === b.at && a.id < b.id)).toBe(true);
  }
}

describe('PreciseTimers', () => {
  it('fires every timer at or after its time, in time order (equal times in the order set)', async () => {
    const timers = new PreciseTimers();
    // Random times over 40 ms, with some repeated and some already past.
    const offsets = Array.from({ length: 300 }, (_, i) => (i % 10 === 0 ? 5 : i % 17 === 0 ? -3 : Math.random() * 40));
    const fired = await fireAll(timers, offsets);
    expectInTimeOrder(fired);
    expect(new Set(fired.map((f) => f.id)).size).toBe(offsets.length);
    expect(timers.size).toBe(0);
  });

  it('fires a timer whose time has passed in a later turn, not while it is being set', async () => {
    const timers = new PreciseTimers();
    let fired = false;
    timers.at(performance.now() - 1, () => (fired = true));
    expect(fired).toBe(false);
    await waitFor(() => fired, { what: 'the past timer fired' });
  });

  it('never fires a cancelled timer, also when it was the one the thread waited for', async () => {
    const timers = new PreciseTimers();
    const fired: string[] = [];
    const now = performance.now();
    const first = timers.at(now + 10, () => fired.push('first'));
    timers.at(now + 20, () => fired.push('second'));
    const third = timers.at(now + 25, () => fired.push('third'));
    timers.at(now + 30, () => fired.push('fourth'));
    first.cancel();
    third.cancel();
    await waitFor(() => fired.includes('fourth'), { what: 'the last timer fired' });
    expect(fired).toEqual(['second', 'fourth']);
  });

  it('wakes for a timer set earlier than the one the thread waits for', async () => {
    const timers = new PreciseTimers();
    const base = performance.now();
    let late = false;
    const later = timers.at(base + 60_000, () => (late = true));
    let early: number | null = null;
    timers.at(base + 5, () => (early = performance.now()));
    await waitFor(() => early !== null, { what: 'the earlier timer fired' });
    // Not at the later one's time: it has not fired yet.
    expect(late).toBe(false);
    later.cancel();
  });

  it('takes timers set from a callback, earlier than the one the thread waits for', async () => {
    const timers = new PreciseTimers();
    const fired: Fired[] = [];
    const base = performance.now();
    timers.at(base + 30, () => fired.push({ id: 2, at: base + 30, firedAt: performance.now() }));
    timers.at(base + 2, () => {
      fired.push({ id: 0, at: base + 2, firedAt: performance.now() });
      timers.at(base + 8, () => fired.push({ id: 1, at: base + 8, firedAt: performance.now() }));
    });
    await waitFor(() => fired.length === 3, { what: 'three timers fired' });
    expect(fired.map((f) => f.id)).toEqual([0, 1, 2]);
    expectInTimeOrder(fired);
  });

  it('goes on with the event loop timers if its thread ends', async () => {
    const timers = new PreciseTimers();
    await fireAll(timers, [1]);
    const thread = (timers as unknown as { thread: Worker }).thread;
    const pending = fireAll(timers, [50, 60]);
    expect(timers.precise).toBe(true);
    await thread.terminate();
    const fired = await pending;
    expect(timers.precise).toBe(false);
    expectInTimeOrder(fired);
    expect(fired.map((f) => f.id)).toEqual([0, 1]);
    expectInTimeOrder(await fireAll(timers, [5, 1]));
  });

  it('keeps no process alive: a script that ends with a timer pending exits', async () => {
    // The built module in dist/, as a proxy's process loads it.
    const url = new URL('../../../dist/proxy/precise-timer.js', import.meta.url).href;
    const script = `
      import { preciseTimers } from ${JSON.stringify(url)};
      const t0 = performance.now();
      // Alive until the first timer has fired (however long the thread takes to start on
      // a loaded machine); after that only the 60 s timer is pending.
      const alive = setInterval(() => undefined, 1000);
      preciseTimers.at(t0 + 5, () => {
        console.log('fired ' + (performance.now() >= t0 + 5) + ' precise ' + preciseTimers.precise);
        preciseTimers.at(performance.now() + 60_000, () => console.log('never'));
        clearInterval(alive);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const deadline = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit (printed: ${out})`));
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(deadline);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    // Run with flags of its own (--input-type=module) that its thread must not take.
    expect(out.trim()).toBe('fired true precise true');
  });
});
