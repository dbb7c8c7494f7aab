/**
 * The `ably-ng` command's answers to what it cannot do, as an operator sees them: a bad
 * topology exits 2 with its problems listed (each command loads its own code, and the
 * error is told by name: src/cli.ts), and `chaos` where no deployment runs exits 1.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCliPath } from '../../src/cli/supervisor.js';
import { removeTempDir, tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const cli = defaultCliPath();
let dir: string;

/** Exit code and stderr of `ably-ng …args` in the test's directory. */
async function fails(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [cli, ...args], { cwd: dir, timeout: 20_000 });
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  throw new Error(`ably-ng ${args.join(' ')} succeeded`);
}

beforeAll(() => {
  dir = tempDir('cli-errors');
  writeFileSync(join(dir, 'bad.yaml'), 'deployment: x\nregions: []\n');
});

afterAll(() => removeTempDir(dir));

describe('ably-ng on bad input', () => {
  it('exits 2 with the problems of a bad topology, for node and up alike', async () => {
    for (const args of [['node', '--topology', 'bad.yaml', '--region', 'r', '--node', 'n'], ['up', 'bad.yaml']]) {
      const r = await fails(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('bad.yaml: invalid topology:');
      expect(r.stderr).toContain('regions: a deployment needs at least one region');
    }
    const missing = await fails('up', 'nowhere.yaml');
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toMatch(/nowhere\.yaml: invalid topology:\n\s+cannot read file: ENOENT/);
  });

  it('refuses a joining node a name or ports it cannot have, and a log level pino does not know, before starting anything', async () => {
    const topology = join(import.meta.dirname, '..', '..', 'regions', 'local.yaml');
    const node = (...more: string[]) => fails('node', '--topology', topology, '--region', 'eu', ...more);
    expect((await node('--node', 'bad name.*')).stderr).toMatch(/--node <name>' argument 'bad name\.\*' is invalid/);
    expect((await node('--node', 'eu-9', '--log-level', 'bogus')).stderr).toMatch(/must be one of fatal, error, warn, info, debug, trace/);
    expect((await node('--node', 'eu-9', '--port', '0', '--mesh-port', '45124')).stderr).toMatch(/must be a port number \(1-65535\)/);
    const other = await node('--node', 'us-1', '--port', '45123', '--mesh-port', '45124');
    expect(other).toMatchObject({ code: 2 });
    expect(other.stderr).toContain('node "us-1" is a node of region "us", not "eu": a node joining needs a name of its own');
    expect((await node('--node', 'eu-9', '--port', '45123', '--mesh-port', '45123')).stderr).toContain('--port and --mesh-port are both 45123');
  });

  it('exits 1 from a chaos command where no deployment runs, saying so', async () => {
    const r = await fails('chaos', 'state');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ably-ng: no .ably-ng here: run "ably-ng up" in this directory first\n');
  });

  it('exits 1 from a chaos run asked to trace a client the workload has no way of naming, before starting anything', async () => {
    const r = await fails('chaos', 'run', 'nowhere.yaml', '--trace', 'eu-sub1,subscriber');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ably-ng: --trace: subscriber is not a workload client (REGION-subN, REGION-pubN or REGION-memN)\n');
  });
});
