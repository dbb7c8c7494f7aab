/**
 * A process whose supervisor is gone must still be able to exit. Its stderr went with the
 * supervisor; pino flushes what is unwritten at exit, and that flush retried a write that
 * failed with EPIPE for ever (two orphaned nodes were found hung so, deaf to SIGTERM).
 * `dropLogs()` (src/log.ts), which a node calls when its supervisor goes, makes the exit
 * safe. Real processes: a supervisor that starts a child with an IPC channel and its
 * stderr on a pipe, waits for it to be ready, and exits; the child logs a great deal
 * after that, then exits. The built logger in dist/ is used, as a node uses it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/cli/chaos.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const logModule = fileURLToPath(new URL('../../dist/log.js', import.meta.url));
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
});

describe('a process whose supervisor is gone', () => {
  it('exits after logging a great deal to the stderr nobody reads, once its logs are dropped', async () => {
    const d = tempDir('orphan-logs');
    writeFileSync(
      join(d, 'child.mjs'),
      `import { createLogger, dropLogs } from ${JSON.stringify(logModule)};
const log = createLogger('info');
process.on('disconnect', () => {
  dropLogs();
  for (let i = 0; i < 20000; i++) log.info({ i, pad: 'x'.repeat(200) }, 'after the supervisor went');
  process.exit(0);
});
setInterval(() => {}, 1000);
process.send('ready');
`,
    );
    writeFileSync(
      join(d, 'supervisor.mjs'),
      `import { spawn } from 'node:child_process';
const c = spawn(process.execPath, ['child.mjs'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
c.on('message', () => { console.log(c.pid); process.exit(0); });
`,
    );
    const sup = spawn(process.execPath, ['supervisor.mjs'], { cwd: d, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sup.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((r) => sup.once('exit', r));
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    started.push(pid);
    await waitFor(() => !pidAlive(pid), { what: 'the orphaned child to exit', timeoutMs: 10_000 });
  });
});
