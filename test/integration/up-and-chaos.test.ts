/**
 * `ably-ng up` and `ably-ng chaos` as an operator runs them: ready lines, fault commands
 * that find the deployment from its directory, and a clean stop of every process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/cli/chaos.js';
import { defaultCliPath } from '../../src/cli/supervisor.js';
import { freePorts } from '../helpers/ports.js';
import { removeTempDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const cli = defaultCliPath();
let dir: string;
let up: ChildProcess;
const lines: any[] = [];

async function chaos(...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [cli, 'chaos', ...args], { cwd: dir });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  dir = tempDir('up');
  const ports = await freePorts(16);
  let i = 0;
  const doc = {
    deployment: 'uptest',
    secrets: { cluster: 'cluster-secret', deployment: 'deployment-secret' },
    links: { plaintext: true },
    apps: [{ id: 'app', keys: [{ id: 'root', secret: 'rootsecret' }] }],
    regions: ['r1', 'r2'].map((name) => ({
      name,
      balancer: { port: ports[i++] },
      link: { port: ports[i++] },
      nodes: [1, 2].map((n) => ({ name: `${name}-${n}`, port: ports[i++], meshPort: ports[i++], grpcPort: ports[i++] })),
    })),
  };
  writeFileSync(join(dir, 'topology.yaml'), stringify(doc));
  up = spawn(process.execPath, [cli, 'up', 'topology.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  const rl = createInterface({ input: up.stdout! });
  rl.on('line', (l) => lines.push(JSON.parse(l)));
  await waitFor(() => lines.some((l) => l.ready === 'all'), { what: 'the deployment ready', timeoutMs: 40_000 });
});

afterAll(async () => {
  if (up.exitCode === null) up.kill('SIGKILL');
  await waitFor(() => up.exitCode !== null || up.signalCode !== null, { what: 'up to exit', timeoutMs: 15_000 });
  removeTempDir(dir);
});

describe('ably-ng up and ably-ng chaos', () => {
  it('prints a ready line per node (with its pid), per region, then one for the deployment', () => {
    const nodes = lines.filter((l) => l.ready === true);
    expect(nodes.map((l) => l.node).sort()).toEqual(['r1-1', 'r1-2', 'r2-1', 'r2-2']);
    for (const n of nodes) {
      expect(n.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(pidAlive(n.pid)).toBe(true);
    }
    expect(lines.filter((l) => l.ready === 'region').map((l) => l.region).sort()).toEqual(['r1', 'r2']);
    const all = lines.find((l) => l.ready === 'all');
    expect(all.key).toBe('app.root:rootsecret');
    expect(all.control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses control requests without the deployment\'s token', async () => {
    const all = lines.find((l) => l.ready === 'all');
    const res = await fetch(`${all.control}/state`);
    expect(res.status).toBe(401);
  });

  // About 25 runs of the CLI, each a fresh Node process: 12–18 s in a make test, over 60 s
  // beside a second one.
  it('partitions, slows and heals the region link, and kills and restarts a node, found from the directory', { timeout: 120_000 }, async () => {
    const p = await chaos('partition', 'r1', 'r2');
    expect(p.faults.up.blackhole).toBe(true);
    expect(p.faults.down.blackhole).toBe(true);
    const l = await chaos('latency', 'r2', 'r1', '40', '--one-way');
    // r2 → r1 is the "down" direction of the link r1 dials.
    expect(l.faults.down.latencyMs).toBe(40);
    expect(l.faults.up.latencyMs).toBe(0);
    await chaos('heal', 'r1', 'r2');
    const s = await chaos('state');
    expect(s.regionLinks[0].faults.up).toMatchObject({ blackhole: false, latencyMs: 0 });
    const victim = s.nodes.find((n: any) => n.node === 'r2-2');
    await chaos('kill', 'r2-2');
    expect(pidAlive(victim.pid)).toBe(false);
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r2-2').state).toBe('stopped');
    await chaos('restart', 'r2-2');
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r2-2').state).toBe('running');
    await chaos('isolate', 'r1-1');
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r1-1').isolated).toBe(true);
    await chaos('rejoin', 'r1-1');
    const cut = await chaos('isolate', 'r1-1', '--from', 'r1-2');
    expect(cut).toMatchObject({ node: 'r1-1', action: 'isolate', from: 'r1-2' });
    const nodes = (await chaos('state')).nodes;
    expect(nodes.find((n: any) => n.node === 'r1-1').cutFrom).toEqual(['r1-2']);
    expect(nodes.find((n: any) => n.node === 'r1-2').cutFrom).toEqual(['r1-1']);
    expect(nodes.find((n: any) => n.node === 'r2-1').cutFrom).toEqual([]);
    await chaos('rejoin', 'r1-1', '--from', 'r1-2');
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r1-1').cutFrom).toEqual([]);
    await expect(chaos('isolate', 'r1-1', '--from', 'r2-1')).rejects.toThrow(/no proxied link between r1-1 and r2-1/);
    await expect(chaos('isolate', 'r1-1', '--from', 'nobody')).rejects.toThrow(/no node "nobody"/);
    await expect(chaos('isolate', 'r1-1', '--from', 'r1-1')).rejects.toThrow(/cannot be isolated from itself/);
    await expect(chaos('kill', 'r1-1', '--from', 'r1-2')).rejects.toThrow(/"from" is for isolate and rejoin only, not kill/);
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r1-1').state).toBe('running');
    await expect(chaos('kill', 'nobody')).rejects.toThrow(/no node "nobody"/);
  });

  it('refuses a second up in the same directory, leaving the running one its state; and notices a node that dies by itself', async () => {
    const second = await run(process.execPath, [cli, 'up', 'topology.yaml'], { cwd: dir }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(second?.code).toBe(1);
    expect(second?.stderr).toMatch(/already running here \(supervisor PID \d+/);
    // The running deployment still has its state file: its chaos commands find it.
    const victim = (await chaos('state')).nodes.find((n: any) => n.node === 'r2-1');
    // A kill from outside the supervisor (not a chaos command): it sees the node gone.
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(async () => (await chaos('state')).nodes.find((n: any) => n.node === 'r2-1').state === 'stopped', { what: 'the dead node shown stopped' });
    await chaos('restart', 'r2-1');
    expect((await chaos('state')).nodes.find((n: any) => n.node === 'r2-1').state).toBe('running');
  });

  it('stops every process it started on SIGTERM', async () => {
    const s = await chaos('state');
    const pids = s.nodes.map((n: any) => n.pid as number);
    up.kill('SIGTERM');
    await waitFor(() => up.exitCode !== null, { what: 'up to exit', timeoutMs: 30_000 });
    expect(up.exitCode).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });
});

describe('ably-ng up killed with SIGKILL', () => {
  it('leaves no node behind: each stops when its supervisor is gone', async () => {
    const d = tempDir('up-kill');
    const ports = await freePorts(5);
    const doc = {
      deployment: 'killtest',
      secrets: { cluster: 'cluster-secret' },
      apps: [{ id: 'app', keys: [{ id: 'root', secret: 'rootsecret' }] }],
      regions: [
        {
          name: 'r1',
          balancer: { port: ports[0] },
          nodes: [1, 2].map((n) => ({ name: `r1-${n}`, port: ports[n * 2 - 1], meshPort: ports[n * 2] })),
        },
      ],
    };
    writeFileSync(join(d, 'topology.yaml'), stringify(doc));
    const p = spawn(process.execPath, [cli, 'up', 'topology.yaml'], { cwd: d, stdio: ['ignore', 'pipe', 'ignore'] });
    const got: any[] = [];
    createInterface({ input: p.stdout! }).on('line', (l) => got.push(JSON.parse(l)));
    try {
      await waitFor(() => got.some((l) => l.ready === 'all'), { what: 'the deployment ready', timeoutMs: 40_000 });
      const pids = got.filter((l) => l.ready === true).map((l) => l.pid as number);
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(pidAlive(pid)).toBe(true);
      p.kill('SIGKILL');
      await waitFor(() => pids.every((pid) => !pidAlive(pid)), { what: 'the orphaned nodes to stop', timeoutMs: 15_000 });
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
      for (const l of got) if (l.ready === true && pidAlive(l.pid)) process.kill(l.pid, 'SIGKILL');
      removeTempDir(d);
    }
  });
});
