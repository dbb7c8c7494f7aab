/**
 * A region of three real node processes: fan-out once per node, failover on `kill -9`
 * of a channel master, rejoin with handoff, and a rolling restart under load, all
 * checked with the real SDK for exactly-once, in-order delivery of acknowledged messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { balancerFor, channelStatus, killMasterUnderLoad, portOf, rejoinThroughHandoff, ringOf } from '../helpers/region.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';
import { RawClient } from '../helpers/raw.js';
import { Action } from '../../src/protocol/actions.js';
import type { Socket } from 'node:net';

let d: TestDeployment;
const N = ['r1-n1', 'r1-n2', 'r1-n3'];

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
  await waitFor(async () => (await Promise.all(N.map((n) => d.health(n)))).every((h) => h.ring.length === 3), {
    what: 'ring of 3',
  });
});

afterAll(async () => {
  await d?.stop();
});

describe('a region of three nodes', () => {
  it('delivers every message once, in order, and the master broadcasts once per subscribing node', async () => {
    const channel = channelMasteredBy(N, 'r1-n3', 'fanout');
    const before = await d.health('r1-n3');
    const pub = realtime(d.port('r1-n1'));
    const subs: Realtime[] = [
      ...[0, 1, 2].map(() => realtime(d.port('r1-n2'), { useBinaryProtocol: false })),
      ...[0, 1].map(() => realtime(d.port('r1-n3'))),
    ];
    try {
      const recs = subs.map(() => new Recorder());
      await Promise.all(subs.map((s, i) => s.channels.get(channel).subscribe(recs[i]!.handler)));
      const total = 50;
      for (let i = 0; i < total; i++) await pub.channels.get(channel).publish('seq', { p: 'A', seq: i });
      await waitFor(() => recs.every((r) => r.count('A') === total), { what: 'all deliveries' });
      for (const r of recs) expect(r.byPublisher.get('A')).toEqual([...Array(total).keys()]);
      const after = await d.health('r1-n3');
      // Two subscribing nodes (n2, n3), five connections: each message left the master twice.
      expect(after.counters.broadcastEntries - before.counters.broadcastEntries).toBe(2 * total);
      const status = await channelStatus(d, channel);
      expect(status.master).toBe('r1-n3');
      expect(status.replica).not.toBe('r1-n3');
    } finally {
      closeAll(pub, ...subs);
    }
  });

  it('sends a burst of publishes that arrive together to the master as one request and ACKs them together, each with its own serial, in order', async () => {
    const channel = channelMasteredBy(N, 'r1-n3', 'burst');
    const sub = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const pub = await RawClient.connect(d.port('r1-n1'));
    try {
      await pub.next((m) => m.action === Action.CONNECTED);
      const got: string[] = [];
      await sub.channels.get(channel).subscribe((m) => void got.push(m.data as string));
      const before = (await d.health('r1-n1')).counters;
      const total = 200;
      // Every frame in one TCP write, so that the node reads them in one turn.
      const sock = (pub.ws as unknown as { _socket: Socket })._socket;
      sock.cork();
      for (let i = 0; i < total; i++) pub.send({ action: Action.MESSAGE, channel, msgSerial: i, messages: [{ data: `m${i}` }] });
      sock.uncork();
      const acked = () => pub.received.filter((m) => m.action === Action.ACK);
      await waitFor(() => acked().reduce((n, m) => n + m.count!, 0) === total, { what: 'every publish ACKed' });
      expect(pub.received.filter((m) => m.action === Action.NACK)).toEqual([]);
      // ACKs in msgSerial order, each publish with its own serial, all distinct.
      let next = 0;
      const serials: string[] = [];
      for (const a of acked()) {
        expect(a.msgSerial).toBe(next);
        next += a.count!;
        for (const r of a.res!) {
          expect(r.serials).toHaveLength(1);
          serials.push(r.serials[0]!);
        }
      }
      expect(new Set(serials).size).toBe(total);
      await waitFor(() => got.length === total, { what: 'every delivery' });
      expect(got).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
      // Far fewer requests to the master, and ACK frames, than publishes.
      const after = (await d.health('r1-n1')).counters;
      expect(after.published - before.published).toBe(total);
      expect(after.publishRequests - before.publishRequests).toBeLessThanOrEqual(10);
      expect(acked().length).toBeLessThanOrEqual(10);
    } finally {
      pub.close();
      closeAll(sub);
    }
  });

  it('survives kill -9 of a channel master under load: every acknowledged message once, in order', async () => {
    await killMasterUnderLoad(d, N, 'failover', 'failover');
  });

  it('takes a restarted node back into the ring through handoff, losing nothing', async () => {
    await rejoinThroughHandoff(d, N, 'rejoin');
  });

  it('keeps the subscribers of a node paused past the down timeout: it wakes, resets and resubscribes, losing nothing', async () => {
    // One channel mastered by the paused node, one mastered by another: after the pause
    // both masters have forgotten the paused node's subscriptions.
    const own = channelMasteredBy(N, 'r1-n3', 'paused-own');
    const other = channelMasteredBy(N, 'r1-n2', 'paused-other');
    const p1 = realtime(d.port('r1-n1'));
    const s3 = realtime(d.port('r1-n3'));
    try {
      const recs = [new Recorder(), new Recorder()];
      await Promise.all([own, other].map((ch, i) => s3.channels.get(ch).subscribe(recs[i]!.handler)));
      await connected(p1);
      const pubs = [new SteadyPublisher('P', p1, own, 10), new SteadyPublisher('P', p1, other, 10)];
      for (const p of pubs) p.start();
      await waitFor(() => recs.every((r) => r.count('P') > 10));
      const before = (await d.health('r1-n3')).incarnation;
      d.sup.pause('r1-n3');
      // Paused until the others have declared it down (4 s of silence).
      await waitFor(async () => (await d.health('r1-n1')).members.some((m: { node: string; state: string }) => m.node === 'r1-n3' && m.state === 'down'), {
        what: 'r1-n3 declared down',
        timeoutMs: 15_000,
      });
      d.sup.resume('r1-n3');
      await waitFor(async () => (await d.health('r1-n3')).incarnation > before, { what: 'a new incarnation of r1-n3' });
      const marks = recs.map((r) => r.count('P'));
      await waitFor(() => recs.every((r, i) => r.count('P') > marks[i]! + 20), { what: 'deliveries after the pause', timeoutMs: 20_000 });
      for (const p of pubs) await p.stop();
      await waitFor(() => recs.every((r, i) => r.check(pubs[i]!).length === 0), { timeoutMs: 10_000 }).catch(() => undefined);
      recs.forEach((r, i) => expect(r.check(pubs[i]!)).toEqual([]));
      await ringOf(d, 3);
    } finally {
      closeAll(p1, s3);
    }
  });

  it("has a stopped node's clients (the SDK's default options) back within seconds through the balancer: its /health says it no longer serves (503) before they are told to go", async () => {
    // The client lands on the node to stop (the balancer's only backend), then every node is the balancer's.
    const node = 'r1-n3';
    const bal = await balancerFor(d, [node]);
    const c = realtime(portOf(bal));
    try {
      await connected(c);
      bal.setBackends(N.map((name) => ({ name, host: '127.0.0.1', port: d.port(name) })));
      await waitFor(() => bal.healthyBackends().length === N.length, { what: 'every node healthy at the balancer' });
      const id = c.connection.id;
      const states: string[] = [];
      c.connection.on((sc) => void states.push(sc.current));
      const stopped = d.sup.terminate(node);
      await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${d.port(node)}/health`);
        return res.status === 503 && ((await res.json()) as { serving: boolean }).serving === false;
      }, { what: 'the stopping node saying it does not serve' });
      await waitFor(() => states.includes('disconnected'), { what: 'the client told to go', timeoutMs: 10_000 });
      const told = Date.now();
      // Before: the SDK's one immediate retry came back to the stopping node, and the next waited 15 s.
      await waitFor(() => states.at(-1) === 'connected', { what: 'the client back, on another node', timeoutMs: 8_000 });
      expect(Date.now() - told).toBeLessThan(5_000);
      expect(c.connection.id).toBe(id);
      await stopped;
      await ringOf(d, 2);
      await d.sup.restart(node);
      await ringOf(d, 3);
    } finally {
      closeAll(c);
      await bal.close();
    }
  });

  it('loses nothing acknowledged through a rolling restart of every node under load', async () => {
    const bal = await balancerFor(d, N);
    const opts = { disconnectedRetryTimeout: 200 };
    const channel = 'rolling';
    const pubClients = [realtime(portOf(bal), opts), realtime(portOf(bal), opts)];
    const subClients = [realtime(portOf(bal), opts), realtime(portOf(bal), opts), realtime(portOf(bal), { ...opts, useBinaryProtocol: false })];
    try {
      const recs = subClients.map(() => new Recorder());
      await Promise.all(subClients.map((s, i) => s.channels.get(channel).subscribe(recs[i]!.handler)));
      await Promise.all(pubClients.map(connected));
      const pubs = pubClients.map((c, i) => new SteadyPublisher(`R${i}`, c, channel, 15));
      pubs.forEach((p) => p.start());
      for (const node of N) {
        await d.sup.terminate(node);
        await ringOf(d, 2);
        await d.sup.restart(node);
        await ringOf(d, 3);
      }
      const marks = recs.map((r) => r.count('R0'));
      await waitFor(() => recs.every((r, i) => r.count('R0') > marks[i]! + 20), { what: 'traffic after the rolling restart', timeoutMs: 20_000 });
      await Promise.all(pubs.map((p) => p.stop()));
      for (const p of pubs) expect(p.nacked.size, `${p.id} NACKs: ${[...p.nacked.values()].slice(0, 3)}`).toBe(0);
      await waitFor(() => recs.every((r) => pubs.every((p) => r.check(p).length === 0)), { timeoutMs: 15_000 }).catch(() => undefined);
      for (const r of recs) for (const p of pubs) expect(r.check(p)).toEqual([]);
    } finally {
      closeAll(...pubClients, ...subClients);
      await bal.close();
    }
  });
});
