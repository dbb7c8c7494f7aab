/**
 * The master side of the subscription audit (node/hub.ts asks, requests.ts answers):
 * for each node, the digest of the channels whose live master here has it subscribed.
 *
 * Every node asks every master node once a second, so computing each answer afresh walked
 * every holding here once per node per second: with 10,000 channels on three nodes, most
 * of an idle region's CPU (the fifty-second session's profile; BENCHMARKS.md). The digests
 * are now made in one walk for every node and kept until something they depend on changes:
 * a holding set or removed (the registry's map: `WatchedMap`), a master's subscribing nodes
 * (`SubscribingNodes`' `changed`), a master stopping. Each of those bumps a generation;
 * digests made at an older one are made again, but not more than once in `REMAKE_MS` (with
 * subscriptions changing all the time, the walk would otherwise be made for each node's
 * question, as before, and cost more: a master's every subscriber is visited). Until then an
 * answer may be a second old: where it differs from the node's digest, the list the node
 * is given is made afresh, and where it matches one that is out of date, the next audit
 * finds it. Digests older than `MAX_AGE_MS` are made again whatever the generation says, so
 * that a change this bookkeeping missed would cost at most that long a delay in the audit's
 * repair, not the repair.
 */
import type { NodeId } from '../transport/messages.js';
import type { ChannelKey } from './entry.js';
import { addToDigest, emptyDigest, type SubDigest } from './sub-digest.js';

/** Digests older than this are made again even if nothing was seen to change (ms). */
export const MAX_AGE_MS = 30_000;
/** After a change, digests are made again at most this often (ms). */
export const REMAKE_MS = 1000;

/** What the digests read of a live master. */
export interface AuditedMaster {
  readonly keyHash: number;
  readonly subscribers: ReadonlySet<NodeId>;
}

interface Made {
  generation: number;
  at: number;
  byNode: Map<NodeId, SubDigest>;
}

export class SubscriberDigests {
  private generation = 0;
  private made: Made | null = null;

  /** `masters`: the live masters here; `clock`: a monotonic clock (ms). */
  constructor(
    private readonly masters: () => Iterable<readonly [ChannelKey, AuditedMaster]>,
    private readonly clock: () => number,
  ) {}

  /** Something a digest depends on changed. */
  readonly changed = (): void => {
    this.generation++;
  };

  /** The digest of the channels whose live master here has `node` subscribed. */
  of(node: NodeId): SubDigest {
    const now = this.clock();
    let made = this.made;
    const age = made ? now - made.at : Infinity;
    if (!made || age >= MAX_AGE_MS || (made.generation !== this.generation && age >= REMAKE_MS)) {
      made = this.made = { generation: this.generation, at: now, byNode: this.make() };
    }
    return made.byNode.get(node) ?? emptyDigest();
  }

  private make(): Map<NodeId, SubDigest> {
    const byNode = new Map<NodeId, SubDigest>();
    for (const [, m] of this.masters()) {
      for (const node of m.subscribers) {
        let d = byNode.get(node);
        if (!d) byNode.set(node, (d = emptyDigest()));
        addToDigest(d, m.keyHash);
      }
    }
    return byNode;
  }
}

/** A Map that calls `changed` whenever an entry is set, deleted or the whole cleared. */
export class WatchedMap<K, V> extends Map<K, V> {
  constructor(private readonly changed: () => void) {
    super();
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    this.changed();
    return this;
  }

  override delete(key: K): boolean {
    const had = super.delete(key);
    if (had) this.changed();
    return had;
  }

  override clear(): void {
    super.clear();
    this.changed();
  }
}
