/**
 * A channel master's batches on their way out: what a batch is, its broadcast, and who
 * tells which subscribing node of it. The master has each batch copied to its replica;
 * the replica broadcasts it to the subscribing nodes the master names as soon as it
 * holds it (replication.ts), and the master, on the replica's answer, tells its own node
 * and the nodes the replica was not asked to tell: those that subscribed, or subscribed
 * again, since it asked (SubscribingNodes).
 */
import { sizeEstimate } from '../protocol/frames.js';
import { ForwardedEntries } from '../transport/entry-lists.js';
import type { Broadcast, ForwardedBatch, NodeId } from '../transport/messages.js';
import type { ChannelKey, LogEntry } from './entry.js';
import type { Gap } from './gaps.js';
import type { PresenceHold } from './state.js';

/** A loss said before a batch's entries (another region's messages lost), and the serial it goes before: a Gap's. */
export type Said = Pick<Gap, 'serial' | 'error'>;

export interface Batch {
  entries: LogEntry[];
  holds: PresenceHold[];
  /** Continuity was lost before these entries (from another region's history). */
  gap: Said | null;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** About the bytes of a batch's entries (frames.ts's estimate), for the group commit's bound. */
export function batchBytes(b: Batch): number {
  let n = 0;
  for (const e of b.entries) n += sizeEstimate(e);
  return n;
}

/** A batch's broadcast, as the master asks the replica to send it: to these nodes, saying this first. */
export interface ReplicaBroadcast {
  to: NodeId[];
  /** A loss said first, and where it goes (Broadcast.discontinuity, and gapAt with no entries). */
  said: Said | null;
  /** The master's count of subscribes when it asked (a node that subscribed again since is told by the master too). */
  subscribes: number;
}

/** What the replica did besides holding a batch. */
export interface Replicated {
  /** Sent the batch's own entries on to other regions. */
  forwarded: boolean;
  /** Broadcast the batch to the nodes asked. */
  broadcast: boolean;
}

/** What a replica did that could not (a region of one node, a full sync, an older build). */
export const NOT_BY_REPLICA: Replicated = { forwarded: false, broadcast: false };

/** The broadcast of a batch (`said`: a loss said first). */
export function broadcastOf(channel: ChannelKey, epoch: string, entries: LogEntry[], said: Said | null): Broadcast {
  return {
    type: 'broadcast',
    channel,
    epoch,
    entries,
    ...(said ? { discontinuity: said.error, ...(entries.length ? {} : { gapAt: said.serial }) } : {}),
  };
}

/**
 * The entries of a batch that originated in `region`, as a batch for other regions (null
 * if none): one hop only, so what came in from another region is never forwarded on.
 */
export function ownEntriesBatch(channel: ChannelKey, region: string, epoch: string, entries: readonly LogEntry[]): ForwardedBatch | null {
  const mine = entries.filter((e) => e.origin.region === region);
  return mine.length ? { channel, region, epoch, gapBefore: false, entries: ForwardedEntries.of(mine) } : null;
}

/** The nodes subscribed to a master's broadcasts, and when each last subscribed (counted). */
export class SubscribingNodes {
  private readonly set = new Set<NodeId>();
  /** Subscribes so far, and each node's last (a number of that count). */
  private count = 0;
  private readonly at = new Map<NodeId, number>();

  /** `changed`: called whenever a node is added or removed (the registry's audit digests). */
  constructor(private readonly changed: () => void = () => undefined) {}

  get nodes(): ReadonlySet<NodeId> {
    return this.set;
  }

  /** A node subscribes (again); whether it is new. */
  add(node: NodeId): boolean {
    this.at.set(node, ++this.count);
    return this.put(node);
  }

  /** A subscriber the master had before it moved here (a handover's or a claim's copy): no subscribe counted. */
  restore(node: NodeId): void {
    this.put(node);
  }

  /** Whether the node was subscribed. */
  delete(node: NodeId): boolean {
    this.at.delete(node);
    if (!this.set.delete(node)) return false;
    this.changed();
    return true;
  }

  private put(node: NodeId): boolean {
    if (this.set.has(node)) return false;
    this.set.add(node);
    this.changed();
    return true;
  }

  /** What to ask the replica to send (to every node but `self`), or null if there is nothing to send or no one to send it to. */
  askReplica(self: NodeId | undefined, entries: readonly LogEntry[], said: Said | null): ReplicaBroadcast | null {
    if (entries.length === 0 && !said) return null;
    const to: NodeId[] = [];
    for (const node of this.nodes) if (node !== self) to.push(node);
    return to.length ? { to, said, subscribes: this.count } : null;
  }

  /**
   * Whether the master tells `node` of a batch itself, the replica having sent it to
   * `sent` (null: to no one). It does where the replica was not asked to, and where the
   * node subscribed again since it asked (restarted, say): that subscribe was answered
   * with a position before the batch, and the replica's sending went on the link as it
   * was. A node told twice skips the second.
   */
  masterTells(node: NodeId, sent: ReplicaBroadcast | null): boolean {
    return !sent || !sent.to.includes(node) || (this.at.get(node) ?? 0) > sent.subscribes;
  }
}
