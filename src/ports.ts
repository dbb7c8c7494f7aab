/**
 * Ports for deployments made up on the fly (tests, chaos runs, benchmarks). They are
 * taken below the kernel's ephemeral range (32768+ here), where listen(0) and outgoing
 * connections never land, so a port chosen now is still free when a node binds it.
 *
 * Several processes choose at once (vitest's workers, a chaos run beside a test run):
 * each port handed out is claimed in a file under PORTS_DIR, made only if it does not
 * exist, so two processes never hand out one port while neither has bound it yet (seen
 * as a node's "EADDRINUSE" at start-up). A process's claims go when it exits; those of
 * a process killed (as vitest stops its workers) are removed five minutes later. Where
 * the directory cannot be written, ports are handed out unclaimed.
 */
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const LOW = 10_000;
const HIGH = 32_000;
/** Fixed, not the temporary directory: a test run may set its own TMPDIR. */
const PORTS_DIR = '/tmp/ably-ng-ports';
/** A claim whose process is gone is removed once it is this old (ms); until then its port is skipped. */
const STALE_MS = 5 * 60 * 1000;
const taken = new Set<number>();
const claims: string[] = [];
/** null until the directory was tried; false where claims cannot be made there (ports are then unclaimed, as before claims existed). */
let claimsOn: boolean | null = null;

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

/**
 * The claims directory, open to every user (several may run tests on one machine), with
 * claims left by processes gone for STALE_MS removed. False where it cannot be written.
 */
function openClaims(): boolean {
  if (claimsOn !== null) return claimsOn;
  try {
    mkdirSync(PORTS_DIR, { recursive: true });
    try {
      chmodSync(PORTS_DIR, 0o1777);
    } catch {
      // Another user's directory: it was made open when made.
    }
    const probe = join(PORTS_DIR, `.probe-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
    claimsOn = true;
  } catch {
    claimsOn = false;
    return false;
  }
  const now = Date.now();
  for (const name of readdirSync(PORTS_DIR)) {
    const file = join(PORTS_DIR, name);
    try {
      if (now - statSync(file).mtimeMs < STALE_MS) continue;
      const owner = Number(readFileSync(file, 'utf8'));
      if (!(owner > 0 && alive(owner))) unlinkSync(file);
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return true;
}

/**
 * Claims `port` for this process (false: claimed already). The claim is written whole
 * to a file of this process's own and then linked into place, which fails where the
 * port's claim exists: nobody reads a claim half written, and two processes never both
 * make one. A claim is never taken over; one whose process died is only removed, old,
 * by openClaims.
 */
function claim(port: number): boolean {
  if (!openClaims()) return true;
  const file = join(PORTS_DIR, String(port));
  const mine = join(PORTS_DIR, `.${process.pid}-${port}`);
  try {
    writeFileSync(mine, String(process.pid));
    linkSync(mine, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      unlinkSync(mine);
    } catch {
      // Not written.
    }
  }
  if (claims.length === 0) process.once('exit', releaseClaims);
  claims.push(file);
  return true;
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

/** `host:port`, an IPv6 literal in brackets (`[::1]:7101`), as URLs and gRPC targets take them. */
export function hostPort(host: string, port: number): string {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}
