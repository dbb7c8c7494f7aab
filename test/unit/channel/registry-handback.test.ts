/**
 * A channel handed to a new owner is served at once: requests waiting on the new owner's
 * own claim go as soon as the handoff installs the master, and the new replica gets one
 * full copy, not one per publish that came while the first was on its way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PendingClaims } from '../../../src/channel/claim.js';
import type { ChannelRegistry } from '../../../src/channel/registry.js';
import { Ring } from '../../../src/cluster/ring.js';
import { channelOwnedBy, liveMaster, msg, setView, startTrio, stopAll, type TestNode } from '../../helpers/registry-region.js';
import { waitFor } from '../../helpers/wait.js';

let nodes: TestNode[] = [];
afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});

/**
 * A channel owned by c in the ring of three, published on (5 messages) while c is out of
 * every node's view: its master then is `old`, and `other` is the node that is neither.
 */
async function channelAwayFromC(ns: TestNode[]): Promise<{ key: string; old: TestNode; other: TestNode }> {
  const key = channelOwnedBy(['a', 'b', 'c'], 'c');
  for (const n of ns) setView(n, ['a', 'b']);
  for (let i = 0; i < 5; i++) await ns[0]!.publisher.send('src', key, { type: 'publish', messages: [msg(i)] });
  const old = ns.find((n) => n.id === new Ring(['a', 'b']).owner(key))!;
  return { key, old, other: ns.find((n) => n.id !== old.id && n.id !== 'c')! };
}

/** Whether a claim of the channel is still under way on the node. */
function claiming(n: TestNode, key: string): boolean {
  return (n.registry as unknown as { claims: PendingClaims<unknown> }).claims.has(key);
}

/**
 * Makes a registry hold one kind of request until the gate it returns is opened (and
 * counts them): the test says when the answer goes, not a timer racing a loaded machine.
 */
function held<K extends 'onClaim' | 'onSync'>(reg: ChannelRegistry, method: K, only: (...args: unknown[]) => boolean = () => true): { calls: number; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const seen = { calls: 0, open };
  const orig = (reg[method] as (...args: unknown[]) => unknown).bind(reg);
  (reg as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    if (!only(...args)) return orig(...args);
    seen.calls++;
    await gate;
    return orig(...args);
  };
  return seen;
}

describe('handing a channel back to its owner', () => {
  it("answers the requests waiting on the owner's claim as soon as the handoff installs the master", async () => {
    const ns = await startTrio(nodes);
    const c = ns[2];
    const { key, old, other } = await channelAwayFromC(ns);
    // The claim's question to the node that is neither old master nor owner is held.
    const asked = held(other.registry, 'onClaim');
    setView(c, ['a', 'b', 'c']);
    const answered: number[] = [];
    const waiting = [0, 1, 2].map((i) => c.registry.acquire(key).then((got) => (answered.push(i), got)));
    await waitFor(() => asked.calls > 0, { what: "c's claim asking the other node", intervalMs: 1 });
    expect(answered).toEqual([]); // the claim waits for that answer
    setView(old, ['a', 'b', 'c']); // the old master sees c as owner and hands the channel over
    // Answered by the handoff, while the claim's question is still unanswered.
    await waitFor(() => answered.length === 3, { what: "the waiters answered by the handoff, the claim's question held" });
    const got = await Promise.all(waiting);
    expect(answered).toEqual([0, 1, 2]);
    const master = liveMaster(c, key);
    expect(master?.state.serial).toBe(5);
    for (const g of got) expect('ok' in g && g.ok).toBe(master);
    expect(claiming(c, key)).toBe(true);
    // The claim ends once answered, finds that master, and leaves it alone.
    asked.open();
    await waitFor(() => !claiming(c, key), { what: "the end of c's claim", timeoutMs: 5000 });
    expect(liveMaster(c, key)).toBe(master);
  });

  it('sends the new replica one full copy while publishes arrive, then the publishes as updates', async () => {
    const ns = await startTrio(nodes);
    const [a, b, c] = ns;
    const { key } = await channelAwayFromC(ns);
    const replica = ns.find((n) => n.id === new Ring(['a', 'b', 'c']).replica(key))!;
    const syncs = held(replica.registry, 'onSync', (from, _k, _s, role) => from === 'c' && role === 'replica');
    for (const n of [c, b, a]) setView(n, ['a', 'b', 'c']);
    await waitFor(() => liveMaster(c, key), { what: 'c mastering the channel', intervalMs: 1 });
    // Three publishes taken by the master while the first copy is held at the replica.
    const sending = Promise.all([5, 6, 7].map((i) => c.publisher.send('src', key, { type: 'publish', messages: [msg(i)] })));
    await waitFor(() => liveMaster(c, key)?.state.serial === 8, { what: 'the master to take the three publishes', intervalMs: 1 });
    expect(syncs.calls).toBe(1);
    syncs.open();
    const serials = await sending;
    expect(serials.map((s) => s.length)).toEqual([1, 1, 1]);
    expect(syncs.calls).toBe(1);
    const h = replica.registry.holding(key);
    expect(h?.role === 'replica' && h.from === 'c' && h.state.serial).toBe(8);
  });
});

describe('PendingClaims', () => {
  it('runs one claim per key, answers its waiters in order, early if settled, and ignores the later result', async () => {
    const claims = new PendingClaims<string>();
    let finish!: (v: string) => void;
    let started = 0;
    const start = () => {
      started++;
      return new Promise<string>((r) => (finish = r));
    };
    const order: string[] = [];
    const p1 = claims.join('k', start).then((v) => order.push(`1:${v}`));
    const p2 = claims.join('k', start).then((v) => order.push(`2:${v}`));
    expect(started).toBe(1);
    expect(claims.has('k')).toBe(true);
    claims.settle('k', 'handed');
    await Promise.all([p1, p2]);
    expect(order).toEqual(['1:handed', '2:handed']);
    // Still under way until the claim itself ends; then a new join starts a new claim.
    expect(claims.has('k')).toBe(true);
    finish('claimed');
    await waitFor(() => !claims.has('k'));
    const p3 = claims.join('k', start);
    expect(started).toBe(2);
    finish('again');
    expect(await p3).toBe('again');
  });

  it('passes a failed claim on to its waiters', async () => {
    const claims = new PendingClaims<string>();
    await expect(claims.join('k', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await waitFor(() => !claims.has('k'));
  });
});
