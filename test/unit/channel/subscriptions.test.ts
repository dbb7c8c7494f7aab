/**
 * A node's subscription at a channel's master must not be lost without the node noticing:
 * a lost subscription means its subscribers wait silently for broadcasts that never come.
 * Channel clients and registries on the in-memory transport, with ring views set by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalSubscriber } from '../../../src/channel/subscriber.js';
import { REMAKE_MS } from '../../../src/channel/audit-digests.js';
import { auditSubscriptions } from '../../../src/channel/requests.js';
import { AblyError } from '../../../src/errors.js';
import { ChannelRouter } from '../../../src/channel/router.js';
import { subDigest } from '../../../src/channel/sub-digest.js';
import { Ring } from '../../../src/cluster/ring.js';
import { decodeFrame } from '../../../src/protocol/codec.js';
import { SharedFrame } from '../../../src/protocol/shared-frame.js';
import { memoryBudget } from '../../../src/memory-budget.js';
import { channelOwnedBy, channelsOwnedBy, makeRegion, msg, setView, startAll, stopAll, type TestNode } from '../../helpers/registry-region.js';
import { waitFor } from '../../helpers/wait.js';

let nodes: TestNode[] = [];

afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});

async function region(ids: string[]): Promise<TestNode[]> {
  nodes = makeRegion(ids).nodes;
  await startAll(nodes);
  return nodes;
}

/** A local subscriber that records the data of the messages it is sent, and continuity signals. */
function subscriber(id: string): LocalSubscriber & { seqs: number[]; gaps: number } {
  const sub = {
    connectionId: id,
    format: 'json' as const,
    channelName: 'c',
    echo: true,
    publishes: false,
    enters: false,
    occupancy: null,
    wants: () => true,
    seqs: [] as number[],
    gaps: 0,
    send(frames: readonly (string | Buffer | SharedFrame)[]): void {
      for (const f of frames) {
        const pm = decodeFrame(f instanceof SharedFrame ? f.payload.toString() : f, 'json');
        for (const m of pm.messages ?? []) sub.seqs.push(Number(m.data));
      }
    },
    discontinuity(): void {
      sub.gaps++;
    },
  };
  return sub;
}

/** A subscriber attached (and live) on `node`'s channel client of `key`. */
async function attached(node: TestNode, key: string, id = 's1') {
  const sub = subscriber(id);
  const client = node.hub.client(key, 'c');
  await client.attach(sub, null, null);
  client.activate(sub);
  return sub;
}

async function publish(from: TestNode, key: string, ...seqs: number[]): Promise<void> {
  for (const s of seqs) await from.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
}

/** Subscriber nodes the master of `key` (on `master`) broadcasts to. */
async function subscriberNodes(master: TestNode, key: string): Promise<string[]> {
  const body = await master.registry.handle(master.id, { type: 'status', rid: 0, channel: key });
  return body.kind === 'status' && body.status ? body.status.subscriberNodes : [];
}

