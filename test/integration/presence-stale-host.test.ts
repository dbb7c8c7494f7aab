/**
 * A presence member whose connection moved to another node, while what the node it left
 * had said of it was held up on that node's link to the channel's master. That word
 * arrived after the new node's: first the member's own op (a "they are here" with it),
 * which took the member back to the old node, then the old node's "they leave" (its
 * transport dropped), which then applied. The member left though its client stayed
 * connected. In chaos seed 3841 the held word was the old node's "they are here" from a
 * ring change just before it lost quorum. Each node now says the connection's version
 * there (its record's when that node took it), and the master ignores what a node with an
 * older version says (PresenceSet.hold, ChannelState.acceptPresence): the SDK sends the op
 * again on the node it resumed on.
 */
import { describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { nodeLogLines, startDeployment } from '../helpers/deployment.js';
import { channelsMasteredBy, replicaOf } from '../helpers/ring.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

const LEAVE_DELAY_MS = 2000;
const AUTH = { authorization: `Basic ${Buffer.from(KEY).toString('base64')}` };

describe('a presence member whose connection moved while the node it left could not reach the master', () => {
  it('stays: the old node\'s late op and leave do not take it back', { timeout: 90_000 }, async () => {
    // No paths around a cut link: the old node's words wait on its link to the master
    // until the heal, however long the resume takes (with them, they went around through
    // the third node a second after the cut, before a resume slowed by load could reach
    // the master, and the test waited in vain for them to count as stale). The budget is
    // now the 4 s after which the master would hold the old node down.
    const d = await startDeployment({
      regions: [{ name: 'r1', nodes: 3 }],
      meshProxies: true,
      limits: { presenceLeaveDelayMs: LEAVE_DELAY_MS },
      env: { ABLY_NG_DEBUG_NO_PATHS_AROUND: '1' },
    });
    const [master, next, old] = ['r1-n1', 'r1-n2', 'r1-n3'];
    // Its replica is the next node: the master, cut from the old node, still replicates.
    const app = d.topology.apps[0]!.id;
    const ch = channelsMasteredBy(d.nodes('r1'), master, 'stale-host', 50, app).find((c) => replicaOf(d.nodes('r1'), c, app) === next)!;
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port(old) });
    await proxy.listen();
    const member = realtime(proxy.port, { clientId: 'stayer', disconnectedRetryTimeout: 300 });
    // Bytes from the old node to the master, on the link either of them dialled.
    const toMaster = [d.sup.meshProxies.get(`${old}>${master}`)!, d.sup.meshProxies.get(`${master}>${old}`)!];
    const counters = async (node: string) => (await d.health(node)).counters as { presenceOps: number; presenceStale: number };
    try {
      await connected(member);
      const id = member.connection.id!;
      const channel = member.channels.get(ch);
      await channel.presence.enter('here');
      const members = async () => (await rest(d.port(master)).channels.get(ch).presence.get()).items.map((m) => `${m.clientId} ${m.connectionId}`);
      await waitFor(async () => (await members()).length === 1, { what: 'the member entered' });

      // The old node's words to the master wait on its link from here on.
      const staleBefore = (await counters(master)).presenceStale;
      toMaster[0]!.set('up', { blackhole: true });
      toMaster[1]!.set('down', { blackhole: true });
      const opsBefore = (await counters(old)).presenceOps;
      let updated = false;
      let failed: unknown = null;
      void channel.presence.update('moving').then(() => void (updated = true), (e) => void (failed = e));
      await waitFor(async () => (await counters(old)).presenceOps > opsBefore, { what: 'the old node to send the op on (held up)' });

      // The client's transport drops, and it resumes its connection on another node, which
      // tells the master its members are here, and sends the op again (RTN19a): the master
      // acknowledges it only from there, the old node's copy being held up.
      proxy.setTarget({ host: '127.0.0.1', port: d.port(next) });
      proxy.resetConnections();
      await waitFor(() => updated && member.connection.state === 'connected' && channel.state === 'attached', {
        what: 'the op acknowledged after the resume on the next node',
        timeoutMs: 15_000,
      }).catch((e: Error) => {
        throw new Error(`${e.message}; the op: ${String(failed ?? 'not answered')}; ${member.connection.state}, ${channel.state}`);
      });
      expect(member.connection.id).toBe(id);

      // What the old node said arrives after that, in order: the op, then that the members
      // leave after the delay. The master knows both for a node the connection has left
      // (counted as it takes them), and neither moves the member nor gives it a time to
      // leave: it stays under the next node with no leave pending (on the old rule it was
      // back under the old node, leaving), so it never leaves while its client is there.
      for (const p of toMaster) p.heal();
      const hosts = async () => ((await (await fetch(`http://127.0.0.1:${d.port(master)}/channels/${ch}`, { headers: AUTH })).json()) as { presenceHosts?: unknown }).presenceHosts;
      const underNext = JSON.stringify([{ host: next, members: 1, leaving: 0 }]);
      // Until both are counted, or (on the old rule, which counted neither) they moved the member.
      await waitFor(async () => (await counters(master)).presenceStale >= staleBefore + 2 || JSON.stringify(await hosts()) !== underNext, {
        what: 'the old node\'s op and leave at the master',
        timeoutMs: 15_000,
      });
      expect(member.connection.state).toBe('connected');
      expect(member.connection.id).toBe(id);
      expect(await members(), nodeLogLines(d, master, /presence members left/).join('\n')).toEqual([`stayer ${id}`]);
      expect(await hosts()).toEqual([{ host: next, members: 1, leaving: 0 }]);
    } finally {
      for (const p of toMaster) p.heal();
      closeAll(member);
      await proxy.close();
      await d.stop();
    }
  });
});
