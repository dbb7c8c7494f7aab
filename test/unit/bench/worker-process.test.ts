/**
 * Bench workers (load generators, probes) start with WORKER_V8_FLAGS and then whatever
 * ABLY_NG_LOADGEN_FLAGS adds, in that order, so the environment can override a default.
 * A real child process reports the flags it runs with.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../../../src/bench/processes.js';
import { WORKER_V8_FLAGS, WorkerProcess } from '../../../src/bench/worker-process.js';

const script = new URL('./fixtures/argv-worker.mjs', import.meta.url);
const processes = new ProcessGroup();
const saved = process.env.ABLY_NG_LOADGEN_FLAGS;

afterEach(async () => {
  await processes.stopAll();
  if (saved === undefined) delete process.env.ABLY_NG_LOADGEN_FLAGS;
  else process.env.ABLY_NG_LOADGEN_FLAGS = saved;
});

describe('WorkerProcess flags', () => {
  it("starts a worker with the default V8 flags, then ABLY_NG_LOADGEN_FLAGS's", async () => {
    expect(WORKER_V8_FLAGS).toContain('--initial-old-space-size=256');
    process.env.ABLY_NG_LOADGEN_FLAGS = ' --stack-size=900  --initial-old-space-size=64 ';
    const w = await WorkerProcess.start<{ cmd: string }>(processes, null, 'argv-worker', script);
    const argv = await w.request<string[]>({ cmd: 'argv' }, 1000);
    expect(argv).toEqual([...WORKER_V8_FLAGS, '--stack-size=900', '--initial-old-space-size=64']);
  });

  it('starts a worker with only the defaults when ABLY_NG_LOADGEN_FLAGS is unset', async () => {
    delete process.env.ABLY_NG_LOADGEN_FLAGS;
    const w = await WorkerProcess.start<{ cmd: string }>(processes, null, 'argv-worker', script);
    expect(await w.request<string[]>({ cmd: 'argv' }, 1000)).toEqual([...WORKER_V8_FLAGS]);
  });
});
