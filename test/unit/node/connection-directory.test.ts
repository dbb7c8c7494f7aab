/**
 * The connection directory keeps each connection's record on two nodes of the ring, and
 * on three in a region of five or more, where two nodes may go at once (chaos random
 * --pairs, seed 1106: a publisher's resume failed twice with 80008 when both copies went,
 * and its SDK sent its unacknowledged messages again under new ids). Real directories,
 * one per node, over an in-memory request path that fails for nodes that are down.
 */
import { describe, expect, it } from 'vitest';
import { Ring } from '../../../src/cluster/ring.js';
import { silentLogger } from '../../../src/log.js';
import { ConnectionDirectory } from '../../../src/node/connection-directory.js';
import type { ConnectionRecord } from '../../../src/transport/messages.js';

const TTL_MS = 120_000;

function region(size: number) {
  const nodes = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  let ring = new Ring(nodes);
  /** Every node's clock (ms). */
  const clock = { now: 1_000 };
  const down = new Set<string>();
  const dirs = new Map<string, ConnectionDirectory>();
  for (const self of nodes) {
    dirs.set(
      self,
      new ConnectionDirectory({
        self,
        ring: () => ring,
        now: () => clock.now,
        log: silentLogger(),
        stateTtlMs: TTL_MS,
        send: () => {},
        rpc: {
          request: async (to: string, req: never) => {
            if (down.has(to)) throw new Error(`${to} is down`);
            return dirs.get(to)!.handle(req, self);
          },
        } as never,
      }),
    );
  }
  /** The nodes that hold a copy of a connection's record. */
  const holding = (id: string) => nodes.filter((n) => (dirs.get(n)!.handle({ type: 'connTake', connectionId: id, host: n }, n) as { record: ConnectionRecord | null }).record !== null);
  return {
    nodes,
    get ring() {
      return ring;
    },
    /** Every directory's ring from now on: `members`. */
    setRing(members: string[]) {
      ring = new Ring(members);
    },
    clock,
    down,
    dirs,
    holding,
  };
}

/** A connection id (`prefix` and a number) whose two holders in `ring` do not include `node`. */
function heldWithout(ring: Ring, node: string, prefix: string): string {
  for (let i = 0; ; i++) if (!ring.preference(`conn:${prefix}${i}`, 2).includes(node)) return `${prefix}${i}`;
}

const record = (connectionId: string, host: string): Omit<ConnectionRecord, 'updatedAt'> => ({ connectionId, appId: 'app', clientId: null, host, expiresAt: null });

