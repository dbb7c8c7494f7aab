/**
 * A channel's whole state moving between nodes (registry.ts): a master that is no longer
 * owner stops and hands its state to the new owner; a replica whose master left the ring
 * pushes its copy to the owner; and the node that receives either, or a new replica's
 * sync, takes it as master, as replica, or as a copy kept to answer claims.
 */
import { AblyError } from '../errors.js';
import { nothingAnnounced } from './channel-interest.js';
import type { NodeId, ReplyBody } from '../transport/messages.js';
import { newer } from './claim.js';
import type { ChannelKey } from './entry.js';
import type { ChannelMaster } from './master.js';
import type { Holding } from './registry.js';
import type { RegistryDeps } from './registry-deps.js';
import { INTERNAL_REQUEST_TIMEOUT_MS, mayReplicate } from './replication.js';
import { ChannelState, type ChannelSnapshot } from './state.js';

/**
 * A leaving node waits up to this much longer for handoffs not yet taken (pushAgain): time
 * for a paused owner to be declared down (4.2 s of silence, from before the stop began).
 * Within the 10 s a stopping node has (cli/node.ts): 3 s of drain and this, then up to 3.5 s
 * for its clients' acknowledgements and 1 s for their connection records.
 */
export const HANDOFF_UNANSWERED_MS = 2000;

/** What of the registry moving a state uses. */
export interface HandoffHost {
  readonly deps: RegistryDeps;
  readonly holdings: Map<ChannelKey, Holding>;
  readonly tombstones: Map<ChannelKey, ChannelSnapshot>;
  /** Channels whose state is being pushed (one push at a time each). */
  readonly pushing: Set<ChannelKey>;
  /** Channels whose last push, made out of the ring (leaving), went unanswered, with their subscribing nodes (pushAgain). */
  readonly unanswered: Map<ChannelKey, NodeId[]>;
  keepStale(key: ChannelKey, state: ChannelState): void;
  /** Makes this node master from a state handed to it; requests waiting on a claim of ours go to it. */
  takeOver(key: ChannelKey, snap: ChannelSnapshot): ChannelMaster;
}

/** Old master → new owner: stop, then hand the whole state over. */
export function pushState(host: HandoffHost, key: ChannelKey, h: Extract<Holding, { role: 'master' }>): void {
  const { deps, pushing } = host;
  if (pushing.has(key)) return;
  pushing.add(key);
  void (async () => {
    try {
      await h.master.stop(AblyError.of('channelFailed', 'channel master moved'));
      const owner = deps.ring().owner(key);
      if (owner === null || owner === deps.self) {
        host.keepStale(key, h.master.state);
        return;
      }
      const snap = { ...h.master.state.snapshot(), wasMaster: true, subscribers: [...h.master.subscribers] };
      host.keepStale(key, h.master.state);
      const reply = await deps.rpc
        .request(owner, { type: 'sync', channel: key, snapshot: snap, role: 'handoff' }, INTERNAL_REQUEST_TIMEOUT_MS)
        .catch(() => null);
      answered(host, key, reply, snap.subscribers);
      deps.log.debug({ channel: key, to: owner, serial: snap.base + snap.entries.length, reply: reply?.kind ?? 'no reply' }, 'handed channel off');
    } finally {
      pushing.delete(key);
    }
  })();
}

/** A replica whose master left pushes its copy to the channel's owner (a leaving master pushing again: with its subscribing nodes). */
export function pushCopy(host: HandoffHost, key: ChannelKey, state: ChannelState, owner: NodeId, subscribers?: NodeId[]): void {
  const { deps, pushing } = host;
  if (pushing.has(key)) return;
  pushing.add(key);
  host.keepStale(key, state);
  const snap = { ...state.snapshot(), wasMaster: true, ...(subscribers ? { subscribers } : {}) };
  void deps.rpc
    .request(owner, { type: 'sync', channel: key, snapshot: snap, role: 'handoff' }, INTERNAL_REQUEST_TIMEOUT_MS)
    .catch(() => null)
    .then((reply) => answered(host, key, reply, subscribers ?? []))
    .finally(() => pushing.delete(key));
}

