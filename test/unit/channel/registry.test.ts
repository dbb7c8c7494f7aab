/**
 * The channel registry across nodes on the in-memory transport, with ring views set by
 * hand: handoff and failover keep one order per channel and lose nothing acknowledged,
 * even while nodes disagree about the ring.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelMaster } from '../../../src/channel/master.js';
import { AblyError } from '../../../src/errors.js';
import type { Acquired } from '../../../src/channel/registry.js';
import { ChannelState } from '../../../src/channel/state.js';
import type { Holding } from '../../../src/channel/registry.js';
import type { NodeMessage } from '../../../src/transport/messages.js';
import type { Message } from '../../../src/protocol/message.js';
import { Ring } from '../../../src/cluster/ring.js';
import { PresenceAction } from '../../../src/protocol/actions.js';
import { channelOwnedBy, channelsOwnedBy, channelWhere, liveMaster, makeRegion, msg, setView, SETTINGS, startAll, startTrio, stopAll, type TestNode } from '../../helpers/registry-region.js';
import { AFTER_LOSS_ASK_ALL_MS, CLAIM_FANOUT } from '../../../src/channel/claim.js';
import { waitFor } from '../../helpers/wait.js';

let nodes: TestNode[] = [];

afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});


/** The master an acquire gave, or a failure naming who should have mastered the channel. */
function mastered(got: Acquired, who: string): ChannelMaster {
  if (!('ok' in got)) throw new Error(`${who} should master the channel`);
  return got.ok;
}

/** The state a node masters for a channel (a live master's), or null. */
function masterState(n: TestNode, key: string): ChannelState | null {
  return liveMaster(n, key)?.state ?? null;
}

function publishedSeqs(state: ChannelState): number[] {
  const entries = state.range(state.baseSerial) ?? [];
  return entries.map((e) => (e.kind === 'message' ? Number(e.message.data) : -1));
}

/** A channel client on `n` with one live subscriber, following the channel's stream. */
async function follow(n: TestNode, key: string) {
  const client = n.hub.client(key, key.slice(key.indexOf(':') + 1));
  const sub = { connectionId: 's', format: 'json', channelName: 'c', echo: true, publishes: false, wants: () => true, send: () => undefined, discontinuity: () => undefined };
  await client.attach(sub as never, null, null);
  client.activate(sub as never);
  return client;
}

/** Calls `probed(to)` for each question `n` asks another node about what it delivered last (gatherRecent). */
function onRecentProbe(n: TestNode, probed: (to: string, channel: string) => void): void {
  const request = n.rpc.request.bind(n.rpc);
  n.rpc.request = ((to: string, body: { type: string; channel?: string; recent?: boolean }, timeoutMs: number) => {
    if (body.type === 'claim' && body.recent) probed(to, body.channel ?? '');
    return request(to, body as never, timeoutMs);
  }) as never;
}

/**
 * A channel a masters on a trio, with c's channel client following it, that loses both
 * copies after `publishes` (each one publish, through b's publisher) reached c: a dies
 * and the replica's copy goes. In the view left (b, c), c owns it. `first`: the serials
 * the publishes were given, in order.
 */
async function bothCopiesLost(publishes: Message[][]) {
  const [a, b, c] = await startTrio(nodes);
  const key = channelWhere((k) => new Ring(['a', 'b', 'c']).owner(k) === 'a' && new Ring(['b', 'c']).owner(k) === 'c');
  const client = await follow(c, key);
  const first: string[] = [];
  for (const messages of publishes) first.push(...(await b.publisher.send('src', key, { type: 'publish', messages })));
  await waitFor(() => client.position().serial === first.length);
  const epoch = liveMaster(a, key)!.epoch;
  for (const n of [b, c]) (n.registry as unknown as { holdings: Map<string, Holding> }).holdings.delete(key);
  await a.transport.stop();
  for (const n of [b, c]) {
    setView(n, ['b', 'c']);
    n.rpc.failPeer('a', 'down');
  }
  return { b, c, key, first, epoch };
}

/**
 * A channel a owns that failed over while a was cut off: x (its master without a) took it
 * from its copy at y, 5 publishes before and 5 after; then a lost quorum and dropped its
 * state. In a view of a and y alone, a owns the channel too. Views: x and y see b and c.
 */
async function failedOver(ns: TestNode[]) {
  const a = ns[0]!;
  const key = channelWhere((k) => new Ring(['a', 'b', 'c']).owner(k) === 'a' && new Ring(['a', new Ring(['b', 'c']).replica(k)!]).owner(k) === 'a');
  const [xo, yo] = new Ring(['b', 'c']).preference(key, 2);
  const x = ns.find((n) => n.id === xo)!;
  const y = ns.find((n) => n.id === yo)!;
  const acked: number[] = [];
  for (let s = 0; s < 5; s++) await a.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s));
  for (const n of [x, y]) {
    setView(n, ['b', 'c']);
    n.rpc.failPeer('a', 'down');
  }
  for (let s = 5; s < 10; s++) await y.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s));
  expect(masterState(x, key)).not.toBeNull();
  await a.registry.dropAll(AblyError.of('channelFailed', 'node lost quorum'));
  return { a, x, y, key, acked };
}

/**
 * A channel a masters, taken to serial 8 while b keeps a copy from serial 5 (as a node
 * keeps one for 30 s after a handoff); then a dies with every newer copy. In the view
 * left (b, c), c owns the channel. `first`: set up on b before the publishes; it returns
 * what to wait for once they are made.
 */