describe('connection directory', () => {
  it('keeps two copies in a region of three, and three in a region of five', async () => {
    for (const [size, copies] of [
      [3, 2],
      [4, 2],
      [5, 3],
      [7, 3],
    ] as const) {
      const r = region(size);
      await r.dirs.get('n1')!.put(record('c1', 'n1'));
      expect(r.holding('c1')).toEqual([...r.ring.preference('conn:c1', copies)].sort());
    }
  });

  it('in a region of five, a connection can still be taken with two of its holders and its host gone', async () => {
    const r = region(5);
    // A connection hosted on one of its own holders, so that the host and one more holder go.
    let id = '';
    for (let i = 0; !id; i++) if (r.ring.preference(`conn:c${i}`, 1)[0] === 'n1') id = `c${i}`;
    await r.dirs.get('n1')!.put(record(id, 'n1'));
    const [host, second, third] = r.ring.preference(`conn:${id}`, 3);
    expect(host).toBe('n1');
    r.down.add(host!).add(second!);
    const taker = r.nodes.find((n) => !r.down.has(n) && n !== third)!;
    const taken = await r.dirs.get(taker)!.take(id);
    expect(taken).toMatchObject({ connectionId: id });
  });

  it('says a connection cannot be reached, not that it expired, when none of its holders answers', async () => {
    const r = region(5);
    await r.dirs.get('n1')!.put(record('c9', 'n1'));
    const holders = r.ring.preference('conn:c9', 3);
    const taker = r.nodes.find((n) => !holders.includes(n))!;
    // The taker is cut off from every other node (and does not know it yet: chaos seed 1240).
    for (const n of r.nodes) if (n !== taker) r.down.add(n);
    expect(await r.dirs.get(taker)!.take('c9')).toBe('unreachable');
    // Its own empty answer says nothing where other nodes hold copies, also as a holder.
    const asHolder = (() => {
      for (let i = 0; ; i++) if (r.ring.preference(`conn:x${i}`, 3).includes(taker)) return `x${i}`;
    })();
    expect(await r.dirs.get(taker)!.take(asHolder)).toBe('unreachable');
    // Another holder that answers without the record can say it is gone.
    const other = r.ring.preference(`conn:${asHolder}`, 3).find((n) => n !== taker)!;
    r.down.delete(other);
    expect(await r.dirs.get(taker)!.take(asHolder)).toBeNull();
    // With every node up, the connection is taken as usual.
    r.down.clear();
    expect(await r.dirs.get(taker)!.take('c9')).toMatchObject({ connectionId: 'c9', host: 'n1' });
  });

  it('in a region of one, its only node says a connection it does not hold has expired', async () => {
    const r = region(1);
    expect(await r.dirs.get('n1')!.take('never-opened')).toBeNull();
  });

  it('gives a node that takes a connection a greater version than any before it, whatever the clocks say (PresenceMember.since)', async () => {
    // Every node's clock here says 1,000 ms for ever.
    const r = region(3);
    const first = await r.dirs.get('n1')!.put(record('c7', 'n1'));
    const dropped = await r.dirs.get('n1')!.put({ ...record('c7', 'n1'), expiresAt: 60_000 });
    expect(dropped).toBeGreaterThan(first);
    expect(await r.dirs.get('n2')!.take('c7')).toMatchObject({ host: 'n1', updatedAt: dropped });
    const second = await r.dirs.get('n2')!.put(record('c7', 'n2'));
    expect(second).toBeGreaterThan(dropped);
    // Back on n1 (which hosted it before): greater again.
    await r.dirs.get('n1')!.take('c7');
    expect(await r.dirs.get('n1')!.put(record('c7', 'n1'))).toBeGreaterThan(second);
  });

  // A killed host writes nothing when its connections' transports go with it: their records
  // were kept with no expiry, and could be resumed, for ever (fifty-eighth session).
  it('expires the records of a host that died, left or started a new life, the state TTL after, unless it writes them again', async () => {
    const r = region(3);
    const id = heldWithout(r.ring, 'n3', 'd');
    await r.dirs.get('n3')!.put(record(id, 'n3'));
    const [a, b] = r.ring.preference(`conn:${id}`, 2) as [string, string];
    // a hears that n3 died; b has not yet, and keeps no expiry until its next pass.
    r.dirs.get(a)!.hostGone('n3');
    r.clock.now += TTL_MS - 1;
    expect(await r.dirs.get(a)!.take(id, () => false)).toMatchObject({ host: 'n3', expiresAt: 1_000 + TTL_MS });
    r.clock.now += 1;
    r.dirs.get(a)!.reconcile(false);
    expect(r.holding(id)).toEqual([b]);
    // b's pass after its ring lost n3: the TTL from then.
    r.setRing(['n1', 'n2']);
    r.dirs.get(b)!.reconcile(false);
    r.clock.now += TTL_MS;
    r.dirs.get(b)!.reconcile(false);
    expect(r.holding(id)).toEqual([]);
    expect(await r.dirs.get(a)!.take(id)).toBeNull();
  });

  it('keeps no expiry on the records of a host that lives on and writes them again (a new life that kept its clients)', async () => {
    const r = region(3);
    const id = heldWithout(r.ring, 'n3', 'e');
    await r.dirs.get('n3')!.put(record(id, 'n3'));
    for (const n of ['n1', 'n2']) r.dirs.get(n)!.hostGone('n3');
    r.dirs.get('n3')!.reconcile(true); // its new life writes its records again
    await r.dirs.get('n3')!.settle();
    r.clock.now += 10 * TTL_MS;
    for (const n of r.nodes) r.dirs.get(n)!.reconcile(false);
    expect(r.holding(id).length).toBe(2);
    expect(await r.dirs.get('n1')!.take(id, () => false)).toMatchObject({ host: 'n3', expiresAt: null });
  });

  // The review's: a holder's verdict written into the record went out with its copies on the
  // next ring change, and replaced other holders' good copies of a live host's records.
  it('keeps a holder\'s verdict on a host to itself: the copies it sends carry none', async () => {
    const r = region(3);
    const id = heldWithout(r.ring, 'n3', 'f');
    await r.dirs.get('n3')!.put(record(id, 'n3'));
    const [a, b] = r.ring.preference(`conn:${id}`, 2) as [string, string];
    r.dirs.get(b)!.hostGone('n3'); // b alone saw n3 gone (a partial partition)
    r.dirs.get(b)!.reconcile(true); // and copied what it holds on a ring change
    await r.dirs.get(b)!.settle();
    r.clock.now += TTL_MS + 1;
    for (const n of r.nodes) r.dirs.get(n)!.reconcile(false);
    expect(r.holding(id)).toEqual([a]);
    r.down.add(b);
    expect(await r.dirs.get(a)!.take(id, () => false)).toMatchObject({ host: 'n3', expiresAt: null });
  });
});