/**
 * A push's answer: taken (the owner holds the state, as master or copy), or not (none came,
 * or it refused). Only a node out of the ring (leaving) keeps note of one not taken: it is
 * the one that pushes again before it goes.
 */
function answered(host: HandoffHost, key: ChannelKey, reply: ReplyBody | null, subscribers: NodeId[]): void {
  if (reply?.kind === 'ok' || host.deps.ring().has(host.deps.self)) host.unanswered.delete(key);
  else host.unanswered.set(key, subscribers);
}

/**
 * A leaving node pushes again each channel whose push went unanswered, from the copy it
 * kept, to the owner now (the one it went to, or the next once the ring has dropped that
 * one): an owner paused or cut off when the push went would otherwise leave the state
 * with a node about to exit (chaos seed 5203: a stop while the new owner was paused, and
 * the channel restarted in a new epoch, its lifecycle's announced state lost with it).
 */
export function pushAgain(host: HandoffHost): void {
  const { deps, holdings, pushing, unanswered } = host;
  for (const [key, subscribers] of unanswered) {
    if (pushing.has(key)) continue;
    const h = holdings.get(key);
    const owner = deps.ring().owner(key);
    if (h?.role !== 'stale' || owner === null || owner === deps.self) {
      unanswered.delete(key);
      continue;
    }
    pushCopy(host, key, h.state, owner, subscribers);
  }
}

/** A state sent to us: a new replica's copy from its master, or a handoff to us as owner. */
export function takeSync(host: HandoffHost, from: NodeId, key: ChannelKey, snap: ChannelSnapshot, role: 'replica' | 'handoff'): ReplyBody {
  const { deps, holdings } = host;
  if (role === 'replica') {
    if (!mayReplicate(deps, from, key)) return { kind: 'redirect', owner: deps.ring().owner(key) };
    const h = holdings.get(key);
    if (h?.role === 'master') return { kind: 'redirect', owner: deps.self };
    holdings.set(key, { role: 'replica', state: ChannelState.restore(snap, deps.settings), from });
    host.tombstones.delete(key);
    return { kind: 'ok' };
  }
  // handoff: the sender was master and has stopped; we are owner in its view.
  const h = holdings.get(key);
  if (h?.role === 'master' && !h.master.isStopped) {
    // Already master (a claim or a promotion got there first): our state holds every
    // acknowledged entry; anything more in the push was never acknowledged. What the
    // sender knew of other regions' interest still saves their starts, if it is early.
    const ours = h.master.state;
    if (snap.remoteInterest && snap.epoch === ours.epoch) h.master.regions.inheritRemote(snap.remoteInterest);
    // And what its lifecycle events told, where ours has told nothing (lifecycle.ts).
    if (snap.lifecycle && nothingAnnounced(ours.interest.announced)) {
      ours.interest.setAnnounced(snap.lifecycle);
      h.master.lifecycle?.reconcile();
    }
    // A later mastership's push: ours began from a stale state (no path should allow it).
    if (snap.term > ours.term) deps.log.warn({ channel: key, from, ours: `${ours.epoch} term ${ours.term}`, pushed: `${snap.epoch} term ${snap.term}` }, 'a handoff of a later mastership reached this master; kept ours');
    return { kind: 'ok' };
  }
  if (h && h.role !== 'master' && newer({ term: h.state.term, serial: h.state.serial }, snap)) {
    // We hold a copy of a later mastership than the sender's: keep it.
    return { kind: 'ok' };
  }
  if (deps.ring().owner(key) !== deps.self || !deps.hasQuorum()) {
    // Not owner in our view (yet): keep it as a copy so a claim finds it.
    host.keepStale(key, ChannelState.restore(snap, deps.settings));
    return { kind: 'ok' };
  }
  deps.metrics?.handoff();
  deps.log.debug({ channel: key, from, epoch: snap.epoch, serial: snap.base + snap.entries.length }, 'channel handed to us');
  host.takeOver(key, snap);
  return { kind: 'ok' };
}
