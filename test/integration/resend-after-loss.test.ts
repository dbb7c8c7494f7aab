/**
 * A publish ordered and delivered just before its channel's master and replica died
 * together, whose ACK went with its publisher's node (the replica), is sent again by the
 * SDK when its connection resumes on another node, with the same msgSerial. That node
 * knew nothing of the first sending, and the channel starts again in a new epoch with an
 * empty dedup window: before the fifty-sixth session the new master ordered it a second
 * time and subscribers got it twice (chaos `two-of-three-killed`, once in each of several
 * runs). Now the claim that starts the new epoch gathers the ids the surviving nodes
 * delivered last (src/channel/recent-ids.ts) and answers the resend with its first serial:
 * here from a node it would not ask otherwise (in a region of seven, the subscriber's
 * node is not among the four its new owner asks first), which it asks because a node
 * went moments before.
 *
 * Real node processes, the real SDK; the ACK is held back by a proxy between the
 * publisher and its node, so that the loss of both copies comes while it is unanswered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ring } from '../../src/cluster/ring.js';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy, replicaOf } from '../helpers/ring.js';
import { CLAIM_FANOUT } from '../../src/channel/claim.js';
import { closeAll, connected, realtime } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 7 }] });
});
afterAll(async () => {
  await d?.stop();
});

describe('a publish whose ACK was lost with its node as the channel lost both copies', () => {
  it('is answered when the SDK sends it again through another node, and reaches its subscriber once', async () => {
    const members = d.nodes('r1');
    const app = d.topology.apps[0]!.id;
    // Once its master and replica are gone, the channel's new owner asks the first four of
    // the five left (CLAIM_FANOUT, itself among them) and not the subscriber's node: it
    // learns of the loss from every node.
    const ch = channelMasteredBy(members, 'r1-n1', 'resend-after-loss', app);
    const replica = replicaOf(members, ch, app)!;
    const survivors = members.filter((n) => n !== 'r1-n1' && n !== replica);
    const asked = new Ring(survivors).preference(`${app}:${ch}`, CLAIM_FANOUT);
    const third = survivors.find((n) => !asked.includes(n))!;
    const fourth = asked.find((n) => n !== asked[0])!;
    // The publisher's node is the channel's replica, as in the chaos run; its subscriber is elsewhere.
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port(replica) });
    await proxy.listen();
    const pub = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    const sub = realtime(d.port(third), { disconnectedRetryTimeout: 200 });
    try {
      const got: string[] = [];
      const updates: { resumed: boolean; code?: number }[] = [];
      const channel = sub.channels.get(ch);
      channel.on('update', (c) => void updates.push({ resumed: c.resumed, code: c.reason?.code }));
      await channel.subscribe((m) => void got.push(String(m.data)));
      await connected(pub);
      const id = pub.connection.id!;
      // Its record outlives the two nodes (three hold it in a region of five or more).
      expect(new Ring(members).preference(`conn:${id}`, 3).filter((n) => n !== 'r1-n1' && n !== replica).length).toBeGreaterThan(0);
      const out = pub.channels.get(ch);
      for (let i = 0; i < 3; i++) await out.publish('m', `before-${i}`);
      await waitFor(() => got.length === 3, { what: 'the first three messages' });

      // Its ACK is held back; the subscriber gets it.
      proxy.set('down', { blackhole: true });
      let acked = false;
      const ghost = out.publish('m', 'ghost').then(() => void (acked = true));
      await waitFor(() => got.includes('ghost'), { what: 'the subscriber to get the message' });

      // Both copies go; the publisher's connection comes back on a surviving node, held bytes dropped.
      await Promise.all([d.sup.kill('r1-n1'), d.sup.kill(replica)]);
      proxy.setTarget({ host: '127.0.0.1', port: d.port(fourth) });
      proxy.resetConnections();
      proxy.heal();
      await ghost;
      expect(acked).toBe(true);
      expect(pub.connection.id, 'the connection resumed (a new one sends it under another id)').toBe(id);
      await out.publish('m', 'after');
      await waitFor(() => got.includes('after'), { what: 'the message after the loss', timeoutMs: 20_000 });
      expect(got.filter((m) => m === 'ghost')).toEqual(['ghost']);
      expect(got).toEqual(['before-0', 'before-1', 'before-2', 'ghost', 'after']);
      // The subscriber was told the channel's state was lost (nothing it had is missing).
      expect(updates).toContainEqual({ resumed: false, code: 90005 });
    } finally {
      closeAll(pub, sub);
      await proxy.close();
    }
  });
});
