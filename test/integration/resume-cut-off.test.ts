/**
 * A client resumes on a node that has just been cut off from the rest of its region and
 * does not know it yet (it still counts a majority). No node holding the connection's
 * record answers it. It used to answer "connection expired" (80008) and open a new
 * connection: the SDK then sent its unacknowledged messages again under new ids, which
 * the service cannot tell from new ones (chaos seed 1240 with `--pairs`: 117 messages
 * delivered twice, a second 80008 when that node then lost quorum). Now it tells the
 * client to try again (DISCONNECTED, 80003), and the client resumes its connection,
 * under the same id, on a node that reaches the record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ring } from '../../src/cluster/ring.js';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { meshProxiedRegion, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
beforeAll(async () => {
  d = await meshProxiedRegion();
});
afterAll(async () => {
  await d?.stop();
});

describe('a resume on a node cut off from the connection\'s record', () => {
  it('is refused for now, not answered "expired": the client resumes the same connection elsewhere', { timeout: 60_000 }, async () => {
    const nodes = d.nodes('r1');
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n1') });
    await proxy.listen();
    const client = realtime(proxy.port, { disconnectedRetryTimeout: 300 });
    const cutLinks: FaultProxy[] = [];
    try {
      await connected(client);
      const id = client.connection.id!;
      // In a region of three, two nodes hold the record: cut the third off from both.
      const holders = new Ring(nodes).preference(`conn:${id}`, 2);
      const cutOff = nodes.find((n) => !holders.includes(n))!;
      for (const other of nodes) {
        if (other === cutOff) continue;
        cutLinks.push(d.sup.meshProxies.get(`${cutOff}>${other}`)!, d.sup.meshProxies.get(`${other}>${cutOff}`)!);
      }
      for (const p of cutLinks) p.set('both', { blackhole: true });

      const seen: { state: string; code?: number; message?: string; id?: string }[] = [];
      client.connection.on((sc) => void seen.push({ state: sc.current, code: sc.reason?.code, message: sc.reason?.message, id: client.connection.id ?? undefined }));
      // The transport drops; the client comes back on the node that was just cut off.
      proxy.setTarget({ host: '127.0.0.1', port: d.port(cutOff) });
      proxy.resetConnections();
      // (The transport's drop is a DISCONNECTED 80003 of the SDK's own; the node's says why.
      // Should the node notice it is cut off first, it says so instead: either is right.)
      const refused = (s: { state: string; code?: number; message?: string }) =>
        s.state === 'disconnected' && s.code === 80003 && /cannot reach the connection's state|cut off from its region/.test(s.message ?? '');
      await waitFor(() => seen.some(refused) || seen.some((s) => s.state === 'connected'), {
        what: 'the cut-off node to answer the resume',
        timeoutMs: 15_000,
      });
      expect(seen.filter((s) => s.state === 'connected'), 'no connection opened on the cut-off node').toEqual([]);

      // Its next attempt reaches a node that holds the record.
      proxy.setTarget({ host: '127.0.0.1', port: d.port(holders[0]!) });
      await waitFor(() => client.connection.state === 'connected', { what: 'the resume elsewhere', timeoutMs: 15_000 });
      expect(client.connection.id).toBe(id);
      expect(seen.filter((s) => s.code === 80008)).toEqual([]);
    } finally {
      for (const p of cutLinks) p.heal();
      closeAll(client);
      await proxy.close();
    }
  });
});
