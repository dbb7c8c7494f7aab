/**
 * The CPU figures of a bench window, read from /proc for real child processes: what they
 * used, the kernel's share of it, and their page faults.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../../../src/bench/processes.js';
import { CpuWindow } from '../../../src/bench/scenarios/cpu-window.js';

const processes = new ProcessGroup();
afterEach(() => processes.stopAll());

/** Touches `mb` MB of fresh memory (a fault per 4 KB page) when it reads a line, then says "done". */
const TOUCHER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
console.log('ready');
rl.once('line', (l) => {
  const b = Buffer.allocUnsafeSlow(Number(l) * 1024 * 1024);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1;
  console.log('done');
});`;

function hugePagesAlways(): boolean {
  try {
    return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').includes('[always]');
  } catch {
    return false;
  }
}

function toucher(name: string) {
  const s = processes.spawn(name, process.execPath, ['-e', TOUCHER], { stdio: ['pipe', 'pipe', 'pipe'] });
  // Every line is kept until asked for: one that comes while the test awaits another
  // toucher's is not lost (a bare once('line') missed it and hung the test).
  const got: string[] = [];
  const lines = createInterface({ input: s.proc.stdout! });
  lines.on('line', (l) => got.push(l));
  const line = async (): Promise<string> => {
    while (!got.length) await once(lines, 'line');
    return got.shift()!;
  };
  return { s, line };
}

describe('CpuWindow', () => {
  it("counts the nodes' page faults and system time in the window, and a node gone since its start as nothing", async () => {
    const busy = toucher('busy');
    const gone = toucher('gone');
    expect(await busy.line()).toBe('ready');
    expect(await gone.line()).toBe('ready');
    const w = CpuWindow.start(
      [
        { name: 'busy', pid: busy.s.pid },
        { name: 'gone', pid: gone.s.pid },
      ],
      [process.pid],
    );
    busy.s.proc.stdin!.write('256\n');
    expect(await busy.line()).toBe('done');
    await processes.stop(gone.s);
    const c = w.end();
    // 256 MB is 65,536 pages, each given on its first write (or 128 huge pages where the
    // kernel gives them to every process: transparent huge pages set to "always").
    expect(c.serverFaults).toBeGreaterThanOrEqual(hugePagesAlways() ? 128 : 65_000);
    // Giving pages is the kernel's work: system time, a good part of what the toucher used
    // (its own loop is 65,536 writes; 48 % on this virtual machine, whose faults leave it).
    expect(c.serverSystemPct).toBeGreaterThan(0);
    expect(c.serverSystemPct).toBeGreaterThanOrEqual(c.serverPct / 5);
    expect(c.serverSystemPct).toBeLessThanOrEqual(c.serverPct);
    expect(c.nodes.gone).toBe(0);
    expect(c.serverPct).toBe(c.nodes.busy);
  });
});
