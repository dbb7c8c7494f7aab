/**
 * Ports for deployments made up on the fly (tests, chaos runs, benchmarks). They are
 * taken below the kernel's ephemeral range (32768+ here), where listen(0) and outgoing
 * connections never land, so a port chosen now is still free when a node binds it.
 *
 * Several processes choose at once (vitest's workers, a chaos run beside a test run):
 * each port handed out is claimed in a file under PORTS_DIR, made only if it does not
 * exist, so two processes never hand out one port while neither has bound it yet (seen
 * as a node's "EADDRINUSE" at start-up). A process's claims go when it exits; a claim
 * whose process is gone (killed) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const LOW = 10_000;
const HIGH = 32_000;
/** Fixed, not the temporary directory: a test run may set its own TMPDIR. */
const PORTS_DIR = '/tmp/ably-ng-ports';
const taken = new Set<number>();
const claims: string[] = [];

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `port` for this process (false: another live process has it). */
function claim(port: number): boolean {
  const file = join(PORTS_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      if (claims.length === 0) process.once('exit', releaseClaims);
      claims.push(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        // Released between our write and this read: try again.
      }
      if (owner > 0 && alive(owner)) return false;
      try {
        unlinkSync(file);
      } catch {
        // Another process took it over first; the next write tells.
      }
    }
  }
  return false;
}

function releaseClaims(): void {
  for (const f of claims.splice(0)) {
    try {
      unlinkSync(f);
    } catch {
      // Already gone.
    }
  }
}

/** `n` distinct ports that are free now and handed out to no other live process. */
export async function reservePorts(n: number): Promise<number[]> {
  mkdirSync(PORTS_DIR, { recursive: true });
  const out: number[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > n * 100) throw new Error(`could not find ${n} free ports in ${LOW}..${HIGH}`);
    const p = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (taken.has(p) || !(await canBind(p)) || !claim(p)) continue;
    taken.add(p);
    out.push(p);
  }
  return out;
}
