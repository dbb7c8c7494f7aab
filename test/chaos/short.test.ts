/**
 * Three short chaos scenarios with the checker (the full set runs in `make chaos`; the
 * partition's clients on tokens renewed through it), a
 * short random one through `ably-ng chaos random` as a chaos tester runs it, one on a
 * region whose nodes talk through NATS (a NATS server killed), one with an
 * action that cannot be carried out, and a run with a guarantee broken on purpose, which
 * the checker must catch.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { violationTotal } from '../../src/chaos/checker.js';
import { randomScenario } from '../../src/chaos/random.js';
import { runScenarios } from '../../src/chaos/run-all.js';
import { runScenario } from '../../src/chaos/runner.js';
import { loadScenario } from '../../src/chaos/scenario.js';
import { defaultCliPath } from '../../src/cli/supervisor.js';
import { silentLogger } from '../../src/log.js';
import { removeTempDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const out = tempDir('chaos');
afterAll(() => removeTempDir(out));

async function run(file: string, trace?: string[]) {
  const s = loadScenario(join(import.meta.dirname, 'short', file));
  return runScenario(s, join(out, s.name), silentLogger(), trace ? { trace } : {});
}

describe('chaos scenarios (short)', () => {
  it('partition and heal: nothing acknowledged lost, duplicated or reordered, the sides converge, and each region stores every message once', { timeout: 120_000 }, async () => {
    const r = await run('partition-short.yaml');
    expect(r.report.violations).toMatchObject({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.report.verdict).toBe('PASS');
    // Each region's stored history of each channel, read through its REST endpoint after the drain.
    expect(r.report.history).toMatchObject({ missing: 0, duplicates: 0, order: 0, unread: 0 });
    expect(r.report.history!.reads).toBeGreaterThan(0);
    expect(r.report.history!.expected).toBeGreaterThan(0);
    const partition = r.report.faults.find((f: { action: string }) => f.action === 'partition');
    expect(partition).toBeDefined();
    expect(partition!.convergenceMs).not.toBeNull();
    // Six clients on tokens of 5 s over 26 s: each renewed several times (the service ends
    // the connection at expiry, 40142, and the SDK resumes it on a new token), across the
    // partition too; every replay of a TokenRequest was refused (40105) and no fresh one was.
    const tokens = r.report.tokens!;
    expect(tokens.requests.issued).toBeGreaterThanOrEqual(6 * 3);
    expect(tokens).toMatchObject({ freshRefused: 0, takenOutsideFaults: 0, replays: { taken: 0 } });
    expect(tokens.replays.refused).toBeGreaterThanOrEqual(tokens.requests.issued - 6);
    console.log(`[chaos] partition-short: converged ${partition!.convergenceMs} ms after the heal; ${tokens.requests.issued} tokens (${r.dir})`);
  });

  it('a channel master killed under cross-region traffic: the same guarantees, and every presence set shows exactly the members after', { timeout: 120_000 }, async () => {
    const r = await run('master-killed-short.yaml', ['eu-sub1', 'us-mem0']);
    expect(r.report.verdict).toBe('PASS');
    expect(r.report.faults.some((f: { action: string }) => f.action === 'kill')).toBe(true);
    // Two members per region, seen through each region's REST endpoint and the SDKs of
    // three of the four subscribers (the fourth has a subscription filter: no presence).
    expect(r.report.presence).toMatchObject({ members: 4, views: 5, mismatched: 0 });
    expect(r.report.filters).toMatchObject({ subscribers: 1, leaked: 0 });
    // The traced clients' SDKs logged what they were sent (--trace), and no other client's did.
    const sub = readFileSync(join(r.dir, 'trace-eu-sub1.log'), 'utf8');
    expect(sub).toMatch(/^\d{13} trace: eu-sub1: SDK instance #(\d+) to 127\.0\.0\.1:\d+\n/);
    const instance = /#(\d+)/.exec(sub)![1];
    expect(sub).toMatch(new RegExp(`^\\d{13} #${instance} Ably: Transport\\.onProtocolMessage\\(\\): received on web_socket: \\[ProtocolMessage; action=ATTACHED; channel=chaos-0`, 'm'));
    expect(sub).toMatch(/action=PRESENCE; channel=chaos-0; .*clientId=eu-mem0/);
    expect(readFileSync(join(r.dir, 'trace-us-mem0.log'), 'utf8')).toMatch(/action=PRESENCE; channel=chaos-0; .*clientId=us-mem0/);
    expect(readdirSync(r.dir).filter((f) => f.startsWith('trace-')).sort()).toEqual(['trace-eu-sub1.log', 'trace-us-mem0.log']);
    console.log(`[chaos] master-killed-short: presence sets right within ${r.report.presence!.convergedAfterMs} ms of the check`);
  });

  it('a subscriber that moves to another region during a cut: every message once, across the move', { timeout: 120_000 }, async () => {
    const r = await run('move-short.yaml');
    expect(r.report.violations).toMatchObject({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.report.verdict).toBe('PASS');
    const move = r.report.faults.find((f: { action: string }) => f.action === 'move');
    expect(move).toMatchObject({ target: 'eu>us', unconverged: 0 });
    // The mover was expected to get what eu published while it was away, and got it.
    expect(r.report.totals.continuity).toBe(0);
    expect(r.report.byRegion.find((x: { region: string }) => x.region === 'eu')!.subscribers).toBe(2);
  });

  it('ably-ng chaos random: the faults of a seed (nodes stopped, killed and isolated in both regions at once, two nodes of a region cut from each other, a partition, a client moved), written to a file that repeats it, and the verdict', { timeout: 150_000 }, async () => {
    const seed = 351;
    const dir = join(out, 'random');
    const topology = join(import.meta.dirname, '../../regions/local.yaml');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [defaultCliPath(), 'chaos', 'random', '--seed', String(seed), '--duration', '20', '--topology', topology, '--out', dir],
      { timeout: 140_000 },
    );
    expect(stdout).toMatch(/^scenario random-351: PASS — lost 0, duplicates 0, order 0, region order 0/m);
    expect(stdout).not.toMatch(/failed, the run went on/);
    const file = join(dir, 'random-351.yaml');
    const drawn = randomScenario({ seed, durationS: 20, topologyFile: topology }, dir);
    expect(loadScenario(file).timeline).toEqual(drawn.timeline);
    expect(drawn.timeline.map((a) => a.action)).toEqual(expect.arrayContaining(['stop', 'kill', 'isolate', 'partition', 'move']));
    expect(drawn.timeline).toContainEqual(expect.objectContaining({ action: 'isolate', node: 'eu-1', from: 'eu-3' }));
    const report = JSON.parse(readFileSync(join(dir, 'random-351', 'check.json'), 'utf8'));
    expect(report.verdict).toBe('PASS');
    // Every fault drawn was made: the record has a window for each.
    const made = new Set(report.faults.map((f: { action: string }) => f.action));
    for (const k of ['stop', 'kill', 'isolate', 'partition', 'move']) expect(made, k).toContain(k);
    // The cut was made and undone: its window closed at the rejoin of eu-1, 1.3 s later.
    const cut = report.faults.find((f: { target: string }) => f.target === 'eu-1 from eu-3');
    expect(cut).toMatchObject({ action: 'isolate', open: false });
    expect(cut.end - cut.start).toBeLessThan(2_500);
    expect(existsSync(join(dir, 'REPORT.md'))).toBe(true);
  });

  it('reports a node action it could not carry out, and goes on: @last:REGION is the node last acted on in that region, @NAME the one an action named', { timeout: 120_000 }, async () => {
    const lines: string[] = [];
    const ok = await runScenarios([join(import.meta.dirname, 'short', 'failed-action.yaml')], join(out, 'failed-action'), silentLogger(), (l) => lines.push(l));
    expect(lines.filter((l) => l.includes('failed, the run went on'))).toEqual([
      '  action restart at 1.2 s failed, the run went on without it: "@last:eu" before any node action in region eu',
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^scenario failed-action: PASS/));
    expect(ok).toBe(true);
    // us-1 was killed and restarted through @last:us 2 s later (not by the run's closing
    // restart of dead nodes, which comes after publishing stops, 13 s after the kill). The
    // window ends once the node is up again: 2 s and its start-up, which took 2 s in a
    // loaded make test and 6.6 s beside a second one (when publishing stopped at 5 s, the
    // bound was 3.5 s: it failed; at 8 s, the bound of 6 s failed beside a second run).
    const report = JSON.parse(readFileSync(join(out, 'failed-action', 'failed-action', 'check.json'), 'utf8'));
    const kill = report.faults.find((f: { action: string; target: string }) => f.action === 'kill' && f.target === 'us-1');
    expect(kill).toMatchObject({ open: false });
    expect(kill.end - kill.start).toBeLessThan(11_000);
    // eu-2 was paused as `held` and resumed through @held a second later.
    const pause = report.faults.find((f: { action: string; target: string }) => f.action === 'pause' && f.target === 'eu-2');
    expect(pause).toMatchObject({ open: false });
    expect(pause.end - pause.start).toBeLessThan(2000);
  });

  it('fails the run when the replay after a heal is switched off', { timeout: 120_000 }, async () => {
    const r = await run('partition-without-replay.yaml');
    expect(r.report.verdict).toBe('FAIL');
    expect(r.report.violations.lost).toBeGreaterThan(0);
    expect(violationTotal(r.report.violations)).toBeGreaterThan(0);
    expect(r.asExpected).toBe(true);
  });

  it('a region on NATS: one of its NATS servers killed and started again, a node cut off from all of them; a cut between two of its nodes refused', { timeout: 120_000 }, async () => {
    const r = await run('nats-short.yaml');
    expect(r.report.violations).toMatchObject({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.report.verdict).toBe('PASS');
    const kill = r.report.faults.find((f: { action: string }) => f.action === 'nats-kill');
    expect(kill?.target).toMatch(/^eu nats-[123]$/);
    const isolated = r.report.faults.find((f: { action: string }) => f.action === 'isolate');
    expect(isolated).toBeDefined();
    const log = (node: string) => readFileSync(join(r.dir, 'state', 'logs', `${node}.log`), 'utf8');
    // The kill took a node's NATS connection (it reconnected to another server); the cut node found itself alone.
    expect(['eu-1', 'eu-2', 'eu-3'].some((n) => log(n).includes('lost the NATS connection'))).toBe(true);
    expect(log(isolated!.target)).toMatch(/lost quorum/);
    // No link between two nodes of a NATS region to cut: the action is refused, and the run goes on.
    expect(r.failedActions).toEqual([expect.objectContaining({ action: 'isolate', error: expect.stringMatching(/runs on NATS/) })]);
    console.log(`[chaos] nats-short: ${kill!.target} killed, ${isolated!.target} cut off (${r.dir})`);
  });

  it('names a paused master\'s replica at once, and stops every node it started, the paused ones too, when interrupted', { timeout: 90_000 }, async () => {
    const dir = join(out, 'interrupted');
    const cli = spawn(process.execPath, [defaultCliPath(), 'chaos', 'run', join(import.meta.dirname, 'short', 'interrupted.yaml'), '--out', dir], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    let pids: number[] = [];
    try {
      const run = join(dir, 'interrupted');
      const faults = () =>
        existsSync(join(run, 'record.jsonl'))
          ? readFileSync(join(run, 'record.jsonl'), 'utf8')
              .split('\n')
              .filter((l) => l.includes('"fault"'))
              .map((l) => JSON.parse(l) as { t: number; action: string; target: string; phase: string })
          : [];
      // Both pauses made, the second within 3 s of the first (fetch alone would wait 300 s on the paused master).
      await waitFor(() => faults().filter((f) => f.action === 'pause' && f.phase === 'start').length === 2, { timeoutMs: 45_000, what: 'both pauses' });
      const [m, r] = faults().filter((f) => f.action === 'pause');
      expect(r!.target).not.toBe(m!.target);
      expect(r!.t - m!.t).toBeLessThan(3_000);
      const stateFile = readdirSync(join(run, 'state')).find((f) => f.endsWith('.json'))!;
      pids = Object.values(JSON.parse(readFileSync(join(run, 'state', stateFile), 'utf8')).nodes as Record<string, { pid: number }>).map((n) => n.pid);
      expect(pids).toHaveLength(6);
      cli.kill('SIGTERM');
      expect(await exited).toBe(143);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(() => pids.every((pid) => !alive(pid)), { timeoutMs: 15_000, what: 'every node gone' });
    } finally {
      cli.kill('SIGKILL');
      // (a failed test must not leave nodes behind either)
      for (const pid of pids) for (const sig of ['SIGCONT', 'SIGKILL'] as const) try { process.kill(pid, sig); } catch { /* gone */ }
    }
  });
});