describe('subscriptions at a channel master', () => {
  it('a master does not take a subscription from a node it has not seen rejoin (it would drop it at its next reconcile)', async () => {
    const [a, b, c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    // a and b have c down; c (back) sees everyone.
    setView(a, ['a', 'b']);
    setView(b, ['a', 'b']);
    const sub = subscriber('s1');
    const client = c.hub.client(key, 'c');
    let attached = false;
    const attaching = client.attach(sub, null, null).then(() => (attached = true));
    await publish(a, key, 1);
    expect(attached).toBe(false);
    a.registry.reconcile();
    setView(b, ['a', 'b', 'c']);
    setView(a, ['a', 'b', 'c']);
    await attaching;
    client.activate(sub);
    a.registry.reconcile();
    await publish(a, key, 2, 3);
    await waitFor(() => sub.seqs.length >= 2, { timeoutMs: 5000 });
    expect(sub.seqs).toEqual([2, 3]);
    expect(sub.gaps).toBe(0);
  });

  it('the audit finds a subscription the master lost; the client subscribes again and fills the gap, in order, once', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const sub = await attached(c, key);
    await publish(a, key, 1);
    await waitFor(() => sub.seqs.length === 1, { timeoutMs: 5000 });
    // The master loses c's subscription (as a stale unsub or a lost race would make it).
    a.registry.unsubscribe('c', key);
    await publish(a, key, 2, 3);
    expect(await subscriberNodes(a, key)).not.toContain('c');
    expect(sub.seqs).toEqual([1]);
    await c.hub.audit();
    await waitFor(() => sub.seqs.length >= 3, { timeoutMs: 5000 });
    expect(await subscriberNodes(a, key)).toContain('c');
    await publish(a, key, 4);
    await waitFor(() => sub.seqs.length >= 4, { timeoutMs: 5000 });
    expect(sub.seqs).toEqual([1, 2, 3, 4]);
    expect(sub.gaps).toBe(0);
    expect(c.repairs).toEqual(['missing']);
  });

  it('the audit leaves a subscription the master has alone', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const sub = await attached(c, key);
    const asked: string[][] = [];
    const real = a.registry.handle.bind(a.registry);
    a.registry.handle = (from, req) => {
      if (req.type === 'sub') asked.push([from, req.channel]);
      return real(from, req);
    };
    await c.hub.audit();
    await c.hub.audit();
    expect(asked).toEqual([]);
    expect(c.repairs).toEqual([]);
    // The digests matched: no list crossed.
    expect(auditSubscriptions(a.registry, 'c', subDigest([key]))).toEqual({ kind: 'subAudit', match: true, channels: [] });
    expect(auditSubscriptions(a.registry, 'c', subDigest([key, 'app:other']))).toEqual({ kind: 'subAudit', match: false, channels: [key] });
    await publish(a, key, 1);
    await waitFor(() => sub.seqs.length === 1, { timeoutMs: 5000 });
    expect(sub.seqs).toEqual([1]);
  });

  it("the master's answer, kept between audits (audit-digests.ts), follows an unsubscribe, a subscribe, a master stopping and its holding going", async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const ring = new Ring(['a', 'b', 'c']);
    const [k1, k2] = Array.from({ length: 50 }, (_, i) => `app:c${i}`).filter((k) => ring.owner(k) === 'a') as [string, string];
    await attached(c, k1);
    await attached(c, k2, 's2');
    // History kept, so that neither channel goes (disposed) when no node subscribes.
    await publish(a, k1, 1);
    await publish(a, k2, 1);
    // The digest kept matches again within a remake's wait (REMAKE_MS); a change it was not told of would take MAX_AGE_MS.
    const matches = (keys: string[]) =>
      waitFor(() => (auditSubscriptions(a.registry, 'c', subDigest(keys)) as { match?: boolean }).match === true, {
        what: `the answer for ${keys.join(', ') || 'none'}`,
        timeoutMs: REMAKE_MS * 4,
      });
    await matches([k1, k2]);
    a.registry.unsubscribe('c', k2);
    await matches([k1]);
    await c.rpc.request('a', { type: 'sub', channel: k2 }, 5000);
    await matches([k1, k2]);
    // A master that stopped (stepping down, say) is no longer one the node is subscribed at.
    await a.registry.masterOf(k2)!.stop(AblyError.of('channelFailed', 'test'));
    await matches([k1]);
    // Its holding going (here with every other: the node lost quorum) takes the rest.
    await a.registry.dropAll(AblyError.of('channelFailed', 'test'));
    await matches([]);
  });

  it('the audit unsubscribes this node from a channel the master has it on but no client here wants', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const ring = new Ring(['a', 'b', 'c']);
    const [kept, leaked] = Array.from({ length: 50 }, (_, i) => `app:c${i}`).filter((k) => ring.owner(k) === 'a') as [string, string];
    const sub = await attached(c, kept);
    // c's node subscribes to `leaked` directly, as a client that went away without its unsub reaching a would have.
    await c.rpc.request('a', { type: 'sub', channel: leaked }, 5000);
    expect(await subscriberNodes(a, leaked)).toContain('c');
    await c.hub.audit();
    await waitFor(async () => !(await subscriberNodes(a, leaked)).includes('c'), { timeoutMs: 5000 });
    expect(c.repairs).toEqual(['leaked']);
    expect(await subscriberNodes(a, kept)).toContain('c');
    await publish(a, kept, 1);
    await waitFor(() => sub.seqs.length === 1, { timeoutMs: 5000 });
  });

  // A review (thirty-fourth session) found the path: a subscribe sent twice (router.ts), the
  // second handled after the client's unsub. Audits only asked masters some client pointed at.
  it('a subscribe the master handles after the unsub that followed it is undone by the next audit, with no client here pointing at that master', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const sub = await attached(c, key);
    const client = c.hub.client(key, 'c');
    if (client.detach(sub)) c.hub.release(key, client);
    await waitFor(async () => !(await subscriberNodes(a, key)).includes('c'), { timeoutMs: 5000 });
    // The late second send.
    await c.rpc.request('a', { type: 'sub', channel: key }, 5000);
    expect(await subscriberNodes(a, key)).toContain('c');
    await c.hub.audit();
    await waitFor(async () => !(await subscriberNodes(a, key)).includes('c'), { timeoutMs: 5000 });
    expect(c.repairs).toEqual(['leaked']);
  });

  it('broadcasts of a channel no client here wants have its master audited, which unsubscribes the node', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    // Subscribed at a with no client ever made here (as a subscribe older than any this hub remembers).
    await c.rpc.request('a', { type: 'sub', channel: key }, 5000);
    await c.hub.audit();
    expect(await subscriberNodes(a, key)).toContain('c');
    expect(c.repairs).toEqual([]);
    await publish(a, key, 1);
    // Audited as the housekeeping does, each time, until the broadcast has come and the audit it starts has undone it.
    await waitFor(
      async () => {
        await c.hub.audit();
        return !(await subscriberNodes(a, key)).includes('c');
      },
      { timeoutMs: 5000 },
    );
    expect(c.repairs).toEqual(['leaked']);
  });

  it("a released client's late unsubscribe does not cancel a newer client's subscription at the same master", async () => {
    // c's first subscribe is held back until the test lets it go.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let held = false;
    const gated = (router: ChannelRouter): ChannelRouter =>
      Object.assign(Object.create(router) as ChannelRouter, {
        call: async (...args: Parameters<ChannelRouter['call']>) => {
          if (args[1].type === 'sub' && !held) {
            held = true;
            await gate;
          }
          return router.call(...args);
        },
      });
    nodes = makeRegion(['a', 'b', 'c'], { router: (id, r) => (id === 'c' ? gated(r) : r) }).nodes;
    await startAll(nodes);
    const [a, , c] = nodes as [TestNode, TestNode, TestNode];
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const unsubs: string[] = [];
    const send = c.transport.send.bind(c.transport);
    c.transport.send = (to, m) => {
      if (m.type === 'unsub') unsubs.push(to);
      send(to, m);
    };
    const first = subscriber('s1');
    const old = c.hub.client(key, 'c');
    const oldAttach = old.attach(first, null, null).catch(() => undefined);
    // Its connection goes away while the subscribe is in flight: the client is released.
    if (old.detach(first)) c.hub.release(key, old);
    const second = subscriber('s2');
    const client = c.hub.client(key, 'c');
    expect(client).not.toBe(old);
    await client.attach(second, null, null);
    client.activate(second);
    open();
    await oldAttach;
    expect(unsubs).toEqual([]);
    await publish(a, key, 1);
    await waitFor(() => second.seqs.length === 1, { timeoutMs: 5000 });
    expect(second.seqs).toEqual([1]);
    expect(first.seqs).toEqual([]);
  });
});

