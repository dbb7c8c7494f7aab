/**
 * The region's consistent hash ring (npm `hashring`, ketama) over the `up` members.
 * The master of a key is its ring owner; the replica is the next distinct node
 * clockwise, so that when the master dies its keys fall to the node that already holds
 * their state. Pure: build a new Ring whenever membership changes.
 */
import HashRing from 'hashring';
import type { NodeId } from '../transport/messages.js';

export const DEFAULT_VNODES = 128;
/**
 * Placements remembered per ring (a ring never changes): the registry asks every
 * channel's owner and replica every second, and a lookup hashes (md5) and walks the ring.
 * Both come from one walk and are kept in a plain Map, cleared when full (hashring's own
 * LRU, an object used as a dictionary plus a linked list updated on every hit, cost more
 * per lookup: about 1.5 % of a node's CPU with 10,000 channels).
 */
const MAX_CACHED = 200_000;

export class Ring {
  private readonly ring: HashRing | null;
  /** key → [master, replica or null]. */
  private readonly placements = new Map<string, readonly [NodeId, NodeId | null]>();
  readonly members: readonly NodeId[];

  constructor(members: Iterable<NodeId>, readonly vnodes = DEFAULT_VNODES) {
    this.members = [...new Set(members)].sort();
    if (this.members.length === 0) {
      this.ring = null;
      return;
    }
    const servers: Record<string, { vnodes: number }> = {};
    for (const m of this.members) servers[m] = { vnodes };
    // Every node gets exactly `vnodes` points-groups. hashring only honours an explicit
    // count when it differs from its own default ('vnode count'); otherwise it derives the
    // count from weights with floor(), which can move keys between surviving nodes when
    // membership changes. Setting the default to something else keeps ours explicit.
    // Its own cache serves only get(), which is not used (`placements` caches instead);
    // it cannot be switched off, so it is kept at one entry.
    this.ring = new HashRing(servers, 'md5', { 'vnode count': vnodes + 1, 'max cache size': 1 });
  }

  get size(): number {
    return this.members.length;
  }

  has(node: NodeId): boolean {
    return this.members.includes(node);
  }

  /** The key's master, or null on an empty ring. */
  owner(key: string): NodeId | null {
    return this.ring ? this.placement(key)[0] : null;
  }

  /** The first `n` distinct nodes clockwise from the key: [master, replica, …]. */
  preference(key: string, n: number): NodeId[] {
    return this.ring ? this.ring.range(key, Math.min(n, this.members.length), true) : [];
  }

  /** The key's replica (next distinct node after the master), or null with one member. */
  replica(key: string): NodeId | null {
    return this.ring ? this.placement(key)[1] : null;
  }

  /** Master and replica of a key on a non-empty ring (the first two of `preference`). */
  private placement(key: string): readonly [NodeId, NodeId | null] {
    let p = this.placements.get(key);
    if (p === undefined) {
      const [master, replica] = this.preference(key, 2);
      p = [master!, replica ?? null];
      if (this.placements.size >= MAX_CACHED) this.placements.clear();
      this.placements.set(key, p);
    }
    return p;
  }
}
