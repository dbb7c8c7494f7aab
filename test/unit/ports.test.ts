/**
 * Ports handed out by two processes choosing at once are never the same (seen as a node's
 * "EADDRINUSE" at start-up when a test ran beside another: each process checked that a
 * port was free, and both handed it out before either node bound it). A process's claims
 * go with it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hostPort } from '../../src/ports.js';

/** The built module in dist/, as tests' and chaos runs' processes load it. */
const url = new URL('../../dist/ports.js', import.meta.url).href;
const PER_PROCESS = 2000;

/** A process that reserves `n` ports and prints them, then lives (holding them) until `exit()`. */
function reserveIn(n: number): Promise<{ ports: number[]; pid: number; exit: () => Promise<void> }> {
  const code = `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(await m.reservePorts(${n}))); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.endsWith('\n')) resolve({ ports: JSON.parse(out) as number[], pid: child.pid!, exit: () => (child.stdin.end(), exited) });
    });
    child.once('error', reject);
    child.once('exit', (c) => reject(new Error(`exited ${c} before printing its ports`)));
  });
}

describe('reservePorts', () => {
  it('hands out no port to two processes at once, and frees its claims when its process exits', async () => {
    // 2,000 each of 22,000 ports: chosen at random alone, about 180 would be shared.
    const [pa, pb] = await Promise.all([reserveIn(PER_PROCESS), reserveIn(PER_PROCESS)]);
    await Promise.all([pa.exit(), pb.exit()]);
    const [a, b] = [pa.ports, pb.ports];
    expect(new Set(a).size).toBe(PER_PROCESS);
    expect(new Set(b).size).toBe(PER_PROCESS);
    const inA = new Set(a);
    expect(b.filter((p) => inA.has(p))).toEqual([]);
    // Both processes have exited: none of their claims is left. (A process beside this
    // test, a test run's or a chaos run's, may claim a freed port at once: a claim is
    // theirs only if it holds one of their pids.)
    const owner = (p: number): number | null => {
      try {
        return Number(readFileSync(`/tmp/ably-ng-ports/${p}`, 'utf8'));
      } catch {
        return null;
      }
    };
    expect([...a, ...b].filter((p) => [pa.pid, pb.pid].includes(owner(p)!))).toEqual([]);
  });

  it('removes a claim of a process that is gone once it is five minutes old, and keeps a younger one', async () => {
    const dead = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.once('exit', () => resolve(child.pid!));
    });
    // Ports above the range handed out, so no process of the test run is using them.
    const [old, young] = ['/tmp/ably-ng-ports/32001', '/tmp/ably-ng-ports/32002'];
    for (const f of [old, young]) writeFileSync(f, String(dead));
    const tenMinutesAgo = (Date.now() - 10 * 60_000) / 1000;
    utimesSync(old, tenMinutesAgo, tenMinutesAgo);
    try {
      await (await reserveIn(1)).exit();
      expect([existsSync(old), existsSync(young)]).toEqual([false, true]);
    } finally {
      for (const f of [old, young]) if (existsSync(f)) unlinkSync(f);
    }
  });
});

describe('hostPort', () => {
  it('puts an IPv6 literal in brackets (a gRPC target or a URL would misread it), and nothing else', () => {
    expect(hostPort('::1', 7101)).toBe('[::1]:7101');
    expect(hostPort('fe80::1:2', 80)).toBe('[fe80::1:2]:80');
    expect(hostPort('127.0.0.1', 7101)).toBe('127.0.0.1:7101');
    expect(hostPort('eu-1.internal', 7101)).toBe('eu-1.internal:7101');
    expect(new URL(`http://${hostPort('::1', 7101)}/health`).port).toBe('7101');
  });
});
