/**
 * A channel master's batches to its replica: the master's side (`replicateBatch`, which
 * syncs a replica that lacks the state and retries until the replica holds the batch or
 * this node stops being master) and the replica's (`applyReplicate`).
 *
 * The replica also sends the batch on towards other regions when the master asks it
 * to (`forward`: other regions want the channel). A batch is committed once the replica
 * holds it, and the replica is the first to know: sending from there saves a hop (its
 * reply to the master), two when the globalmaster is on the replica's node. The replica
 * says so in its reply (`forwarded`); where it did not (a full sync instead, a region of one node,
 * a replica that does not know the flag), the master sends the batch itself after
 * replication, as before. Either way each batch goes once from a node that holds it,
 * and the other regions' ingest skips what it already has (by origin seq) and asks for
 * a replay on a gap, as for any loss on the way.
 *
 * In the same way the replica broadcasts the batch to the subscribing nodes the master
 * names (`broadcastTo`: not the master's own node, which hears the reply anyway), and
 * says so (`broadcast`): the batch reaches them one hop sooner. Where it did not, the
 * master broadcasts to them after replication, as before. A node may then get a batch
 * twice (a replica that broadcast and did not answer, then a sync and the master's
 * broadcast), or one before an earlier one (the master broadcast that, the replica
 * this): the channel client skips what it has and fills a gap from the master, as for
 * any loss on the way. What a node is sent the replica holds, as before.
 */
import { AblyError } from '../errors.js';
import type { Ring } from '../cluster/ring.js';
import type { Rpc } from '../transport/rpc.js';
import type { Broadcast, ForwardedBatch, NodeId, ReplicateRequest, ReplyBody } from '../transport/messages.js';
import type { ChannelKey, LogEntry } from './entry.js';
import { broadcastOf, NOT_BY_REPLICA, ownEntriesBatch, type ReplicaBroadcast, type Replicated } from './batches.js';
import type { ChannelMaster } from './master.js';
import type { Holding } from './registry.js';
import type { PresenceHold } from './state.js';
import { sleep } from '../clock.js';
import { applyUnreplicated, takeUnreplicated } from './unreplicated.js';

/** Retry pause after a replica failed to answer (the ring converges meanwhile). */
const REPLICATE_RETRY_MS = 50;
/** Timeout of one replication or sync request to the replica. */
export const INTERNAL_REQUEST_TIMEOUT_MS = 3000;
/** A replica's answer when it cannot take the entries as an update: it needs the whole state. */
export const NEED_SYNC = 50099;

export interface ReplicationDeps {
  self: NodeId;
  ring(): Ring;
  rpc: Rpc;
  hasQuorum(): boolean;
  /** `region`: this region's name; its own entries are the ones sent to other regions. */
  settings: { region?: string };
  /** Sends this region's new entries of a channel to the globalmaster. */
  toRegions?(batch: ForwardedBatch, to: string | null): void;
  /** One-way send of a broadcast to a node (self included). */
  sendBroadcast(to: NodeId, msg: Broadcast): void;
}

/**
 * Copies a master's batch to its replica; resolves once the replica holds it, with
 * whether the replica also sent it on to other regions (asked for with `forward`) and
 * broadcast it (asked for with `broadcast`). Rejects when this node is no longer that
 * channel's master.
 */
