/**
 * How run.js runs a scenario (src/bench/scenarios/scenario.ts, runScenario): one that
 * `watchesKernel` gets a kernel-burst watcher in its context, a real child process that
 * answers, and stopped by PID when the scenario ends, whether it succeeded or threw; one
 * that does not gets none. The built module in dist/, as run.js uses it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type * as ScenarioModule from '../../../src/bench/scenarios/scenario.js';
import type { ScenarioContext } from '../../../src/bench/scenarios/scenario.js';
import { pidAlive } from '../../../src/cli/chaos.js';
import { ProcessGroup } from '../../../src/bench/processes.js';
import { nowUs } from '../../../src/bench/payload.js';
import { waitFor } from '../../helpers/wait.js';

const { runScenario } = (await import(new URL('../../../dist/bench/scenarios/scenario.js', import.meta.url).href)) as typeof ScenarioModule;

const processes = new ProcessGroup();
afterEach(() => processes.stopAll());

const ctx = { processes, cpus: { server: null, loadgen: null } } as unknown as ScenarioContext;
const result = { id: 'x', title: 'x', figures: {}, tables: [], plots: [], notes: [] };

describe('runScenario', () => {
  it('gives a scenario that watches the kernel a live watcher, and stops it after, even when the scenario throws', async () => {
    let pid = 0;
    let taken: unknown = null;
    const r = await runScenario(
      {
        id: 'x',
        title: 'x',
        covers: '',
        watchesKernel: true,
        async run(c) {
          pid = (c.kernel as unknown as { w: { pid: number } }).w.pid;
          taken = await c.kernel!.take(0, nowUs());
          return result;
        },
      },
      ctx,
    );
    expect(r).toBe(result);
    expect(taken).toMatchObject({ bursts: expect.any(Array), threads: expect.any(Array) });
    await waitFor(() => !pidAlive(pid), { what: 'the watcher stopped' });

    let pid2 = 0;
    const failing = runScenario(
      {
        id: 'y',
        title: 'y',
        covers: '',
        watchesKernel: true,
        async run(c) {
          pid2 = (c.kernel as unknown as { w: { pid: number } }).w.pid;
          throw new Error('scenario failed');
        },
      },
      ctx,
    );
    await expect(failing).rejects.toThrow('scenario failed');
    expect(pid2).toBeGreaterThan(0);
    await waitFor(() => !pidAlive(pid2), { what: 'the watcher stopped after a failure' });
  });

  it('gives a scenario that does not watch the kernel no watcher', async () => {
    let kernel: unknown = 'unset';
    await runScenario({ id: 'z', title: 'z', covers: '', async run(c) { kernel = c.kernel; return result; } }, ctx);
    expect(kernel).toBeUndefined();
  });
});