// A node at its memory budget makes no channel for an attach, as it makes none for a
// publish (fifty-seventh session: before, 200 attaches a connection, on as many
// connections as the node took, each made a channel client here and a master there).
describe('at the memory budget', () => {
  afterEach(() => memoryBudget.configure(Infinity)); // unset: never full

  it('a hub makes no client for a channel new to it and a master no channel for a subscribe (42910); those they hold go on', async () => {
    const [a, , c] = (await region(['a', 'b', 'c'])) as [TestNode, TestNode, TestNode];
    const [held, fresh, later] = channelsOwnedBy(['a', 'b', 'c'], 'a') as [string, string, string];
    const sub = await attached(c, held);
    // Made before the budget was reached: its subscribe, not the client, goes to a.
    const early = c.hub.client(fresh, 'c');
    memoryBudget.configure(1);
    expect(() => c.hub.client(later, 'c')).toThrow(expect.objectContaining({ code: 42910 }));
    expect(c.hub.get(later)).toBeUndefined();
    await expect(early.attach(subscriber('s2'), null, null)).rejects.toMatchObject({ code: 42910 });
    expect(a.registry.masterOf(fresh)).toBeNull();
    expect(a.registry.holding(fresh)).toBeFalsy();
    // A channel held: a second subscriber attaches (no new client), and messages flow.
    expect(c.hub.client(held, 'c')).toBe(c.hub.get(held));
    expect(await c.rpc.request('a', { type: 'sub', channel: held }, 5000)).toMatchObject({ kind: 'subscribed' });
    memoryBudget.configure(Infinity);
    await publish(a, held, 1);
    await waitFor(() => sub.seqs.length === 1, { timeoutMs: 5000 });
  });
});
