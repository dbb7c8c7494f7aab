/**
 * Clients that move from one region to another with their channelSerial, while the
 * link between the regions is cut and the new region already has a subscriber whose
 * stream from the old region has not begun (its start waits for the link). The moved
 * clients' positions must not become the stream's: the start, from shortly before the
 * earlier subscriber attached, must reach that subscriber whole, while each moved client
 * gets only what it had not seen (src/channel/origin-positions.ts, reachBackTo; the
 * channel client's floors). Before, the first client's position was taken as the
 * stream's (the earlier subscriber lost what came before it) and a second client with
 * an older position could not resume (90005). A moved client that reconnects in its new
 * region before that stream has begun attaches again with the serial the new region gave
 * it, which carries what it had seen (delivery.ts, withFloors); before, its floors were
 * lost with its first attach and it got those messages twice.
 */
import type { InboundMessage } from 'ably';
import { beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { allLinksUp, globalmaster, regionsDeployment, type TestDeployment } from '../helpers/deployment.js';
import { closeAll, connected, realtime, type Realtime } from '../helpers/sdk.js';
import { channelsMasteredBy } from '../helpers/ring.js';
import { sleep, waitFor } from '../helpers/wait.js';

let d: TestDeployment;

/** The describe's deployment in `d`: r1 of one node, r2 of `r2Nodes`. */
function deployment(r2Nodes: number): void {
  const get = regionsDeployment([
    { name: 'r1', nodes: 1 },
    { name: 'r2', nodes: r2Nodes },
  ]);
  beforeEach(() => {
    d = get();
  });
}

const linkUp = (region: string) => allLinksUp(d, region);

/** Subscribes `client` to `channel`, recording each message's data and whether ATTACHED said resumed. */
async function follow(client: Realtime, channel: string, serial?: string): Promise<{ got: string[]; resumed: boolean[] }> {
  const got: string[] = [];
  const resumed: boolean[] = [];
  const ch = client.channels.get(channel);
  if (serial) (ch as any).properties.channelSerial = serial;
  ch.on('attached', (sc) => void resumed.push(sc.resumed));
  await ch.subscribe((m: InboundMessage) => void got.push(String(m.data)));
  return { got, resumed };
}

const serialOf = (client: Realtime, channel: string) => (client.channels.get(channel) as any).properties.channelSerial as string;

describe('clients that move region during a cut, where the new region already has a subscriber', () => {
  deployment(1);

  it('reach the earlier subscriber with everything, and give each moved client only what it had not seen, also after it reconnects', async () => {
    const channel = 'moved-during-cut';
    const link = d.sup.regionProxies.get('r1|r2')!;
    const pub = realtime(d.port('r1-n1'));
    const early = realtime(d.port('r2-n1'));
    const other = realtime(d.port('r2-n1'));
    const inR1 = [realtime(d.port('r1-n1')), realtime(d.port('r1-n1'))];
    const inR2: Realtime[] = [];
    // A's connection in r2 goes through a proxy, to be dropped.
    const proxyA = new FaultProxy({ host: '127.0.0.1', port: d.port('r2-n1') });
    await proxyA.listen();
    try {
      await connected(pub);
      link.set('both', { reset: true });
      await waitFor(async () => !(await linkUp('r1')) && !(await linkUp('r2')), { what: 'the r1–r2 link down' });
      // The earlier subscriber: r2's interest begins now; its start from r1 waits for the link.
      const e = await follow(early, channel);
      const [a, b] = await Promise.all(inR1.map((c) => follow(c, channel)));
      const pubCh = pub.channels.get(channel);
      for (const n of [1, 2]) await pubCh.publish('m', `m${n}`);
      await waitFor(() => a!.got.length === 2 && b!.got.length === 2, { what: 'm1, m2 in r1' });
      const serialB = serialOf(inR1[1]!, channel);
      for (const n of [3, 4, 5]) await pubCh.publish('m', `m${n}`);
      await waitFor(() => a!.got.length === 5, { what: 'm1–m5 in r1' });
      const serialA = serialOf(inR1[0]!, channel);
      closeAll(...inR1);
      // Both move to r2 with what they had seen: A first (up to m5), then B (up to m2).
      inR2.push(realtime(proxyA.port));
      const movedA = await follow(inR2[0]!, channel, serialA);
      inR2.push(realtime(d.port('r2-n1')));
      const movedB = await follow(inR2[1]!, channel, serialB);
      // A's connection drops before r2's stream from r1 has begun: the SDK resumes it and
      // attaches again with the last serial r2 gave it (a message's, not the ATTACHED's),
      // which must still say what it saw in r1.
      const r2Message = async (marker: string, what: string) => {
        await other.channels.get(channel).publish('m', marker);
        await waitFor(() => [e, movedA, movedB].every((r) => r.got.includes(marker)), { what });
        for (const r of [e, movedA, movedB]) r.got.splice(r.got.indexOf(marker), 1);
      };
      await r2Message('r2-before', "r2's message to A before it reconnects, and to the others");
      const dropped = inR2[0]!.connection.once('disconnected');
      proxyA.resetConnections();
      await dropped;
      await connected(inR2[0]!);
      await r2Message('r2-marker', "r2's message to A after it reconnected, and to the others");
      for (const n of [6, 7, 8]) await pubCh.publish('m', `m${n}`);
      link.heal();
      await waitFor(async () => (await linkUp('r1')) && (await linkUp('r2')), { what: 'the r1–r2 link up', timeoutMs: 20_000 });
      for (const n of [9, 10]) await pubCh.publish('m', `m${n}`);
      const all = Array.from({ length: 10 }, (_, i) => `m${i + 1}`);
      for (const [name, r] of [['the earlier subscriber', e], ['A', movedA], ['B', movedB]] as const) {
        await waitFor(() => r.got.includes('m10'), { what: `m10 to ${name}`, timeoutMs: 20_000 });
      }
      expect(e.got, 'the earlier subscriber').toEqual(all);
      expect([movedA.got, movedA.resumed], 'A').toEqual([all.slice(5), [true, true]]);
      expect([movedB.got, movedB.resumed], 'B').toEqual([all.slice(2), [true]]);
    } finally {
      link.heal();
      closeAll(pub, early, other, ...inR1, ...inR2);
      await proxyA.close();
    }
  });
});

describe("a client that moved region, across a failover of the channel's master there", () => {
  deployment(3);

  it('still gets what it had not seen from before the interest there began (the master promoted knows how far back to reach)', async () => {
    const r2 = d.nodes('r2');
    const gmNode = (await globalmaster(d, 'r2')).node;
    const master = r2.find((n) => n !== gmNode)!;
    const channel = channelsMasteredBy(r2, master, 'moved-failover', 1)[0]!;
    const clientsNode = r2.find((n) => n !== master)!;
    const link = d.sup.regionProxies.get('r1|r2')!;
    const pub = realtime(d.port('r1-n1'));
    const inR1 = realtime(d.port('r1-n1'));
    const inR2 = [realtime(d.port(clientsNode)), realtime(d.port(clientsNode)), realtime(d.port(clientsNode))];
    try {
      await connected(pub);
      link.set('both', { reset: true });
      await waitFor(async () => !(await linkUp('r1')) && !(await linkUp('r2')), { what: 'the r1–r2 link down' });
      const pubCh = pub.channels.get(channel);
      const a = await follow(inR1, channel);
      for (const n of [1, 2, 3]) await pubCh.publish('m', `m${n}`);
      await waitFor(() => a.got.length === 3, { what: 'm1–m3 in r1' });
      const serial = serialOf(inR1, channel);
      closeAll(inR1);
      for (const n of [4, 5]) await pubCh.publish('m', `m${n}`);
      // r2's interest begins well after m4 and m5 (more than the start's 2 s reach), so
      // its start from r1 would begin after them: the moved client needs more.
      await sleep(3000);
      const e = await follow(inR2[0]!, channel);
      const moved = await follow(inR2[1]!, channel, serial);
      for (const n of [6, 7, 8]) await pubCh.publish('m', `m${n}`);
      await d.sup.kill(master);
      // The channel is served by its new master: r2's own message reaches both.
      await inR2[2]!.channels.get(channel).publish('m', 'r2-marker');
      await waitFor(() => e.got.includes('r2-marker') && moved.got.includes('r2-marker'), { what: "r2's message after the failover", timeoutMs: 20_000 });
      link.heal();
      await waitFor(async () => (await linkUp('r1')) && (await linkUp('r2')), { what: 'the r1–r2 link up', timeoutMs: 20_000 });
      for (const n of [9, 10]) await pubCh.publish('m', `m${n}`);
      for (const r of [e, moved]) await waitFor(() => r.got.includes('m10'), { what: 'm10 in r2', timeoutMs: 20_000 });
      const fromR1 = (r: { got: string[] }) => r.got.filter((x) => x !== 'r2-marker');
      const after3 = Array.from({ length: 7 }, (_, i) => `m${i + 4}`);
      expect([fromR1(moved), moved.resumed], 'the moved client').toEqual([after3, [true]]);
      // The earlier subscriber gets as much (the stream reached back for the moved client).
      expect(fromR1(e), 'the earlier subscriber').toEqual(after3);
    } finally {
      link.heal();
      closeAll(pub, inR1, ...inR2);
    }
  });
});
