/**
 * The supervisor with a node whose process died of something it did not send (seen in a
 * chaos run: a paused node's process gone, its resume failing with ESRCH and the run's
 * final heal thrown out of the runner): a signal to it is not a throw out of the caller,
 * the node is no longer counted as running (the supervisor notices the death itself, since
 * the fifty-third session), and a restart brings it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 1 }] });
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('a node process gone behind the supervisor', () => {
  it('is resumed, paused and killed without a throw it did not ask for, and restarted', { timeout: 60_000 }, async () => {
    const node = 'r1-n1';
    const pid = d.sup.nodes.get(node)!.pid;
    d.sup.pause(node);
    // Killed from outside while paused.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => gone(pid), { what: 'the process gone' });
    // The supervisor notices, and no longer counts it as running.
    await waitFor(() => !d.sup.nodes.has(node), { what: 'the node no longer counted as running' });
    // The final heal of a chaos run resumes what it paused: no throw.
    expect(() => d.sup.resume(node)).not.toThrow();
    await d.sup.restart(node);
    const h = await waitFor(async () => (await d.health(node).catch(() => null))?.node === node, { what: 'the node back', timeoutMs: 20_000 });
    expect(h).toBe(true);
    expect(d.sup.nodes.get(node)!.pid).not.toBe(pid);
    // And a pause of a process gone says so.
    const pid2 = d.sup.nodes.get(node)!.pid;
    process.kill(pid2, 'SIGKILL');
    await waitFor(() => gone(pid2), { what: 'the new process gone' });
    await waitFor(() => !d.sup.nodes.has(node), { what: 'the new process no longer counted as running' });
    expect(() => d.sup.pause(node)).toThrow(/no running node/);
    await expect(d.sup.kill(node).catch((e: Error) => e.message)).resolves.toMatch(/no running node/);
  });
});
