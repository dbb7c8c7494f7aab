/**
 * Serving the channel requests other nodes (and this one) send to the registry: the
 * channel master answers publishes, subscriptions, reads and cross-region traffic; the
 * replica side answers replication, syncs and claims. Reads do not create channels.
 */
import { AblyError, toErrorInfo } from '../errors.js';
import { ForwardedEntries } from '../transport/entry-lists.js';
import type { ChannelRequest, NodeId, ReplyBody } from '../transport/messages.js';
import type { ChannelRegistry } from './registry.js';
import { sameDigest, type SubDigest } from './sub-digest.js';
import { entryBytes, type ChannelKey } from './entry.js';
import type { ChannelMaster } from './master.js';
import { memoryBudget } from '../memory-budget.js';
import { PresenceAction } from '../protocol/actions.js';
import type { Message } from '../protocol/message.js';

/**
 * A node's subscription audit: whether its digest matches the channels it is subscribed
 * to at live masters here, and if not, which those are.
 */
export function auditSubscriptions(reg: ChannelRegistry, from: NodeId, theirs: SubDigest): ReplyBody {
  if (sameDigest(reg.digests.of(from), theirs)) return { kind: 'subAudit', match: true, channels: [] };
  const channels: ChannelKey[] = [];
  for (const [key, m] of reg.liveMasters()) if (m.subscribers.has(from)) channels.push(key);
  return { kind: 'subAudit', match: false, channels };
}

/** Whether no node holds the channel (this one, then the others asked): a read answers it as empty, and taking it would make it afresh. */
async function heldNowhere(reg: ChannelRegistry, channel: ChannelKey): Promise<boolean> {
  return !reg.holding(channel) && !(await reg.anyoneHolds(channel));
}

/** Whether taking the channel here would make it afresh: this node is its owner and no node holds it. */
async function wouldMake(reg: ChannelRegistry, channel: ChannelKey): Promise<boolean> {
  return reg.ownership(channel).mine && (await heldNowhere(reg, channel));
}

/** Whether the master has ordered every one of these messages already (a retry, or one a node delivered in a lost epoch: recent-ids.ts). */
function orderedAll(master: ChannelMaster, messages: readonly Message[]): boolean {
  return messages.every((m) => master.hasOrdered(m.id, m.connectionId));
}

/** A master's answer to what would keep more at a node at its memory budget (42910, nonfatal). */
function memoryFull(): ReplyBody {
  return { kind: 'error', error: AblyError.of('rateLimited', `${memoryBudget.describe()}: it takes nothing new until history expires`).toInfo() };
}

/** A client's resume whose backlog is more than a resume gives (RESUME_MAX_BYTES): it attaches afresh, told of the loss, and may read the rest from history. */
function resumeTooLarge(maxBytes: number): ReplyBody {
  const why = `what was missed is more than a resume gives (${Math.round(maxBytes / 1048576)} MiB): read it from history`;
  return { kind: 'error', error: AblyError.of('channelMessagesExpired', why).toInfo() };
}

/** A read up to a position the replica has broadcast and this master has not yet published (ChannelMaster.publishedTo). */
function notPublishedYet(serial: number): ReplyBody {
  return { kind: 'retry', reason: `serial ${serial} is held here but not yet published (its replication has not been answered)` };
}

function redirect(a: { redirect: NodeId | null; error?: AblyError }): ReplyBody {
  if (a.error) return { kind: 'error', error: a.error.toInfo() };
  return { kind: 'redirect', owner: a.redirect };
}

/** Runs `op` at a master; one that stopped meanwhile (the channel moved) redirects to the owner now. */
async function atMaster(reg: ChannelRegistry, master: ChannelMaster, op: () => Promise<ReplyBody>): Promise<ReplyBody> {
  try {
    return await op();
  } catch (err) {
    if (master.isStopped) return { kind: 'redirect', owner: reg.ownership(master.key).owner };
    throw err;
  }
}