export async function replicateBatch(
  deps: ReplicationDeps,
  holding: (key: ChannelKey) => Holding | undefined,
  master: ChannelMaster,
  entries: LogEntry[],
  holds: PresenceHold[],
  forward: boolean,
  broadcast: ReplicaBroadcast | null = null,
): Promise<Replicated> {
  // Taken once: every attempt of this batch carries them (a full sync holds them anyway).
  const unreplicated = takeUnreplicated(master.state);
  for (;;) {
    if (master.isStopped) throw AblyError.of('channelFailed', 'master moved');
    const h = holding(master.key);
    if (!h || h.role !== 'master' || h.master !== master) throw AblyError.of('channelFailed', 'master moved');
    const replica = deps.ring().replica(master.key);
    if (h.replica !== replica) {
      h.replica = replica;
      h.synced = null;
    }
    if (replica === null) return NOT_BY_REPLICA; // a region of one node
    let reply: ReplyBody | null;
    if (h.synced !== replica) {
      if (h.syncing?.to === replica) {
        // A full sync is under way (a new master's first): these entries follow it as an
        // update, not in a second snapshot; entries the snapshot already held are skipped.
        await h.syncing.done;
        continue;
      }
      const sync = { type: 'sync', channel: master.key, snapshot: master.state.snapshot(), role: 'replica' } as const;
      const syncing = { to: replica, done: deps.rpc.request(replica, sync, INTERNAL_REQUEST_TIMEOUT_MS).catch(() => null) };
      h.syncing = syncing;
      reply = await syncing.done;
      if (h.syncing === syncing) h.syncing = null;
      if (reply?.kind === 'ok') {
        h.synced = replica;
        return NOT_BY_REPLICA; // the snapshot holds these entries too (and sent nothing on)
      }
    } else {
      const update = {
        type: 'replicate',
        channel: master.key,
        epoch: master.epoch,
        entries,
        holds,
        forward,
        ...unreplicated,
        ...(broadcast ? { broadcastTo: broadcast.to, ...(broadcast.said ? { discontinuity: broadcast.said.error, gapAt: broadcast.said.serial } : {}) } : {}),
      } as const;
      reply = await deps.rpc.request(replica, update, INTERNAL_REQUEST_TIMEOUT_MS).catch(() => null);
      if (reply?.kind === 'ok') return { forwarded: reply.forwarded === true, broadcast: broadcast !== null && reply.broadcast === true };
      if (reply?.kind === 'error' && reply.error.code === NEED_SYNC) {
        // The replica dropped its copy (it went empty) or missed some: sync it at once.
        h.synced = null;
        continue;
      }
    }
    await sleep(REPLICATE_RETRY_MS);
  }
}

/** Whether `from` is the master this node should take a channel's entries from, in this node's view. */
export function mayReplicate(deps: ReplicationDeps, from: NodeId, key: ChannelKey): boolean {
  const ring = deps.ring();
  return deps.hasQuorum() && ring.owner(key) === from && ring.replica(key) === deps.self;
}

/** The replica's side: appends a batch that follows on from its copy, and sends it on and broadcasts it if asked. */
export function applyReplicate(deps: ReplicationDeps, h: Holding | undefined, from: NodeId, req: ReplicateRequest): ReplyBody {
  const key = req.channel;
  if (!mayReplicate(deps, from, key)) return { kind: 'redirect', owner: deps.ring().owner(key) };
  const first = req.entries[0];
  if (h?.role !== 'replica' || h.from !== from || h.state.epoch !== req.epoch || (first && first.serial > h.state.serial + 1)) {
    return { kind: 'error', error: { code: NEED_SYNC, statusCode: 500, message: 'replica needs a full sync' } };
  }
  h.state.applyEntries(req.entries, req.holds);
  applyUnreplicated(h.state, req);
  // Only to nodes this one knows (in its ring): a node it has not heard of yet (just
  // joined) it has no link to, and the master tells every node itself instead.
  const ring = deps.ring();
  const to = req.broadcastTo?.every((n) => n === deps.self || ring.has(n)) ? req.broadcastTo : undefined;
  if (to && (req.entries.length || req.discontinuity)) {
    const said = req.discontinuity ? { error: req.discontinuity, serial: req.gapAt ?? h.state.serial + 1 } : null;
    const msg = broadcastOf(key, h.state.epoch, req.entries, said);
    for (const node of to) deps.sendBroadcast(node, msg);
  }
  const region = deps.settings.region;
  const toRegions = req.forward ? deps.toRegions : undefined;
  if (toRegions && region) {
    const batch = ownEntriesBatch(key, region, h.state.epoch, req.entries);
    if (batch) toRegions(batch, null);
  }
  return { kind: 'ok', ...(toRegions && region ? { forwarded: true } : {}), ...(to ? { broadcast: true } : {}) };
}
