/**
 * Three regions of two nodes each, real processes, region links through fault proxies:
 * forwarding to interested regions only, partitions and heal, the globalmaster's node
 * killed, and a client that fails over to another region and resumes there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalmaster, regionLinksUp, startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({
    regions: [
      { name: 'r1', nodes: 2 },
      { name: 'r2', nodes: 2 },
      { name: 'r3', nodes: 2 },
    ],
  });
  await linksUp();
});

afterAll(async () => {
  await d?.stop();
});

const gm = (region: string) => globalmaster(d, region);
const linksUp = () => regionLinksUp(d, ['r1', 'r2', 'r3']);

function p(node: string): number {
  return d.port(node);
}

/** Publish→deliver latency of a local channel, measured while `during` runs. */
async function localLatency(region: string, ms: number): Promise<{ p50: number; p99: number }> {
  const [a, b] = d.nodes(region) as [string, string];
  const pub = realtime(p(a));
  const sub = realtime(p(b));
  try {
    const lat: number[] = [];
    await sub.channels.get(`local-${region}`).subscribe((m) => void lat.push(Date.now() - (m.data as { t: number }).t));
    await connected(pub);
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await pub.channels.get(`local-${region}`).publish('t', { t: Date.now() });
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => lat.length > 0);
    lat.sort((x, y) => x - y);
    return { p50: lat[Math.floor(lat.length / 2)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
  } finally {
    closeAll(pub, sub);
  }
}

describe('a deployment of three regions', () => {
  it('forwards a region\'s messages once, in order, to regions with interest and only to them', async () => {
    const before = (await gm('r3')).health.regionLinks.links.find((l: any) => l.region === 'r1').entriesIn;
    const pub = realtime(p('r1-n1'));
    const subB = realtime(p('r2-n1'));
    const subB2 = realtime(p('r2-n2'), { useBinaryProtocol: false });
    try {
      const recs = [new Recorder(), new Recorder()];
      await subB.channels.get('fan').subscribe(recs[0]!.handler);
      await subB2.channels.get('fan').subscribe(recs[1]!.handler);
      // Interest reaches r1 (a delta, normally within milliseconds; the deadline leaves
      // room for a loaded machine: speed is the benchmarks' business).
      await waitFor(async () => (await gm('r1')).health.regionLinks.links.find((l: any) => l.region === 'r2').remoteInterest > 0, {
        what: 'r2\'s interest known in r1',
        timeoutMs: 10_000,
      });
      await connected(pub);
      const publisher = new SteadyPublisher('A', pub, 'fan', 5);
      publisher.start();
      await waitFor(() => publisher.sent >= 100);
      await publisher.stop();
      await waitFor(() => recs.every((r) => r.count('A') === publisher.acked.size), { what: 'r2 to have everything' });
      for (const r of recs) expect(r.check(publisher)).toEqual([]);
      // r2's masters acknowledged what they ingested back to r1.
      await waitFor(async () => (await gm('r1')).health.regionLinks.links.find((l: any) => l.region === 'r2').acksIn > 0, {
        what: 'r2 to acknowledge r1\'s forwards',
      });
      // r3 has no interest in 'fan': nothing of it crossed to r3.
      const after = (await gm('r3')).health.regionLinks.links.find((l: any) => l.region === 'r1').entriesIn;
      expect(after - before).toBe(0);
    } finally {
      closeAll(pub, subB, subB2);
    }
  });

  it('keeps each region serving through a partition, and delivers everything exactly once after the heal', async () => {
    const channel = 'partitioned';
    const pubA = realtime(p('r1-n1'));
    const pubB = realtime(p('r2-n2'));
    const subA = realtime(p('r1-n2'));
    const subB = realtime(p('r2-n1'));
    try {
      const recA = new Recorder();
      const recB = new Recorder();
      await subA.channels.get(channel).subscribe(recA.handler);
      await subB.channels.get(channel).subscribe(recB.handler);
      await Promise.all([pubA, pubB].map(connected));
      const A = new SteadyPublisher('A', pubA, channel, 20);
      const B = new SteadyPublisher('B', pubB, channel, 20);
      A.start();
      B.start();
      await waitFor(() => recA.count('B') > 10 && recB.count('A') > 10, { what: 'traffic across' });
      const normal = await localLatency('r1', 1500);

      const proxy = d.sup.regionProxies.get('r1|r2')!;
      proxy.set('both', { blackhole: true });
      const duringPartition = await localLatency('r1', 3000);
      // Each side keeps delivering its own messages meanwhile.
      const a0 = recA.count('A');
      const b0 = recB.count('B');
      await waitFor(() => recA.count('A') > a0 + 20 && recB.count('B') > b0 + 20);

      // Long enough for the link to be declared dead (keepalive): the heal must replay.
      await waitFor(async () => !(await gm('r1')).health.regionLinks.links.find((l: any) => l.region === 'r2').up, {
        what: 'the r1–r2 link seen down',
        timeoutMs: 15_000,
      });
      const healedAt = Date.now();
      proxy.heal();
      await A.stop();
      await B.stop();
      await waitFor(
        () => [recA, recB].every((r) => r.check(A).length === 0 && r.check(B).length === 0),
        { what: 'every acknowledged message on both sides', timeoutMs: 30_000 },
      ).catch(() => undefined);
      const converged = Date.now() - healedAt;
      for (const r of [recA, recB]) {
        expect(r.check(A)).toEqual([]);
        expect(r.check(B)).toEqual([]);
      }
      console.log(
        `[partition] local p50/p99 ${normal.p50}/${normal.p99} ms before, ${duringPartition.p50}/${duringPartition.p99} ms during; converged ${converged} ms after heal`,
      );
      // Local delivery that waited on the cut link would take seconds; 250 ms leaves room
      // for the machine's load to differ between the two windows.
      expect(duringPartition.p50).toBeLessThan(normal.p50 + 250);
    } finally {
      closeAll(pubA, pubB, subA, subB);
    }
  });

  it('moves the globalmaster when its node is killed, losing nothing acknowledged', async () => {
    const { node: doomed } = await gm('r1');
    const survivor = d.nodes('r1').find((n) => n !== doomed)!;
    const channel = 'gm-killed';
    const pub = realtime(p(survivor));
    const sub = realtime(p('r3-n1'));
    try {
      const rec = new Recorder();
      await sub.channels.get(channel).subscribe(rec.handler);
      await connected(pub);
      const A = new SteadyPublisher('A', pub, channel, 10);
      A.start();
      await waitFor(() => rec.count('A') > 20, { what: 'traffic r1 → r3' });
      await d.sup.kill(doomed);
      await waitFor(async () => (await gm('r1')).node === survivor, { what: 'the role on the survivor' });
      await waitFor(async () => (await gm('r1')).health.regionLinks.links.every((l: any) => l.up), { timeoutMs: 20_000 });
      const mark = rec.count('A');
      await waitFor(() => rec.count('A') > mark + 20, { what: 'traffic through the new globalmaster', timeoutMs: 20_000 });
      await A.stop();
      await waitFor(() => rec.check(A).length === 0, { timeoutMs: 20_000 }).catch(() => undefined);
      expect(rec.check(A)).toEqual([]);
    } finally {
      closeAll(pub, sub);
      await d.sup.restart(doomed);
      // The restarted node takes the role (and its channels) back once it has rejoined:
      // the next test starts after that, not while they move.
      await waitFor(async () => (await d.health(doomed)).globalmaster === true && (await d.health(survivor)).globalmaster === false, {
        what: 'the role back on the restarted node',
        timeoutMs: 20_000,
      });
      await linksUp();
    }
  });

  it('resumes a client in another region from its channelSerial, without gap or duplicate', async () => {
    const channel = 'failover-region';
    const pubB = realtime(p('r2-n1'));
    const pubA = realtime(p('r1-n1'));
    const client = realtime(p('r1-n2'), { disconnectedRetryTimeout: 200 });
    let moved: Realtime | undefined;
    try {
      const seen: string[] = [];
      await client.channels.get(channel).subscribe((m) => void seen.push(m.data as string));
      await Promise.all([pubA, pubB].map(connected));
      for (let i = 0; i < 5; i++) await pubA.channels.get(channel).publish('x', `a${i}`);
      for (let i = 0; i < 5; i++) await pubB.channels.get(channel).publish('x', `b${i}`);
      await waitFor(() => seen.length === 10, { what: 'both regions\' messages in r1' });
      const serial = (client.channels.get(channel) as any).properties.channelSerial as string;
      // r1 is cut off from everyone; the client gives up on it.
      d.sup.regionProxies.get('r1|r2')!.set('both', { blackhole: true });
      d.sup.regionProxies.get('r1|r3')!.set('both', { blackhole: true });
      client.close();
      for (let i = 5; i < 10; i++) await pubB.channels.get(channel).publish('x', `b${i}`);
      // It comes back in r2 with the channelSerial r1 gave it.
      moved = realtime(p('r2-n2'));
      const more: string[] = [];
      const ch = moved.channels.get(channel);
      (ch as any).properties.channelSerial = serial;
      const attached: boolean[] = [];
      ch.on('attached', (sc) => void attached.push(sc.resumed));
      await ch.subscribe((m) => void more.push(m.data as string));
      await waitFor(() => more.length >= 5, { what: 'the missed messages in r2' });
      await new Promise((r) => setTimeout(r, 300));
      expect(more).toEqual(['b5', 'b6', 'b7', 'b8', 'b9']);
      expect(attached).toEqual([true]);
    } finally {
      d.sup.regionProxies.get('r1|r2')!.heal();
      d.sup.regionProxies.get('r1|r3')!.heal();
      closeAll(pubA, pubB, client, moved);
      await linksUp();
    }
  });
});
