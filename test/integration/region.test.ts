/**
 * A region of three real node processes: fan-out once per node, failover on `kill -9`
 * of a channel master, rejoin with handoff, and a rolling restart under load, all
 * checked with the real SDK for exactly-once, in-order delivery of acknowledged messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { balancerFor, portOf, ringOf } from '../helpers/region.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

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
      const status = (await (
        await fetch(`http://127.0.0.1:${d.port('r1-n1')}/channels/${channel}`, {
          headers: { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}` },
        })
      ).json()) as any;
      expect(status.master).toBe('r1-n3');
      expect(status.replica).not.toBe('r1-n3');
    } finally {
      closeAll(pub, ...subs);
    }
  });

  it('survives kill -9 of a channel master under load: every acknowledged message once, in order', async () => {
    const channel = channelMasteredBy(N, 'r1-n3', 'failover');
    // The third subscriber reaches the region through a balancer that first sends it to
    // the doomed master's node; after the kill it lands elsewhere and resumes.
    const bal = await balancerFor(d, ['r1-n3', 'r1-n1', 'r1-n2']);
    const p1 = realtime(d.port('r1-n1'));
    const p2 = realtime(d.port('r1-n2'));
    const s1 = realtime(d.port('r1-n1'));
    const s2 = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const s3 = realtime(portOf(bal), { disconnectedRetryTimeout: 200 });
    try {
      const recs = [new Recorder(), new Recorder(), new Recorder()];
      await Promise.all([s1, s2, s3].map((s, i) => s.channels.get(channel).subscribe(recs[i]!.handler)));
      await Promise.all([p1, p2].map(connected));
      const pubs = [new SteadyPublisher('P1', p1, channel, 10), new SteadyPublisher('P2', p2, channel, 10)];
      pubs.forEach((p) => p.start());
      await waitFor(() => recs.every((r) => r.count('P1') > 20 && r.count('P2') > 20), { what: 'traffic flowing' });

      const killedAt = Date.now();
      await d.sup.kill('r1-n3');
      const deliveriesBefore = recs[0]!.times.length;
      await waitFor(() => recs[0]!.times.length > deliveriesBefore && recs[0]!.times.at(-1)! > killedAt, {
        what: 'first delivery after the kill',
      });
      const firstAfter = recs[0]!.times.find((t) => t > killedAt)!;
      console.log(`[failover] kill -9 of the master → first delivery after it: ${firstAfter - killedAt} ms`);

      await waitFor(() => s3.connection.state === 'connected' && s3.channels.get(channel).state === 'attached', {
        what: 'the dead node\'s subscriber resumed elsewhere',
        timeoutMs: 15_000,
      });
      const mark = recs[2]!.count('P1');
      await waitFor(() => recs[2]!.count('P1') > mark + 20, { what: 'resumed subscriber receiving' });
      await Promise.all(pubs.map((p) => p.stop()));
      for (const p of pubs) expect(p.nacked.size, `${p.id} NACKs: ${[...p.nacked.values()].slice(0, 3)}`).toBe(0);
      await waitFor(() => recs.every((r) => pubs.every((p) => r.check(p).length === 0)), {
        what: 'every subscriber to have every acknowledged message',
        timeoutMs: 10_000,
      }).catch(() => undefined);
      for (const r of recs) for (const p of pubs) expect(r.check(p)).toEqual([]);
      expect(firstAfter - killedAt).toBeLessThan(5000);
    } finally {
      closeAll(p1, p2, s1, s2, s3);
      await bal.close();
    }
  });

  it('takes a restarted node back into the ring through handoff, losing nothing', async () => {
    const channel = channelMasteredBy(N, 'r1-n3', 'rejoin');
    const p1 = realtime(d.port('r1-n1'));
    const s1 = realtime(d.port('r1-n1'));
    const s2 = realtime(d.port('r1-n2'));
    try {
      const recs = [new Recorder(), new Recorder()];
      await Promise.all([s1, s2].map((s, i) => s.channels.get(channel).subscribe(recs[i]!.handler)));
      await connected(p1);
      const pub = new SteadyPublisher('P', p1, channel, 10);
      pub.start();
      await waitFor(() => recs.every((r) => r.count('P') > 20));
      const handoffsBefore = 0;
      await d.sup.restart('r1-n3');
      await ringOf(d, 3);
      // n3 owns the channel again: it got the state by handoff and now masters it.
      await waitFor(
        async () => {
          const h = await d.health('r1-n3');
          return h.counters.handoffs > handoffsBefore && h.mastered > 0;
        },
        { what: 'n3 mastering channels again' },
      );
      const mark = recs[0]!.count('P');
      await waitFor(() => recs.every((r) => r.count('P') > mark + 30), { what: 'traffic after rejoin' });
      await pub.stop();
      expect(pub.nacked.size).toBe(0);
      await waitFor(() => recs.every((r) => r.check(pub).length === 0), { timeoutMs: 10_000 }).catch(() => undefined);
      for (const r of recs) expect(r.check(pub)).toEqual([]);
      const status = (await (
        await fetch(`http://127.0.0.1:${d.port('r1-n1')}/channels/${channel}`, {
          headers: { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}` },
        })
      ).json()) as any;
      expect(status.master).toBe('r1-n3');
    } finally {
      closeAll(p1, s1, s2);
    }
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