async function staleCopyLeft(ns: TestNode[], first?: (b: TestNode, key: string) => Promise<() => boolean>) {
  const [a] = ns;
  const key = channelWhere((k) => new Ring(['a', 'b', 'c']).owner(k) === 'a' && new Ring(['b', 'c']).owner(k) === 'c');
  const b = ns.find((n) => n.id === 'b')!;
  const c = ns.find((n) => n.id === 'c')!;
  const ready = await first?.(b, key);
  for (let s = 0; s < 5; s++) await c.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
  const epoch = liveMaster(a!, key)!.epoch;
  const old = liveMaster(a!, key)!.state.snapshot();
  for (let s = 5; s < 8; s++) await c.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
  if (ready) await waitFor(ready);
  (b.registry as unknown as { holdings: Map<string, Holding> }).holdings.set(key, { role: 'stale', state: ChannelState.restore(old, SETTINGS), until: Date.now() + 30_000 });
  (c.registry as unknown as { holdings: Map<string, Holding> }).holdings.delete(key);
  await a!.transport.stop();
  for (const n of [b, c]) {
    setView(n, ['b', 'c']);
    n.rpc.failPeer('a', 'down');
  }
  return { b, c, key, epoch, old };
}

describe('counts for statistics', () => {
  it('counts the channels mastered per app, not metachannels (the service makes them, and [meta]stats:minute would keep itself going)', async () => {
    const [a, b, c] = await startTrio(nodes);
    for (const key of ['app:one', 'app:two', 'app:[meta]stats:minute', 'app:[meta]channel.lifecycle']) {
      await a.publisher.send('src', key, { type: 'publish', messages: [msg(1)] });
    }
    const mastered = (k: string) => [a, b, c].filter((n) => liveMaster(n, k)).length;
    expect(mastered('app:[meta]stats:minute')).toBe(1);
    expect([a, b, c].reduce((n, x) => n + (x.registry.masteredByApp().get('app') ?? 0), 0)).toBe(2);
    expect([a, b, c].flatMap((n) => n.created).sort()).toEqual(['app:one', 'app:two']);
  });
});

