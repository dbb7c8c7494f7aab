/**
 * A region of three real node processes on the NATS transport, over a cluster of three
 * real nats-servers: the region scenarios of region.test.ts with the same guarantees
 * (`kill -9` of a channel master under load, a subscriber of the dead node resuming
 * elsewhere, a restarted node taken back through handoff), and the loss of one NATS
 * server under load. Checked with the real SDK: every acknowledged message exactly once,
 * in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeLogLines, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { busiestServer, startNats, type NatsServers } from '../helpers/nats.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { killMasterUnderLoad, rejoinThroughHandoff, ringOf } from '../helpers/region.js';
import { answering, readWith, revocableServer } from '../helpers/revocation.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

const TOKEN = 'region-nats-token';
let nats: NatsServers;
let d: TestDeployment;
const N = ['r1-n1', 'r1-n2', 'r1-n3'];

beforeAll(async () => {
  nats = await startNats({ count: 3, token: TOKEN });
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3, transport: 'nats', nats: { servers: nats.urls, token: TOKEN } }] });
  await waitFor(async () => (await Promise.all(N.map((n) => d.health(n)))).every((h) => h.ring.length === 3 && h.transport === 'nats'), {
    what: 'ring of 3 on NATS',
  });
});

afterAll(async () => {
  await d?.stop();
  await nats?.stop();
});

describe('a region of three nodes on NATS', () => {
  it('survives kill -9 of a channel master under load: every acknowledged message once, in order', async () => {
    await killMasterUnderLoad(d, N, 'nats-failover', 'failover on NATS');
  });

  it('takes a restarted node back into the ring through handoff, losing nothing', async () => {
    await rejoinThroughHandoff(d, N, 'nats-rejoin');
  });

  it('keeps delivering when one server of the NATS cluster is killed under load, losing nothing acknowledged', async () => {
    await ringOf(d, 3);
    const names = N.map((n) => d.natsConnectionName(n));
    // Kill the server that carries the most nodes' connections (at least one).
    const { server, nodes } = await waitFor(async () => {
      const b = await busiestServer(nats, names);
      return b.nodes.length > 0 ? b : null;
    }, { what: 'node connections visible in NATS monitoring' });
    const channel = channelMasteredBy(N, 'r1-n2', 'nats-server-loss');
    const p1 = realtime(d.port('r1-n1'));
    const p3 = realtime(d.port('r1-n3'));
    const subs: Realtime[] = [realtime(d.port('r1-n1')), realtime(d.port('r1-n2'), { useBinaryProtocol: false }), realtime(d.port('r1-n3'))];
    try {
      const recs = subs.map(() => new Recorder());
      await Promise.all(subs.map((s, i) => s.channels.get(channel).subscribe(recs[i]!.handler)));
      await Promise.all([p1, p3].map(connected));
      const pubs = [new SteadyPublisher('Q1', p1, channel, 10), new SteadyPublisher('Q3', p3, channel, 10)];
      pubs.forEach((p) => p.start());
      await waitFor(() => recs.every((r) => r.count('Q1') > 20 && r.count('Q3') > 20), { what: 'traffic flowing' });

      const killedAt = Date.now();
      await nats.kill(server);
      console.log(`[NATS server loss] killed nats-server ${server + 1}, which carried ${nodes.length} node connection(s): ${nodes.join(', ')}`);
      // Every node is connected again, on the servers that are left.
      await waitFor(
        async () => {
          const here = (await Promise.all([0, 1, 2].filter((i) => nats.isRunning(i)).map((i) => nats.connectionNames(i)))).flat();
          return names.every((n) => here.includes(n));
        },
        { what: 'every node reconnected to the remaining NATS servers', timeoutMs: 10_000 },
      );
      const reconnectedAt = Date.now();
      const marks = recs.map((r) => r.count('Q1') + r.count('Q3'));
      await waitFor(() => recs.every((r, i) => r.count('Q1') + r.count('Q3') > marks[i]! + 40), {
        what: 'every subscriber receiving after the server loss',
        timeoutMs: 15_000,
      });
      console.log(`[NATS server loss] nodes reconnected ${reconnectedAt - killedAt} ms after the kill; delivery continued`);
      await Promise.all(pubs.map((p) => p.stop()));
      for (const p of pubs) expect(p.nacked.size, `${p.id} NACKs: ${[...p.nacked.values()].slice(0, 3)}`).toBe(0);
      await waitFor(() => recs.every((r) => pubs.every((p) => r.check(p).length === 0)), {
        what: 'every subscriber to have every acknowledged message',
        timeoutMs: 15_000,
      }).catch(() => undefined);
      for (const r of recs) for (const p of pubs) expect(r.check(p)).toEqual([]);
      // The region never split: every node still sees all three.
      await ringOf(d, 3);
    } finally {
      closeAll(p1, p3, ...subs);
      if (!nats.isRunning(server)) await nats.startOne(server);
    }
  });

  it("keeps every channel's state through an outage of the whole NATS cluster (every server stopped 6 s, past the 4 s that take quorum): history as before, no node reset", async () => {
    await ringOf(d, 3);
    const r = rest(d.port('r1-n1'));
    const channel = 'nats-outage';
    for (let i = 0; i < 5; i++) await r.channels.get(channel).publish('m', `m${i}`);
    const before = (await r.channels.get(channel).history({ limit: 10 })).items.map((m) => m.data);
    expect(before).toHaveLength(5);
    const resets = () => N.map((n) => nodeLogLines(d, n, /new incarnation/).length);
    const deafLosses = () => N.map((n) => nodeLogLines(d, n, /"deaf":true.*lost quorum/).length);
    const resetsBefore = resets();
    const deafBefore = deafLosses();
    const pids = [0, 1, 2].map((i) => nats.pid(i)!);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      // The outage (past the 4 s down timeout that took every node's quorum before).
      await sleep(6_000);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    // Deaf, every node lost quorum (its clients told to go) and kept its copies: nobody could have declared it down.
    await waitFor(async () => (await Promise.all(N.map((n) => d.health(n)))).every((h) => h.quorum && h.ring.length === 3 && h.members.every((m: { state: string }) => m.state === 'up')), {
      what: 'every node hearing every other again',
      timeoutMs: 15_000,
    });
    expect((await r.channels.get(channel).history({ limit: 10 })).items.map((m) => m.data)).toEqual(before);
    expect(resets()).toEqual(resetsBefore);
    // (the path taken: each node lost quorum hearing nobody)
    expect(deafLosses().map((n, i) => n - deafBefore[i]!)).toEqual([1, 1, 1]);
  });

  it("gives a node restarted after a token revocation the region's revocations from its peers' heartbeats (NATS keeps nothing for a node that is down)", async () => {
    await ringOf(d, 3);
    const { token } = await revocableServer(d.port('r1-n1')).auth.requestToken({ clientId: 'gina' });
    expect(await readWith(d.port('r1-n3'), token)).toBe(200);
    await d.sup.kill('r1-n3');
    await ringOf(d, 2);
    const result = await revocableServer(d.port('r1-n1')).auth.revokeTokens([{ type: 'clientId', value: 'gina' }]);
    expect(result.successCount).toBe(1);
    await waitFor(answering(d.port('r1-n2'), token, 'revoked'), { what: 'the token refused on r1-n2' });
    await d.sup.restart('r1-n3');
    await ringOf(d, 3);
    await waitFor(answering(d.port('r1-n3'), token, 'revoked'), { what: 'the restarted node refusing the token' });
    expect((await d.health('r1-n3')).revocations).toEqual((await d.health('r1-n1')).revocations);
  }, 60_000);
});

describe('a deployment mixing a mesh region and a NATS region', () => {
  it('forwards between them both ways: every acknowledged message once, in order', async () => {
    const mixed = await startDeployment({
      regions: [
        { name: 'm', nodes: 2 },
        { name: 'q', nodes: 2, transport: 'nats', nats: { servers: nats.urls, token: TOKEN } },
      ],
    });
    const clients: Realtime[] = [];
    try {
      const transports = Object.fromEntries(await Promise.all(mixed.nodes().map(async (n) => [n, (await mixed.health(n)).transport])));
      expect(transports).toEqual({ 'm-n1': 'mesh', 'm-n2': 'mesh', 'q-n1': 'nats', 'q-n2': 'nats' });
      for (const r of ['m', 'q']) {
        await waitFor(
          async () => {
            for (const n of mixed.nodes(r)) {
              const h = await mixed.health(n);
              if (h.globalmaster && h.regionLinks.links.every((l: any) => l.up)) return true;
            }
            return false;
          },
          { what: `region ${r}'s link up`, timeoutMs: 20_000 },
        );
      }
      const port = (n: string) => mixed.port(n);
      const subQ = realtime(port('q-n2'));
      const subM = realtime(port('m-n2'));
      const pubM = realtime(port('m-n1'));
      const pubQ = realtime(port('q-n1'));
      clients.push(subQ, subM, pubM, pubQ);
      const recQ = new Recorder();
      const recM = new Recorder();
      await subQ.channels.get('mixed').subscribe(recQ.handler);
      await subM.channels.get('mixed').subscribe(recM.handler);
      await Promise.all([pubM, pubQ].map(connected));
      // Interest of the other region is known before the first publish counts.
      await waitFor(async () => {
        await pubM.channels.get('mixed').publish('probe', { p: 'probe', seq: 0 });
        return recQ.count('probe') > 0;
      }, { what: 'the NATS region receiving from the mesh region', intervalMs: 200, timeoutMs: 15_000 });
      await waitFor(async () => {
        await pubQ.channels.get('mixed').publish('probe', { p: 'probe-q', seq: 0 });
        return recM.count('probe-q') > 0;
      }, { what: 'the mesh region receiving from the NATS region', intervalMs: 200, timeoutMs: 15_000 });
      const pubs = [new SteadyPublisher('FROM-M', pubM, 'mixed', 10), new SteadyPublisher('FROM-Q', pubQ, 'mixed', 10)];
      pubs.forEach((p) => p.start());
      await waitFor(() => [recQ, recM].every((r) => r.count('FROM-M') > 50 && r.count('FROM-Q') > 50), { what: 'traffic both ways', timeoutMs: 15_000 });
      await Promise.all(pubs.map((p) => p.stop()));
      for (const p of pubs) expect(p.nacked.size).toBe(0);
      await waitFor(() => [recQ, recM].every((r) => pubs.every((p) => r.check(p).length === 0)), { timeoutMs: 10_000 }).catch(() => undefined);
      for (const r of [recQ, recM]) for (const p of pubs) expect(r.check(p)).toEqual([]);
    } finally {
      closeAll(...clients);
      await mixed.stop();
    }
  });

});
