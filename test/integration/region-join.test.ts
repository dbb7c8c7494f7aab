/**
 * A node that is not in the topology joins a running region, takes its share of the
 * ring, shows up in health and metrics, and leaves again with a handoff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { freePorts } from '../helpers/ports.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { Recorder, SteadyPublisher } from '../helpers/workload.js';

let d: TestDeployment;
const N = ['r1-n1', 'r1-n2', 'r1-n3'];
const auth = { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}` };

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
});

afterAll(async () => {
  await d?.stop();
});

async function everyRing(nodes: string[], ports: Map<string, number>): Promise<void> {
  await waitFor(
    async () => {
      const hs = await Promise.all(nodes.map(async (n) => (await fetch(`http://127.0.0.1:${ports.get(n)}/health`)).json() as Promise<any>));
      return hs.every((h) => h.ring.length === nodes.length && h.quorum);
    },
    { what: `rings of ${nodes.length}`, timeoutMs: 20_000 },
  );
}

describe('joining a running region', () => {
  it('lets a node started later join, master its share, report in health and metrics, and leave with a handoff', async () => {
    const [port, meshPort] = await freePorts(2);
    const ports = new Map(N.map((n) => [n, d.port(n)]));
    ports.set('r1-n4', port!);
    const channel = channelMasteredBy([...N, 'r1-n4'], 'r1-n4', 'joined');
    const sub = realtime(d.port('r1-n1'));
    const pubClient = realtime(d.port('r1-n2'));
    try {
      const rec = new Recorder();
      await sub.channels.get(channel).subscribe(rec.handler);
      await connected(pubClient);
      const pub = new SteadyPublisher('J', pubClient, channel, 10);
      pub.start();

      await d.sup.startNode('r1', 'r1-n4', ['--port', String(port), '--mesh-port', String(meshPort)]);
      await everyRing([...N, 'r1-n4'], ports);
      const h1 = (await (await fetch(`http://127.0.0.1:${d.port('r1-n1')}/health`)).json()) as any;
      expect(h1.members.find((m: any) => m.node === 'r1-n4')?.state).toBe('up');
      await waitFor(
        async () => {
          const s = (await (await fetch(`http://127.0.0.1:${d.port('r1-n1')}/channels/${channel}`, { headers: auth })).json()) as any;
          return s.master === 'r1-n4';
        },
        { what: 'the joiner mastering the channel' },
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/ablyng_ring_members\{[^}]*\} 4/);
      expect(metrics).toMatch(/ablyng_mesh_link_up\{[^}]*peer="r1-n1"[^}]*\} 1/);
      expect(metrics).toMatch(/ablyng_channels_mastered\{[^}]*\} [1-9]/);
      // Running totals are counters (…_total), and the process's metrics carry one prefix.
      expect(metrics).toMatch(/# TYPE ablyng_mesh_link_bytes_total counter\n/);
      expect(metrics).toMatch(/^ablyng_mesh_link_bytes_total\{[^}]*peer="r1-n1"[^}]*direction="out"[^}]*\} [1-9]/m);
      expect(metrics).toMatch(/^ablyng_process_cpu_user_seconds_total[{ ]/m);
      expect(metrics).not.toMatch(/process_process/);

      const mark = rec.count('J');
      await waitFor(() => rec.count('J') > mark + 20, { what: 'traffic through the joiner' });
      await d.sup.terminate('r1-n4');
      await everyRing(N, ports);
      const mark2 = rec.count('J');
      await waitFor(() => rec.count('J') > mark2 + 20, { what: 'traffic after it left' });
      await pub.stop();
      expect(pub.nacked.size).toBe(0);
      await waitFor(() => rec.check(pub).length === 0, { timeoutMs: 10_000 }).catch(() => undefined);
      expect(rec.check(pub)).toEqual([]);
    } finally {
      closeAll(sub, pubClient);
    }
  });
});