describe('ChannelRegistry', () => {
  it('moves a channel to a joining node by handoff without losing, duplicating or reordering a publish', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'c');
    // Start with c outside the ring: the channel lives elsewhere first.
    for (const n of ns) setView(n, ['a', 'b']);
    const results: Promise<string[]>[] = [];
    let seq = 0;
    const pump = setInterval(() => {
      for (let i = 0; i < 5; i++) results.push(a.publisher.send('src', key, { type: 'publish', messages: [msg(seq++)] }));
    }, 2);
    await waitFor(() => seq > 100);
    // c joins: views change one node at a time (b and a late).
    setView(c, ['a', 'b', 'c']);
    await new Promise((r) => setTimeout(r, 20));
    setView(b, ['a', 'b', 'c']);
    await new Promise((r) => setTimeout(r, 20));
    setView(a, ['a', 'b', 'c']);
    await waitFor(() => seq > 400);
    clearInterval(pump);
    const serials = await Promise.all(results);
    expect(serials.every((s) => s.length === 1)).toBe(true);
    await waitFor(() => masterState(c, key));
    const state = masterState(c, key)!;
    expect(publishedSeqs(state)).toEqual([...Array(seq).keys()]);
    // Serials are contiguous and each publish got the serial it is stored under.
    const stored = state.range(state.baseSerial)!;
    expect(stored.map((e) => (e.kind === 'message' ? e.message.serial : null))).toEqual(serials.map((s) => s[0]));
    expect(state.term).toBeGreaterThan(1);
  });

  it("has the presence members of a node that died before it took the channel leave in time (no word of that death could reach it as master)", async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const ring = new Ring(['a', 'b', 'c']);
    const key = channelWhere((k) => ring.owner(k) === 'b' && ring.replica(k) === 'c');
    // A member whose connection is on a; b masters the channel, c holds its copy.
    const enter = { id: 'conn-a:0:0', action: PresenceAction.ENTER, clientId: 'm', connectionId: 'conn-a', timestamp: Date.now() };
    await a.publisher.send('conn-a', key, { type: 'presence', presence: [enter], since: 0 });
    await waitFor(() => {
      const h = c.registry.holding(key);
      return h?.role === 'replica' && h.state.presence.size === 1;
    });
    // a and b die together (two of three: beyond the one-node guarantee); c promotes its copy.
    await Promise.all([a.transport.stop(), b.transport.stop()]);
    for (const dead of ['a', 'b']) c.rpc.failPeer(dead, 'down');
    setView(c, ['c']);
    const master = await waitFor(() => liveMaster(c, key));
    const before = Date.now();
    expect(master.state.presence.snapshot()).toEqual([expect.objectContaining({ host: 'a', leaveAt: expect.any(Number) })]);
    expect(master.state.presence.snapshot()[0]!.leaveAt).toBeGreaterThanOrEqual(before);
  });

  it('promotes the replica when the master dies, with every acknowledged publish and in order', async () => {
    const ns = await startTrio(nodes);
    const [a, , c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'b');
    const replica = new Ring(['a', 'b', 'c']).replica(key)!;
    const publisherNode = replica === 'a' ? c : a;
    const acked: number[] = [];
    let seq = 0;
    const pump = setInterval(() => {
      const s = seq++;
      void publisherNode.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s), () => undefined);
    }, 1);
    await waitFor(() => acked.length > 100);
    // b dies: its transport goes silent; the others drop it from their rings.
    const b = ns[1]!;
    await b.transport.stop();
    for (const n of ns) if (n !== b) setView(n, ns.filter((x) => x !== b).map((x) => x.id));
    for (const n of ns) if (n !== b) n.rpc.failPeer('b', 'down');
    await waitFor(() => acked.length > 300);
    clearInterval(pump);
    await new Promise((r) => setTimeout(r, 100));
    const newMaster = ns.find((n) => n.id === replica)!;
    const state = masterState(newMaster, key)!;
    const seqs = publishedSeqs(state);
    // One order, no duplicates, and everything acknowledged is there.
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    for (const s of acked) expect(seqs).toContain(s);
  });

  it('stalls rather than forks while the old master does not yet see the new owner', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'c');
    for (const n of ns) setView(n, ['a', 'b']);
    const owner = new Ring(['a', 'b']).owner(key)!;
    await a.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    // Only c believes it owns the channel; the old owner disagrees.
    setView(c, ['a', 'b', 'c']);
    const fromC = c.publisher.send('other', key, { type: 'publish', messages: [msg(1)] });
    await new Promise((r) => setTimeout(r, 300));
    const old = ns.find((n) => n.id === owner)!;
    expect(masterState(old, key)).not.toBeNull();
    expect(masterState(c, key)).toBeNull();
    // Views converge: the channel moves with its state, and c's publish lands after it.
    for (const n of [a, b]) setView(n, ['a', 'b', 'c']);
    await fromC;
    await waitFor(() => masterState(c, key));
    expect(publishedSeqs(masterState(c, key)!)).toEqual([0, 1]);
  });

  it('stalls rather than forks while a node back in a new life sees only the replica of the master that took over', async () => {
    const { a, x, y, key, acked } = await failedOver(await startTrio(nodes));
    setView(a, ['a', y.id]);
    const claim = a.registry.acquire(key);
    const more = y.publisher.send('src', key, { type: 'publish', messages: [msg(10)] }).then(() => acked.push(10));
    await new Promise((r) => setTimeout(r, 300));
    // y does not hand a its copy: x still serves the channel, and a has not taken it.
    expect(masterState(a, key)).toBeNull();
    expect(masterState(x, key)).not.toBeNull();
    await more;
    // Views converge: the channel comes back to a with everything x acknowledged.
    for (const n of [a, x, y]) setView(n, ['a', 'b', 'c']);
    mastered(await claim, 'a');
    expect(publishedSeqs(masterState(a, key)!)).toEqual([...acked].sort((p, q) => p - q));
  });

  it('asks again when its view of the ring grows during a claim: the node that came up may be the master', async () => {
    const { a, x, y, key, acked } = await failedOver(await startTrio(nodes));
    // y has heard of a's new life, x not yet; a starts its claim seeing only y, then x comes up in its view.
    setView(y, ['a', 'b', 'c']);
    setView(a, ['a', y.id]);
    const claim = a.registry.acquire(key);
    setView(a, ['a', 'b', 'c']);
    await new Promise((r) => setTimeout(r, 300));
    expect(masterState(a, key)).toBeNull();
    expect(masterState(x, key)).not.toBeNull();
    setView(x, ['a', 'b', 'c']);
    mastered(await claim, 'a');
    expect(publishedSeqs(masterState(a, key)!)).toEqual(acked);
  });

  it('gives up at its deadline (50003) even while its view of the ring changes at every round of questions', async () => {
    const [a] = await startTrio(nodes);
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    // Each claim question a sends moves its clock on a second and gives it a new ring (the
    // same members: a change all the same, which makes a claim ask again at once). After
    // 40 questions the ring holds still, and a claim past its deadline would then succeed.
    // Only the questions move the clock: real time spent meanwhile (a loaded machine) would
    // bring the deadline a round early.
    let skew = 0;
    const base = Date.now();
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => base + skew);
    const send = a.transport.send.bind(a.transport);
    let asked = 0;
    a.transport.send = (to: string, m: NodeMessage) => {
      if (m.type === 'claim' && asked++ < 40) {
        skew += 1000;
        a.ring = new Ring(['a', 'b', 'c']);
      }
      send(to, m);
    };
    try {
      const got = await a.registry.acquire(key);
      expect('error' in got ? got.error?.code : 'claimed').toBe(50003);
      // 7 s at 2 s a round (b and c asked): the fourth round is the last.
      expect(asked).toBe(8);
    } finally {
      clock.mockRestore();
    }
  });

  it('does not claim from a view that lacks a node its peers see: the node not heard yet may hold the only copy', async () => {
    const ns = await startTrio(nodes);
    const [a] = ns;
    // A channel a masters, whose replica (r) a's partial view (a and the other, o) leaves out.
    const full = new Ring(['a', 'b', 'c']);
    const key = channelWhere((k) => full.owner(k) === 'a' && new Ring(['a', ['b', 'c'].find((n) => n !== full.replica(k))!]).owner(k) === 'a');
    const r = ns.find((n) => n.id === full.replica(key))!;
    const o = ns.find((n) => n !== a && n !== r)!;
    const acked: number[] = [];
    for (let s = 0; s < 5; s++) await o.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s));
    // Cut off just short of the peers' down timeout: they never fail a over; a loses
    // quorum and drops its state, then hears o before r.
    await a.registry.dropAll(AblyError.of('channelFailed', 'node lost quorum'));
    setView(a, ['a', o.id]);
    const claim = a.registry.acquire(key);
    await new Promise((res) => setTimeout(res, 300));
    // o holds nothing of the channel and sees a as its owner: asked alone, it would have let a start it afresh.
    expect(masterState(a, key)).toBeNull();
    setView(a, ['a', 'b', 'c']);
    mastered(await claim, 'a');
    expect(publishedSeqs(masterState(a, key)!)).toEqual(acked);
  });

  it('in a region of five, does not claim from a majority that leaves out the master that took over', async () => {
    const { nodes: ns } = makeRegion(['a', 'b', 'c', 'd', 'e']);
    nodes.push(...ns);
    await startAll(ns);
    const a = ns[0]!;
    const rest = ['b', 'c', 'd', 'e'];
    // A channel a owns; without a, x masters it and y holds its copy; a, back, hears only the other two (p) first, and owns it in that view too.
    const others = (k: string) => {
      const [x, y] = new Ring(rest).preference(k, 2);
      return rest.filter((n) => n !== x && n !== y);
    };
    const key = channelWhere((k) => new Ring(['a', ...rest]).owner(k) === 'a' && new Ring(['a', ...others(k)]).owner(k) === 'a');
    const [xo] = new Ring(rest).preference(key, 2);
    const byId = (id: string) => ns.find((n) => n.id === id)!;
    const p = others(key).map(byId);
    const acked: number[] = [];
    for (let s = 0; s < 5; s++) await a.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s));
    for (const n of rest.map(byId)) {
      setView(n, rest);
      n.rpc.failPeer('a', 'down');
    }
    for (let s = 5; s < 10; s++) await p[0]!.publisher.send('src', key, { type: 'publish', messages: [msg(s)] }).then(() => acked.push(s));
    expect(masterState(byId(xo!), key)).not.toBeNull();
    await a.registry.dropAll(AblyError.of('channelFailed', 'node lost quorum'));
    // a has a majority (3 of 5) and the two it hears see it back as the owner; x and y have not heard it yet.
    setView(a, ['a', ...p.map((n) => n.id)]);
    for (const n of p) setView(n, ['a', ...rest]);
    const claim = a.registry.acquire(key);
    await new Promise((r) => setTimeout(r, 300));
    expect(masterState(a, key)).toBeNull();
    expect(masterState(byId(xo!), key)).not.toBeNull();
    for (const n of ns) setView(n, ['a', ...rest]);
    mastered(await claim, 'a');
    expect(publishedSeqs(masterState(a, key)!)).toEqual(acked);
  });

  it('keeps a channel its leaving master created but never published on: the claim asks the leaving node', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    // a's copy to the replica and its handoff are both slow to arrive: they are held.
    const held: [string, NodeMessage][] = [];
    const send = a.transport.send.bind(a.transport);
    a.transport.send = (to, m) => {
      if (m.type === 'sync') held.push([to, m]);
      else send(to, m);
    };
    const { epoch } = mastered(await a.registry.acquire(key), 'a');
    // Nothing published: the replica holds no copy, only the master knows the epoch.
    for (const n of [b, c]) expect(n.registry.holding(key)).toBeUndefined();
    // a leaves; the new owner claims before the handoff arrives.
    setView(a, ['b', 'c']);
    for (const n of [b, c]) setView(n, ['b', 'c'], ['a']);
    const owner = ns.find((n) => n.id === new Ring(['b', 'c']).owner(key))!;
    expect(mastered(await owner.registry.acquire(key), 'the new owner').epoch).toBe(epoch);
    // The late copy and handoff change nothing. Links are FIFO: once a's next request to
    // the owner is answered, the handoff has been handled.
    await waitFor(() => held.some(([, m]) => m.type === 'sync' && m.role === 'handoff'), { what: 'the handoff' });
    for (const [to, m] of held) send(to, m);
    await a.rpc.request(owner.id, { type: 'claim', channel: key, probe: true }, 1000);
    expect(masterState(owner, key)?.epoch).toBe(epoch);
    expect(masterState(a, key)).toBeNull();
  });

  it("a leaving master whose handoff went unanswered (the new owner paused) pushes it again to the next owner before it goes, with every publish", async () => {
    const region = makeRegion(['a', 'b', 'c', 'd']);
    nodes = region.nodes;
    await startAll(nodes);
    const [a] = nodes as [TestNode];
    const key = channelOwnedBy(['a', 'b', 'c', 'd'], 'a');
    for (let i = 0; i < 3; i++) await a.publisher.send('src', key, { type: 'publish', messages: [msg(i)] });
    const without = (...gone: string[]) => ['a', 'b', 'c', 'd'].filter((n) => !gone.includes(n));
    // The owner after a (its replica, the one other copy) is paused: nothing reaches it or comes from it.
    const paused = new Ring(without('a')).owner(key)!;
    expect(paused).toBe(new Ring(without()).replica(key));
    for (const n of nodes) if (n.id !== paused) region.net.cut(paused, n.id);
    const next = nodes.find((n) => n.id === new Ring(without('a', paused)).owner(key))!;
    expect(next.registry.holding(key)).toBeUndefined();
    // A node subscribed at a: the master a's copy makes knows it.
    const subscriber = nodes.find((n) => n !== a && n.id !== paused)!;
    await subscriber.rpc.request('a', { type: 'sub', channel: key }, 5000);
    setView(a, without('a'));
    for (const n of nodes) if (n !== a && n.id !== paused) setView(n, without('a'), ['a']);
    const drained = a.registry.drain(100, 8000);
    await waitFor(() => a.registry.holding(key)?.role === 'stale', { what: "a's master stopped and pushing" });
    // The paused node is declared down (after the push timed out, or while it waits).
    for (const n of nodes) if (n.id !== paused) setView(n, without('a', paused), n === a ? [] : ['a']);
    await drained;
    expect(publishedSeqs(masterState(next, key)!)).toEqual([0, 1, 2]);
    expect([...liveMaster(next, key)!.subscribers]).toEqual([subscriber.id]);
  });

  it('answers a probe (does anyone hold the channel?) with no history and no dedup window, from master and replica alike', async () => {
    const ns = await startTrio(nodes);
    const [a] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const replica = ns.find((n) => n.id === new Ring(['a', 'b', 'c']).replica(key))!;
    const asker = ns.find((n) => n !== a && n !== replica)!;
    await Promise.all(Array.from({ length: 5 }, (_, i) => a.publisher.send('src', key, { type: 'publish', messages: [msg(i)] })));
    await waitFor(() => (replica.registry.holding(key) ? true : false), { what: 'the replica copy' });
    for (const holder of [a, replica]) {
      const probe = await asker.rpc.request(holder.id, { type: 'claim', channel: key, probe: true }, 1000);
      expect(probe.kind).toBe('snapshot');
      const snap = (probe as Extract<typeof probe, { kind: 'snapshot' }>).snapshot!;
      expect(snap.key).toBe(key);
      expect(snap.entries.length).toBe(0);
      expect(snap.dedup.length).toBe(0);
    }
    // A real claim is for the owner only: another node is sent to it.
    expect(await asker.rpc.request(replica.id, { type: 'claim', channel: key }, 1000)).toEqual({ kind: 'redirect', owner: 'a' });
    // The owner's claim of the replica's copy carries both.
    const claim = await a.rpc.request(replica.id, { type: 'claim', channel: key }, 1000);
    const full = (claim as Extract<typeof claim, { kind: 'snapshot' }>).snapshot!;
    expect(full.entries).toHaveLength(5);
    expect(full.dedup).toHaveLength(5);
    expect(masterState(a, key)).not.toBeNull();
  });

  it('keeps the epoch of a channel with no publish yet when its master dies: the replica learns it at creation', async () => {
    const ns = await startTrio(nodes);
    const [, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'b');
    const replica = ns.find((n) => n.id === new Ring(['a', 'b', 'c']).replica(key))!;
    const created = mastered(await b.registry.acquire(key), 'b');
    await waitFor(() => replica.registry.holding(key) !== undefined, { what: 'the replica told of the new channel' });
    // An empty copy goes at the replica's next housekeeping; its tombstone keeps the epoch.
    replica.registry.reconcile();
    expect(replica.registry.holding(key)).toBeUndefined();
    await b.transport.stop();
    const rest = ns.filter((n) => n !== b);
    for (const n of rest) {
      setView(n, rest.map((x) => x.id));
      n.rpc.failPeer('b', 'down');
    }
    expect(mastered(await replica.registry.acquire(key), 'the replica').epoch).toBe(created.epoch);
  });

  it('copies a channel handed to a new master to its replica at once, before any publish', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'c');
    for (const n of ns) setView(n, ['a', 'b']);
    for (let i = 0; i < 5; i++) await a.publisher.send('src', key, { type: 'publish', messages: [msg(i)] });
    // c joins and gets the channel by handoff; nobody publishes after that.
    for (const n of [c, b, a]) setView(n, ['a', 'b', 'c']);
    await waitFor(() => masterState(c, key), { what: 'c mastering the channel' });
    const replica = ns.find((n) => n.id === new Ring(['a', 'b', 'c']).replica(key))!;
    await waitFor(() => {
      const h = replica.registry.holding(key);
      return h?.role === 'replica' && h.from === 'c' && h.state.serial === 5;
    }, { what: "the new master's replica holding all five" });
  });

  it('does not wait long for a leaving peer that no longer answers', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    await a.transport.stop(); // said goodbye, and went before answering anything
    for (const n of [b, c]) setView(n, ['b', 'c'], ['a']);
    const key = channelOwnedBy(['b', 'c'], 'b');
    // Needed answers wait up to 3 s; a leaving peer's, optional, far less (0.5 s).
    const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 2900).unref());
    const claimed = await Promise.race([b.registry.acquire(key), late]);
    expect(claimed !== 'late' && 'ok' in claimed).toBe(true);
  });

  it("tells a client from another region it resumed only once the replica holds what the stream must reach back to for it", async () => {
    const { net, nodes: ns } = makeRegion(['a', 'b', 'c']);
    nodes.push(...ns);
    await startAll(ns);
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const replicaId = new Ring(['a', 'b', 'c']).replica(key)!;
    const asker = ns.find((n) => n.id !== 'a' && n.id !== replicaId)!;
    const replica = ns.find((n) => n.id === replicaId)!;
    await ns[0]!.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    await waitFor(() => replica.registry.holding(key)?.role === 'replica', { what: 'the replica holding the channel' });
    net.cut('a', replicaId);
    const master = liveMaster(ns[0]!, key)!;
    // A client from us that had seen this region's message too.
    const origins = [
      { region: 'us', epoch: 'usep', seq: 6 },
      { region: master.state.settings.region, epoch: master.state.epoch, seq: 1 },
    ];
    /** Whether the replica held the reach-back when each answer came (it must have). */
    const heldAtAnswer: boolean[] = [];
    const ask = () =>
      asker.rpc.request('a', { type: 'vectorRange', channel: key, origins, upto: 1 }, 10_000).then((r) => {
        const h = replica.registry.holding(key);
        heldAtAnswer.push(h?.role === 'replica' && h.state.origins.reachBackOf('us') !== undefined);
        return r;
      });
    // Each ask that must wait queues an empty batch behind the replication under way.
    let waits = 0;
    const enqueue = master.enqueue.bind(master);
    master.enqueue = (...args: Parameters<typeof enqueue>) => (args[0].length === 0 && waits++, enqueue(...args));
    const first = ask();
    await waitFor(() => waits === 1, { what: 'the first ask waiting for the replication' });
    // The same position again (another client, or the first one's ask repeated): it changes
    // nothing at the master, and still waits for the replication under way.
    const second = ask();
    await waitFor(() => waits === 2 || heldAtAnswer.length > 0, { what: 'the second ask waiting, or answered' });
    net.heal('a', replicaId);
    const replies = await Promise.all([first, second]);
    expect(replies.map((r) => r.kind)).toEqual(['vector', 'vector']);
    expect(heldAtAnswer).toEqual([true, true]);
    const h = replica.registry.holding(key);
    expect(h?.role === 'replica' && h.state.origins.reachBackOf('us')).toEqual(origins[0]);
  });

  it("takes where a node's subscribers had got in other regions' streams as what a new stream from there reaches back to", async () => {
    // A channel whose state was lost: its subscribers' serials (or their node's) say how far
    // they had got in us's stream. Its new stream from us must reach back to that, not only
    // 2 s before this region's interest began (state-lost.test.ts, a restart of 3 s).
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const old = liveMaster(a, key)!;
    const us = { region: 'us', epoch: 'usep', seq: 6 };
    const own = { region: SETTINGS.region, epoch: 'lost', seq: 3 };
    // b had seen this epoch further than the master holds (state lost): a new epoch, and its reach.
    const r = await b.rpc.request('a', { type: 'sub', channel: key, seen: { epoch: old.epoch, serial: 9 }, reach: [own, us] }, 5000);
    expect(r.kind).toBe('subscribed');
    const master = liveMaster(a, key)!;
    expect(master.epoch).not.toBe(old.epoch);
    expect(master.state.origins.reachBackOf('us')).toEqual(us);
    expect(master.state.origins.reachBackOf(SETTINGS.region)).toBeUndefined();
    // A client attaching on c later, with an earlier position: the lowest is kept.
    expect((await c.rpc.request('a', { type: 'reach', channel: key, origins: [{ ...us, seq: 4 }] }, 5000)).kind).toBe('ok');
    expect(master.state.origins.reachBackOf('us')).toEqual({ ...us, seq: 4 });
    // Once a stream from us has begun here, nothing more is reached back to.
    master.state.ingest({ region: 'us', epoch: 'usep', startSeq: 4, gapBefore: false, entries: [] }, Date.now());
    await c.rpc.request('a', { type: 'reach', channel: key, origins: [{ ...us, seq: 1 }] }, 5000);
    expect(master.state.origins.reachBackOf('us')).toBeUndefined();
    expect(master.state.origins.get('us')).toEqual({ ...us, seq: 4 });
  });

  it('refuses a publish naming a lost epoch at once, also one that must follow a publish it has not ordered', async () => {
    // A publisher's backlog after a channel restarted in a new epoch: every publish that may
    // have been ordered in the old one names it, and each follows the one ahead, which was
    // refused. Told to wait for that one, each went again after a retry pause: the backlog
    // failed one pause at a time (a chaos run's publisher took 0.8 s to hear of 28).
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const epoch = liveMaster(a, key)!.epoch;
    const refused = await b.rpc.request('a', { type: 'publish', channel: key, messages: [msg(2)], after: msg(1).id, epoch: 'lost' }, 1000);
    expect(refused).toMatchObject({ kind: 'error', error: { code: 90002 } });
    // In the master's own epoch (or naming none) the wait for the one ahead still holds.
    for (const named of [epoch, undefined]) {
      const wait = await b.rpc.request('a', { type: 'publish', channel: key, messages: [msg(2)], after: msg(1).id, epoch: named }, 1000);
      expect(wait).toMatchObject({ kind: 'retry' });
    }
    expect(liveMaster(a, key)!.position().serial).toBe(1);
  });

  it('restarts a channel in a new epoch when a subscribing node has seen its epoch further than the master holds', async () => {
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    for (let s = 0; s < 5; s++) await b.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
    const old = liveMaster(a, key)!;
    const { epoch, serial } = old.position();
    expect(serial).toBe(5);
    // Seen as far as the master holds, or in another epoch: the same master answers.
    for (const seen of [{ epoch, serial: 5 }, { epoch, serial: 2 }, { epoch: 'other', serial: 50 }]) {
      expect(await b.rpc.request('a', { type: 'sub', channel: key, seen }, 1000)).toMatchObject({ kind: 'subscribed', epoch, serial: 5 });
    }
    expect(liveMaster(a, key)).toBe(old);
    // Seen further: the copy this master was made from was not the newest.
    const reply = await b.rpc.request('a', { type: 'sub', channel: key, seen: { epoch, serial: 8 } }, 1000);
    expect(reply).toMatchObject({ kind: 'subscribed', serial: 0 });
    expect((reply as { epoch: string }).epoch).not.toBe(epoch);
    const fresh = liveMaster(a, key)!;
    expect(old.isStopped).toBe(true);
    // Its terms go on above the old epoch's (a stale copy of that must never win a claim), it
    // keeps the old master's subscribers, and publishes go on in the new epoch.
    expect(fresh.state.term).toBeGreaterThan(old.state.term);
    expect(fresh.subscribers.has('b')).toBe(true);
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(5)] });
    expect(fresh.position()).toMatchObject({ epoch: (reply as { epoch: string }).epoch, serial: 1 });
    // The replica has the new epoch too.
    const replica = ns.find((n) => n.id === new Ring(['a', 'b', 'c']).replica(key))!;
    await waitFor(() => {
      const h = replica.registry.holding(key);
      return h?.role === 'replica' && h.state.epoch === fresh.epoch && h.state.serial === 1;
    });
  });

  it('starts the terms of a new epoch at the time, so that no copy of an epoch made before it outranks it', async () => {
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    // A new channel: its claim found no copy. (Before, its terms began at 0, and a copy of an
    // earlier epoch that a node out of reach kept, through a few changes of master, ranked
    // above it: it won the next claim, and kept a handoff of the new epoch out.)
    const created = Date.now();
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const first = liveMaster(a, key)!;
    expect(first.state.term).toBeGreaterThanOrEqual(created);
    // A restart after lost state: above the lost epoch's terms, and the time.
    const restarted = Date.now();
    await b.rpc.request('a', { type: 'sub', channel: key, seen: { epoch: first.epoch, serial: 9 } }, 1000);
    const fresh = liveMaster(a, key)!;
    expect(fresh.epoch).not.toBe(first.epoch);
    expect(fresh.state.term).toBeGreaterThan(first.state.term);
    expect(fresh.state.term).toBeGreaterThanOrEqual(restarted);
  });

  it('restarts a channel in a new epoch when another region has seen its own stream further than the master holds', async () => {
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    for (let s = 0; s < 5; s++) await b.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
    const old = liveMaster(a, key)!;
    const epoch = old.epoch;
    // Asked from where another region is: as far as we are, or behind, the same master answers.
    for (const afterSeq of [5, 3]) {
      expect(await b.rpc.request('a', { type: 'replayLocal', channel: key, epoch, afterSeq }, 1000)).toMatchObject({ kind: 'local', epoch, startSeq: afterSeq, gap: false });
    }
    expect(liveMaster(a, key)).toBe(old);
    const reply = await b.rpc.request('a', { type: 'replayLocal', channel: key, epoch, afterSeq: 7 }, 1000);
    // A new epoch, which the other region takes as a gap in this region's stream (90003 there).
    expect(reply).toMatchObject({ kind: 'local', gap: true });
    expect((reply as { epoch: string }).epoch).not.toBe(epoch);
    expect(old.isStopped).toBe(true);
    expect(liveMaster(a, key)!.state.term).toBeGreaterThan(old.state.term);
  });

  it('restarts a channel claimed from a copy behind what the node subscribing meanwhile has seen, not only one found so later', async () => {
    const { b, key, epoch } = await staleCopyLeft(await startTrio(nodes));
    // b's channel client, at 8, subscribes: c claims (from b's copy at 5) while it waits.
    const reply = await b.rpc.request('c', { type: 'sub', channel: key, seen: { epoch, serial: 8 } }, 2000);
    expect(reply).toMatchObject({ kind: 'subscribed', serial: 0 });
    expect((reply as { epoch: string }).epoch).not.toBe(epoch);
  });

  it('starts a channel afresh at its claim when a node asked has a channel client further in the epoch than every copy', async () => {
    // A subscriber on b: b's channel client follows the stream, to 8.
    const { c, key, epoch, old } = await staleCopyLeft(await startTrio(nodes), async (b, key) => {
      const client = await follow(b, key);
      return () => client.position().serial === 8;
    });
    // A publish makes c claim: b answers with its copy at 5, and that its client is at 8.
    await c.publisher.send('src', key, { type: 'publish', messages: [msg(8)] });
    const fresh = liveMaster(c, key)!;
    expect(fresh.epoch).not.toBe(epoch);
    expect(fresh.state.term).toBeGreaterThan(old.term);
    // The publish was taken in the new epoch, not by a master that would have lost it.
    expect(publishedSeqs(fresh.state)).toEqual([8]);
  });

  it('starts a channel afresh at its claim when the newest copy cannot be read, rather than fail every claim', async () => {
    const { b, c, key, epoch, old } = await staleCopyLeft(await startTrio(nodes));
    // b's copy at 5 is the newest left, of a term far above the clock's (so that the new
    // epoch's terms can be seen to start above it); its bytes do not read back (as a
    // defect would leave them).
    const term = old.term + 1e9;
    (b.registry as unknown as { holdings: Map<string, Holding> }).holdings.set(key, { role: 'stale', state: ChannelState.restore({ ...old, term }, SETTINGS), until: Date.now() + 30_000 });
    const restore = ChannelState.restore.bind(ChannelState);
    let refused = 0;
    const spy = vi.spyOn(ChannelState, 'restore').mockImplementation((snap, settings) => {
      if (snap.epoch === epoch && snap.base + snap.entries.length === 5 && ++refused) throw new Error('log entry list: malformed');
      return restore(snap, settings);
    });
    try {
      await c.publisher.send('src', key, { type: 'publish', messages: [msg(8)] });
    } finally {
      spy.mockRestore();
    }
    expect(refused).toBe(1);
    const fresh = liveMaster(c, key)!;
    expect(fresh.epoch).not.toBe(epoch);
    expect(fresh.state.term).toBeGreaterThan(term);
    expect(publishedSeqs(fresh.state)).toEqual([8]);
  });

  it("has a channel it claims with no copy reach back to where an answering node's channel client had got in other regions' streams", async () => {
    // Both copies lost: b's client still follows an epoch nobody holds, having had us's
    // stream up to 6. The new stream from us must reach back to that, told before the
    // interest is (a subscribe of b's that comes later may come after us's start).
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const client = b.hub.client(key, 'c');
    const us = { region: 'us', epoch: 'usep', seq: 6 };
    client.claimPosition = () => ({ epoch: 'gone', serial: 9, reach: [us, { region: SETTINGS.region, epoch: 'gone', seq: 9 }] });
    await c.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const master = liveMaster(a, key)!;
    expect(master.state.origins.reachBackOf('us')).toEqual(us);
    expect(master.state.origins.reachBackOf(SETTINGS.region)).toBeUndefined();
  });

  it("answers a publish ordered and delivered in a lost epoch, sent again through another node, with its serial there, not ordering it again", async () => {
    // Chaos two-of-three-killed: a publish's ACK went with its node as the channel's master
    // and replica died; the SDK sent it again through a node that knew nothing of it, and
    // the new epoch's master ordered it a second time. c's channel client delivered it.
    const { b, c, key, first, epoch } = await bothCopiesLost([0, 1, 2, 3, 4].map((s) => [msg(s)]));
    // Sent again by a node that never sent it (no epoch named): answered with its first serial.
    expect(await b.rpc.request('c', { type: 'publish', channel: key, messages: [msg(4)] }, 2000)).toEqual({ kind: 'published', serials: [first[4]], epoch: expect.any(String) });
    const fresh = liveMaster(c, key)!;
    expect(fresh.epoch).not.toBe(epoch);
    expect(publishedSeqs(fresh.state)).toEqual([]);
    // Named with the lost epoch (b's publisher sent it there): answered too, not refused (90002).
    expect(await b.rpc.request('c', { type: 'publish', channel: key, messages: [msg(3)], epoch }, 2000)).toMatchObject({ kind: 'published', serials: [first[3]] });
    // What no node delivered, and what comes next, is taken.
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(5)] });
    expect(publishedSeqs(fresh.state)).toEqual([5]);
    // The new epoch's replica has the ids too (a failover before they expire answers them as well).
    await waitFor(() => {
      const h = b.registry.holding(key);
      return h?.role === 'replica' && h.state.epoch === fresh.epoch && h.state.hasOrdered(msg(2).id);
    });
  });

  it('gathers the ids from every node soon after it started, also where the nodes its claim asks first have no channel client (a region of seven)', async () => {
    const all = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const left = all.slice(2);
    // a masters the channel, b is its replica; of the five left, the subscriber's node is
    // not among the four the new owner asks first.
    const key = channelWhere((k) => new Ring(all).owner(k) === 'a' && new Ring(all).replica(k) === 'b');
    const { nodes: ns } = makeRegion(all);
    nodes.push(...ns);
    await startAll(ns);
    const byId = (id: string) => ns.find((n) => n.id === id)!;
    const owner = byId(new Ring(left).owner(key)!);
    const outside = byId(left.find((n) => !new Ring(left).preference(key, CLAIM_FANOUT).includes(n))!);
    const client = await follow(outside, key);
    const first: string[] = [];
    for (let s = 0; s < 3; s++) first.push(...(await owner.publisher.send('src', key, { type: 'publish', messages: [msg(s)] })));
    await waitFor(() => client.position().serial === 3);
    for (const n of [byId('a'), byId('b')]) await n.transport.stop();
    // The owner is told nothing of the two going (as one restarted since would not be):
    // it has just started, and does not know what went before.
    for (const id of left) {
      setView(byId(id), left);
      for (const gone of ['a', 'b']) {
        byId(id).rpc.failPeer(gone, 'down');
        if (byId(id) !== owner) byId(id).registry.forgetNode(gone);
      }
    }
    expect(await owner.rpc.request(owner.id, { type: 'publish', channel: key, messages: [msg(2)] }, 2000)).toMatchObject({ kind: 'published', serials: [first[2]] });
    expect(publishedSeqs(liveMaster(owner, key)!.state)).toEqual([]);
  });

  it('asks every node what it had only for a channel it finds no copy of soon after a node went (or it started), and only where it did not ask them all already', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    const { nodes: ns } = makeRegion(all);
    nodes.push(...ns);
    await startAll(ns);
    const [a, b] = ns;
    const probes: string[] = [];
    onRecentProbe(a!, (to, channel) => probes.push(`${channel}>${to}`));
    const owned = channelsOwnedBy(all, 'a');
    // Just started: it cannot know whether a node went before.
    await b!.publisher.send('src', owned[0]!, { type: 'publish', messages: [msg(0)] });
    expect(probes.length).toBe(4);
    // A node that started a minute ago, and has seen no node go since.
    const started = a!.registry as unknown as { nodeGoneAt: number };
    started.nodeGoneAt -= AFTER_LOSS_ASK_ALL_MS + 1;
    probes.length = 0;
    await b!.publisher.send('src', owned[1]!, { type: 'publish', messages: [msg(0)] });
    expect(probes).toEqual([]);
    a!.registry.forgetNode('gone');
    await b!.publisher.send('src', owned[2]!, { type: 'publish', messages: [msg(0)] });
    expect(probes.sort()).toEqual(['b', 'c', 'd', 'e'].map((n) => `${owned[2]}>${n}`));
    // A region of three was asked whole by the claim's first question: nothing more to ask.
    const trio = await startTrio(nodes);
    trio[0].registry.forgetNode('gone');
    const asked: string[] = [];
    onRecentProbe(trio[0], (to) => asked.push(to));
    await trio[1].publisher.send('src', channelOwnedBy(['a', 'b', 'c'], 'a'), { type: 'publish', messages: [msg(0)] });
    expect(asked).toEqual([]);
  });

  it('leaves the state of a master it stopped to restart as a copy when the node may no longer master the channel', async () => {
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const old = liveMaster(a, key)!;
    // a loses quorum while it asks the nodes what they delivered last.
    onRecentProbe(a, () => void (a.quorum = false));
    const reply = await b.rpc.request('a', { type: 'sub', channel: key, seen: { epoch: old.epoch, serial: 8 } }, 3000).catch((e: Error) => e);
    expect(reply).not.toMatchObject({ kind: 'subscribed' });
    const h = a.registry.holding(key);
    expect(h?.role).toBe('stale');
    expect(a.registry.counts().mastered).toBe(0);
  });

  it('answers every message of a large publish ordered in a lost epoch, sent again whole', async () => {
    const group = Array.from({ length: 300 }, (_, i) => ({ ...msg(i), id: `src:0:${i}` }));
    const { b, c, key, first } = await bothCopiesLost([group]);
    expect(first.length).toBe(300);
    expect(await b.rpc.request('c', { type: 'publish', channel: key, messages: group }, 2000)).toMatchObject({ kind: 'published', serials: first });
    expect(publishedSeqs(liveMaster(c, key)!.state)).toEqual([]);
  });

  it('answers a repeat of a message a node delivered when the channel restarts because a subscriber saw further than its master', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    const client = await follow(c, key);
    const first: string[] = [];
    for (let s = 0; s < 3; s++) first.push(...(await b.publisher.send('src', key, { type: 'publish', messages: [msg(s)] })));
    await waitFor(() => client.position().serial === 3);
    const { epoch } = liveMaster(a, key)!.position();
    const reply = await b.rpc.request('a', { type: 'sub', channel: key, seen: { epoch, serial: 8 } }, 2000);
    expect((reply as { epoch: string }).epoch).not.toBe(epoch);
    expect(await b.rpc.request('a', { type: 'publish', channel: key, messages: [msg(1)] }, 2000)).toMatchObject({ kind: 'published', serials: [first[1]] });
    expect(publishedSeqs(liveMaster(a, key)!.state)).toEqual([]);
  });

  it('refuses a resent publish that names another epoch than the channel is in (its first master may have ordered it in a state since lost)', async () => {
    const ns = await startTrio(nodes);
    const [a, b] = ns;
    const key = channelOwnedBy(['a', 'b', 'c'], 'a');
    await b.publisher.send('src', key, { type: 'publish', messages: [msg(0)] });
    const epoch = liveMaster(a, key)!.epoch;
    expect(await b.rpc.request('a', { type: 'publish', channel: key, messages: [msg(1)], epoch: 'gone' }, 1000)).toMatchObject({ kind: 'error', error: { code: 90002 } });
    expect(await b.rpc.request('a', { type: 'publish', channel: key, messages: [msg(2)], epoch }, 1000)).toMatchObject({ kind: 'published' });
    expect(publishedSeqs(liveMaster(a, key)!.state)).toEqual([0, 2]);
  });
});
