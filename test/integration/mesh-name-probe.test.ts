/**
 * A listener judging a hello that names a node it still has a link from (another life):
 * the old life is asked whether it lives (src/transport/mesh-lives.ts). A restart is taken
 * however slowly the listener reads the dead life's backlog, and a running node that
 * stalls keeps its name against a second process. Two reviews' reproductions: with
 * timing alone, the first restart was refused, and the running node lost its name.
 * One node (b, the listener) runs in this process; the others are processes of their own
 * (test/helpers/mesh-life.mjs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MeshTransport } from '../../src/transport/mesh.js';
import { PROBE_WAIT_MS } from '../../src/transport/mesh-lives.js';
import { freePorts } from '../helpers/ports.js';
import { sleep, waitFor } from '../helpers/wait.js';

const kids: ChildProcess[] = [];
let b: MeshTransport | null = null;

afterEach(async () => {
  await b?.stop();
  b = null;
});
afterAll(() => {
  for (const k of kids) if (k.exitCode === null && k.signalCode === null && k.pid) process.kill(k.pid, 'SIGKILL');
});

/** A mesh node process named `self`, dialling b; what it has printed. */
function life(self: string, port: number, bPort: number, mode: 'plain' | 'flood' | 'wait') {
  const child = spawn(process.execPath, [new URL('../helpers/mesh-life.mjs', import.meta.url).pathname, self, String(port), 'b', String(bPort), mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  kids.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out, go: () => child.stdin!.write('go\n') };
}

/** Busy for `ms` (this process's loop stalled, as a long GC or a starved core would). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

async function listener(port: number, peerPort: number, costUs = 0): Promise<{ got: () => number }> {
  b = new MeshTransport({ self: 'b', region: 'r', host: '127.0.0.1', meshPort: port, secret: 's', log: pino({ level: 'silent' }) });
  let got = 0;
  b.onMessage(() => {
    got++;
    if (costUs) spin(costUs / 1000);
  });
  b.addPeer('a', { host: '127.0.0.1', port: 0, meshPort: peerPort });
  await b.start();
  return { got: () => got };
}

describe('a hello naming a node with a link here', () => {
  it('takes a restart while this node still reads, slowly, the dead life’s backlog', { timeout: 60_000 }, async () => {
    const [aPort, bPort] = await freePorts(2);
    // 50 µs a word: the dead life's backlog takes this node seconds to read.
    const { got } = await listener(bPort!, aPort!, 50);
    const a = life('a', aPort!, bPort!, 'flood');
    await waitFor(() => a.out().includes('up b'), { what: "a's link up" });
    a.go();
    await waitFor(() => got() > 5_000, { what: 'words from a', timeoutMs: 20_000 });
    // Stalled (a long GC), meanwhile a is killed and started again.
    spin(300);
    process.kill(a.child.pid!, 'SIGKILL');
    spin(200);
    const again = life('a', aPort!, bPort!, 'plain');
    spin(1500);
    await waitFor(() => /up b|nameInUse b/.test(again.out()), { what: 'the new life linked or refused', timeoutMs: 20_000 });
    expect(again.out()).toContain('up b');
    expect(again.out()).not.toContain('nameInUse');
  });

  for (const stallMs of [700, PROBE_WAIT_MS - 1000]) {
    it(`refuses a second process while the running node stalls ${stallMs} ms, and the running node keeps its name`, { timeout: 60_000 }, async () => {
      const [hPort, iPort, bPort] = await freePorts(3);
      await listener(bPort!, hPort!);
      const running = life('a', hPort!, bPort!, 'plain');
      await waitFor(() => running.out().includes('up b'), { what: "the running node's link up" });
      const second = life('a', iPort!, bPort!, 'wait');
      await waitFor(() => second.out().includes('loaded'), { what: 'the second process loaded, waiting to start' });
      process.kill(running.child.pid!, 'SIGSTOP');
      second.go();
      await sleep(stallMs);
      process.kill(running.child.pid!, 'SIGCONT');
      // Refused, and again at its next try with the running node back: never taken between.
      await waitFor(() => (second.out().match(/nameInUse b/g) ?? []).length >= 2, { what: 'the second process refused twice', timeoutMs: PROBE_WAIT_MS + 5_000 });
      expect(second.out()).not.toContain('up b');
      expect(running.out()).not.toContain('nameInUse');
      expect(running.out()).not.toContain('down b');
    });
  }
});
