/**
 * Nodes of two node protocols in one region, as when a region is moved to a new build
 * one node at a time (against the advice to stop them all): links between the versions
 * are refused, and the region must never have a majority on both sides, or two masters
 * would order one channel. Real node processes; `ABLY_NG_DEBUG_NODE_PROTOCOL` makes a
 * restarted node play another build.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NODE_PROTOCOL } from '../../src/transport/protocol-version.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { ringOf } from '../helpers/region.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
});

async function region(): Promise<TestDeployment> {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
  await ringOf(d, 3);
  return d;
}

/** Kills a node and starts it again as a build speaking `protocol` (undefined: this build's). */
async function restartAs(d: TestDeployment, node: string, protocol: number | undefined): Promise<void> {
  await d.sup.kill(node);
  // The others see it dead (its port refuses) before it comes back.
  for (const other of d.nodes().filter((n) => n !== node && d.sup.nodes.has(n))) {
    await waitFor(async () => (await d.health(other)).members.some((m: any) => m.node === node && m.state === 'down'), { what: `${other} seeing ${node} down` });
  }
  d.sup.o.env = protocol === undefined ? {} : { ABLY_NG_DEBUG_NODE_PROTOCOL: String(protocol) };
  await d.sup.restart(node);
  d.sup.o.env = {};
}

async function quorums(d: TestDeployment): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const n of d.nodes().filter((x) => d.sup.nodes.has(x))) out[n] = (await d.health(n)).quorum as boolean;
  return out;
}

describe('a region with nodes of two node protocols', () => {
  it('moved to a newer version one node at a time, has a majority on one side only: the old side while it is larger, then the new', async () => {
    const d = await region();
    const newer = NODE_PROTOCOL + 1;
    await restartAs(d, 'r1-n3', newer);
    for (const [node, other] of [['r1-n1', 'r1-n3'], ['r1-n2', 'r1-n3'], ['r1-n3', 'r1-n1'], ['r1-n3', 'r1-n2']] as const) {
      await waitFor(async () => (await d.health(node)).otherVersions.some((o: any) => o.node === other), { what: `${node} hearing of ${other} in the other version` });
    }
    await waitFor(async () => JSON.stringify(await quorums(d)) === JSON.stringify({ 'r1-n1': true, 'r1-n2': true, 'r1-n3': false }), {
      what: 'the old side (2 of 3) serving, the new node alone not',
      timeoutMs: 15_000,
    });
    const h1 = await d.health('r1-n1');
    expect(h1.otherVersions).toEqual([{ node: 'r1-n3', protocol: newer }]);
    expect(h1.ring).toEqual(['r1-n1', 'r1-n2']);

    // Without counting r1-n3 (dead, then back in a version it cannot link to), r1-n1 would
    // be 1 of 1 here and serve beside r1-n2 and r1-n3.
    await restartAs(d, 'r1-n2', newer);
    await waitFor(async () => JSON.stringify(await quorums(d)) === JSON.stringify({ 'r1-n1': false, 'r1-n2': true, 'r1-n3': true }), {
      what: 'the new side (2 of 3) serving, the old node alone not',
      timeoutMs: 15_000,
    });
    await waitFor(async () => JSON.stringify((await d.health('r1-n2')).otherVersions) === JSON.stringify([{ node: 'r1-n1', protocol: NODE_PROTOCOL }]), {
      what: 'r1-n2 hearing of r1-n1 in the old version',
    });
  });

  it('counts a member restarted as a build from before versions as out of reach: the others serve, it does not', async () => {
    const d = await region();
    await restartAs(d, 'r1-n3', 0);
    await waitFor(async () => (await d.health('r1-n1')).otherVersions.some((o: any) => o.node === 'r1-n3' && o.protocol === 0), {
      what: 'r1-n1 hearing of the older build',
    });
    await waitFor(async () => JSON.stringify(await quorums(d)) === JSON.stringify({ 'r1-n1': true, 'r1-n2': true, 'r1-n3': false }), {
      what: 'r1-n1 and r1-n2 (2 of 3) serving, r1-n3 not',
      timeoutMs: 15_000,
    });
    // r1-n2 dies: r1-n1 alone is 1 of 3 (r1-n3 alive, out of reach), not 1 of 1.
    await d.sup.kill('r1-n2');
    await waitFor(async () => (await d.health('r1-n1')).quorum === false, { what: 'r1-n1 without quorum', timeoutMs: 15_000 });
  });
});