export async function handleChannelRequest(reg: ChannelRegistry, from: NodeId, req: ChannelRequest): Promise<ReplyBody> {
  try {
    switch (req.type) {
      case 'sub': {
        // A subscriber this master has not seen rejoin would be dropped at its next reconcile.
        if (!reg.mayServe(from)) return { kind: 'retry', reason: `${from} is not in this node's view of the region yet` };
        // At the memory budget, an attach makes no channel here either (the client's node refuses one new to it: hub.ts).
        if (memoryBudget.isFull() && (await wouldMake(reg, req.channel))) return memoryFull();
        let a = await reg.acquire(req.channel);
        if ('ok' in a && req.seen && a.ok.behindSeen(req.seen)) a = await reg.restartBehind(a.ok, { by: from, ...req.seen });
        if (!('ok' in a)) return redirect(a);
        const master = a.ok;
        // Before the subscribe starts this region's interest (and so the other regions' streams;
        // a restartBehind above has told it already, but nothing can have come back yet). On to
        // the replica at once, not with the next publish: a master it becomes must know it too.
        if (req.reach) master.reachBack(req.reach);
        return await atMaster(reg, master, async () => {
          if (req.seen && !(await master.publishedTo(req.seen))) return notPublishedYet(req.seen.serial);
          if (master.isStopped) return { kind: 'redirect', owner: reg.ownership(master.key).owner };
          return { kind: 'subscribed', ...master.subscribe(from) };
        });
      }
      case 'reach': {
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        a.ok.reachBack(req.origins);
        return { kind: 'ok' };
      }
      case 'publish': {
        // A node at its memory budget takes nothing new (memory-budget.ts) and makes no channel
        // for it: where it is the owner and no node holds the channel (elsewhere it redirects).
        if (memoryBudget.isFull() && (await wouldMake(reg, req.channel))) return memoryFull();
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        // Before the wait for the publish ahead: that one may be refused for the same reason.
        const behind = a.ok.behindItsConnection(req.messages);
        if (behind) {
          const why = `message ${behind.id} comes after a later message of its connection that this channel has published: refused, to keep that connection's order (it may or may not have been published before)`;
          return { kind: 'error', error: AblyError.of('channelFailed', why).toInfo() };
        }
        if (req.epoch !== undefined && req.epoch !== a.ok.epoch && !orderedAll(a.ok, req.messages)) {
          // Sent for an epoch whose state is gone: if it was ordered there, taken again here
          // it would reach subscribers twice (nothing here knows its id). The sender tells.
          // (Ids a node delivered in that epoch are known here: recent-ids.ts. Those are answered.)
          // Before the wait for the publish ahead, which was refused for the same reason:
          // told to wait, a backlog of these failed one retry pause at a time (28 ms each;
          // a chaos run's publisher took 0.8 s to hear of 28 of them).
          return { kind: 'error', error: AblyError.of('channelEpochExpired', 'the channel\'s state was lost while this publish was unanswered: it may or may not have been published').toInfo() };
        }
        // What it has all of already (a retry) is answered as ever.
        if (memoryBudget.isFull() && !orderedAll(a.ok, req.messages)) return memoryFull();
        if (req.after !== undefined && !a.ok.hasOrdered(req.after, req.messages[0]?.connectionId)) {
          return { kind: 'retry', reason: `publish must follow ${req.after}, which this master has not ordered` };
        }
        try {
          return { kind: 'published', serials: await a.ok.publish(req.messages), epoch: a.ok.epoch };
        } catch (err) {
          // The master moved while the publish waited: whatever it accepted went with the
          // state to the new owner, which deduplicates the publisher's resend.
          if (a.ok.isStopped) return { kind: 'redirect', owner: reg.ownership(req.channel).owner };
          throw err;
        }
      }
      case 'presence': {
        // At the memory budget, leaves are taken (they free what the members held), no more.
        const adds = req.presence.some((p) => p.action !== PresenceAction.LEAVE);
        if (adds && memoryBudget.isFull() && (await wouldMake(reg, req.channel))) return memoryFull();
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        if (adds && memoryBudget.isFull()) return memoryFull();
        reg.log.debug({ channel: req.channel, connectionId: req.presence[0]?.connectionId, from, ops: req.presence.length, after: req.after, since: req.since }, 'presence ops');
        if (req.after !== undefined && !a.ok.hasOrdered(req.after, req.presence[0]?.connectionId)) {
          return { kind: 'retry', reason: `presence must follow ${req.after}, which this master has not ordered` };
        }
        try {
          await a.ok.presence(req.presence, from, req.since ?? 0);
          return { kind: 'ok' };
        } catch (err) {
          if (a.ok.isStopped) return { kind: 'redirect', owner: reg.ownership(req.channel).owner };
          throw err;
        }
      }
      case 'hold': {
        const { owner, mine } = reg.ownership(req.channel);
        if (!mine) return redirect({ redirect: owner });
        if (await heldNowhere(reg, req.channel)) return { kind: 'ok' };
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        // The delay is read on our clock: the sender's may be off.
        const leaveAt = req.leaveInMs === null ? null : reg.now() + req.leaveInMs;
        reg.log.debug({ channel: req.channel, connectionId: req.connectionId, from, leaveAt, atOnce: req.atOnce ?? false, since: req.since }, 'presence hold');
        try {
          await a.ok.hold(req.connectionId, from, leaveAt, req.atOnce ?? false, req.since ?? 0);
          return { kind: 'ok' };
        } catch (err) {
          if (a.ok.isStopped) return { kind: 'redirect', owner: reg.ownership(req.channel).owner };
          throw err;
        }
      }
      case 'presenceGet': {
        const { owner, mine } = reg.ownership(req.channel);
        if (!mine) return redirect({ redirect: owner });
        if (await heldNowhere(reg, req.channel)) return { kind: 'members', members: [] };
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        const filter = {
          ...(req.clientId !== undefined ? { clientId: req.clientId } : {}),
          ...(req.connectionId !== undefined ? { connectionId: req.connectionId } : {}),
        };
        return { kind: 'members', members: a.ok.members(filter) };
      }
      case 'range': {
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        const master = a.ok;
        if (master.epoch !== req.epoch) {
          return { kind: 'error', error: AblyError.of('channelNoMatchingEpoch', `channel epoch is ${master.epoch}`).toInfo() };
        }
        return await atMaster(reg, master, async () => {
          // The asking node may have had the batch from the replica before this master heard back.
          if (!(await master.publishedTo({ epoch: req.epoch, serial: req.upto }))) return notPublishedYet(req.upto);
          const entries = master.range(req.after, req.upto, req.maxBytes ?? Infinity);
          if (!entries) {
            return { kind: 'error', error: AblyError.of('channelMessagesExpired', `serial ${req.after} is older than the retained history`).toInfo() };
          }
          if (entries === 'over') return resumeTooLarge(req.maxBytes!);
          const gaps = master.gapsWithin(req.after, req.upto);
          return { kind: 'entries', entries, more: false, ...(gaps.length ? { gaps } : {}) };
        });
      }
      case 'history': {
        // Reads do not create a channel: an unknown channel has an empty history.
        const { owner, mine } = reg.ownership(req.channel);
        if (!mine) return redirect({ redirect: owner });
        if (await heldNowhere(reg, req.channel)) {
          return { kind: 'entries', entries: [], more: false };
        }
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        const master = a.ok;
        return await atMaster(reg, master, async () => {
          // Up to a node's position (a rewind): it may have had that from the replica already.
          const { epoch, untilSerial } = req.query;
          if (epoch !== undefined && untilSerial !== undefined && !(await master.publishedTo({ epoch, serial: untilSerial }))) return notPublishedYet(untilSerial);
          const { items, more } = master.history(req.query);
          return { kind: 'entries', entries: items, more };
        });
      }
      case 'status': {
        const { owner, mine } = reg.ownership(req.channel);
        if (!mine) return redirect({ redirect: owner });
        const h = reg.holding(req.channel);
        return { kind: 'status', status: h?.role === 'master' ? reg.status(h) : null };
      }
      case 'replicate':
        return reg.onReplicate(from, req);
      case 'ingest': {
        const a = await reg.acquire(req.batch.channel);
        if (!('ok' in a)) return redirect(a);
        const master = a.ok;
        return await atMaster(reg, master, async () => {
          const r = await master.regions.ingest(req.batch);
          return { kind: 'ingested', seq: r.seq, replayAfter: r.replayAfter, ...(r.startSince !== undefined ? { startSince: r.startSince } : {}) };
        });
      }
      case 'replayLocal': {
        const { owner, mine } = reg.ownership(req.channel);
        if (!mine) return redirect({ redirect: owner });
        if (await heldNowhere(reg, req.channel)) {
          return { kind: 'local', epoch: '', startSeq: req.afterSeq, gap: false, entries: ForwardedEntries.none };
        }
        let a = await reg.acquire(req.channel);
        // Another region holds more of our own stream in this epoch than we do: we lost state.
        if ('ok' in a && req.since === undefined && a.ok.regions.behindOwn(req.epoch, req.afterSeq)) {
          a = await reg.restartBehind(a.ok, { by: from, epoch: req.epoch, ownSeq: req.afterSeq });
        }
        if (!('ok' in a)) return redirect(a);
        return { kind: 'local', ...a.ok.regions.replayLocal(req.epoch, req.afterSeq, req.since, req.withMembers) };
      }
      case 'vectorRange': {
        const a = await reg.acquire(req.channel);
        if (!('ok' in a)) return redirect(a);
        const master = a.ok;
        return await atMaster(reg, master, async () => {
          // Up to the asking node's position, which the replica may have given it already
          // (a position of another epoch, if the node's is, waits at most for the batch in flight).
          if (!(await master.publishedTo({ epoch: master.epoch, serial: req.upto }))) return notPublishedYet(req.upto);
          const r = master.state.vectorRange(req.origins, Math.min(req.upto, master.position().serial), req.from ?? req.origins[0]?.region, reg.now());
          if (req.maxBytes !== undefined && r.entries.reduce((n, e) => n + entryBytes(e), 0) > req.maxBytes) return resumeTooLarge(req.maxBytes);
          // What a stream must reach back to for this client is on the replica before the
          // client is told it resumed (a master promoted after a failover knows it): also
          // where it did not change here, as its replication may still be under way
          // (another client's, or this client's first ask, timed out and asked again).
          if (r.gap === null && req.origins.some((o) => master.state.origins.reachBackOf(o.region))) await master.enqueue([]);
          return { kind: 'vector', entries: r.entries, gap: r.gap, ...(r.lost ? { lost: r.lost } : {}) };
        });
      }
      case 'sync':
        return reg.onSync(from, req.channel, req.snapshot, req.role);
      case 'claim':
        return await reg.onClaim(from, req.channel, req.probe === true, req.asked, req.recent === true);
    }
  } catch (err) {
    return { kind: 'error', error: toErrorInfo(err) };
  }
}
