/**
 * A node whose supervisor is gone must still be able to exit. Its stderr went with the
 * supervisor; pino flushes what is unwritten at exit, and that flush retried a write that
 * failed with EPIPE for ever (two orphaned nodes were found hung so, deaf to SIGTERM).
 * `dropLogs()` (src/log.ts), which a node calls when its supervisor goes (src/cli/node.ts),
 * makes the exit safe. Real processes: a supervisor that starts the built node CLI with an
 * IPC channel and its stderr on a pipe it never reads, waits for the node to be ready, and
 * exits. The node logs at debug level, and the test publishes on 400 new channels (each
 * claim logged), more than the pipe holds, so that unwritten logs are held at its exit.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/cli/chaos.js';
import { removeTempDir } from '../helpers/tmp.js';
import { KEY, makeTopology } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const started: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const d of dirs.splice(0)) removeTempDir(d);
});

describe('a node whose supervisor is gone', () => {
  it('exits, with logs its stderr could not take', async () => {
    const { file, dir, topology } = await makeTopology();
    dirs.push(dir);
    const node = topology.regions[0]!.nodes[0]!;
    writeFileSync(
      join(dir, 'supervisor.mjs'),
      `import { spawn } from 'node:child_process';
const args = [${JSON.stringify(cli)}, 'node', '--topology', ${JSON.stringify(file)}, '--region', 'r1', '--node', ${JSON.stringify(node.name)}, '--log-level', 'debug'];
const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
let out = '';
c.stdout.on('data', (b) => {
  out += b;
  if (!out.includes('"ready":true')) return;
  console.log(c.pid);
  // Until told to go: the test fills the node's stderr meanwhile.
  process.stdin.once('data', () => process.exit(0));
});
`,
    );
    const sup = spawn(process.execPath, ['supervisor.mjs'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    sup.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const pid = Number(await waitFor(() => out.trim(), { what: 'the node ready under its supervisor', timeoutMs: 20_000 }));
    expect(pid).toBeGreaterThan(0);
    started.push(pid);
    // A claim of each new channel is logged (debug): more than a pipe's 64 KB of lines.
    const auth = { authorization: `Basic ${Buffer.from(KEY).toString('base64')}`, 'content-type': 'application/json' };
    for (let i = 0; i < 400; i++) {
      const res = await fetch(`http://127.0.0.1:${node.port}/channels/orphan-${i}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'n', data: 'd' }) });
      expect(res.status).toBe(201);
    }
    const supGone = new Promise((r) => sup.once('exit', r));
    sup.stdin!.end('go\n');
    await supGone;
    await waitFor(() => !pidAlive(pid), { what: 'the orphaned node to exit', timeoutMs: 15_000 });
  });
});
