/**
 * The hub: this node's registry of channel clients, one per channel with local
 * attachments. It routes broadcasts to them and tells them when their master moved.
 */
import type { ChannelKey } from '../channel/entry.js';
import { ChannelClient, type ClientDeps } from '../channel/client.js';
import type { Broadcast, NodeId } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import { addToDigest, emptyDigest, type SubDigest } from '../channel/sub-digest.js';
import { AblyError } from '../errors.js';
import { memoryBudget } from '../memory-budget.js';

export interface HubDeps extends ClientDeps {
  ownerOf(key: ChannelKey): NodeId | null;
  /**
   * Sends a master the digest of the channels this node believes it is subscribed to
   * there; resolves null when it matches, else with the channels the master has.
   */
  audit(master: NodeId, digest: SubDigest): Promise<ChannelKey[] | null>;
  /** An audit found a subscription the master lacked (`missing`) or had but no client wanted (`leaked`). */
  onRepair?(kind: 'missing' | 'leaked'): void;
  /** For the audit's recheck windows: the monotonic clock (performance.now()) by default. */
  now?(): number;
}

/** `HubDeps.audit` over a node's RPC: the `subAudit` request to the master. */
export function auditOverRpc(rpc: Rpc, timeoutMs: number): HubDeps['audit'] {
  return async (master, digest) => {
    const body = await rpc.request(master, { type: 'subAudit', ...digest }, timeoutMs);
    return body.kind === 'subAudit' && !body.match ? body.channels : null;
  };
}

/**
 * A master this node unsubscribed from is audited this long after, even with no client
 * here pointing at it: a subscribe of this node's that it handles after the unsub (the
 * second of two sends, router.ts; one a relay held) would otherwise leave the node
 * subscribed, and its region's interest on, until some client pointed there again.
 */
const RECHECK_AFTER_UNSUB_MS = 10_000;
/** The master of a channel this node got broadcasts of with no client here is audited this long. */
const RECHECK_AFTER_STRAY_MS = 2_000;

export class Hub {
  private readonly clients = new Map<ChannelKey, ChannelClient>();
  /** Masters with an audit in flight. */
  private readonly auditing = new Set<NodeId>();
  /** Masters audited until the given time whether or not a client points at them (RECHECK_AFTER_UNSUB_MS). */
  private readonly recheck = new Map<NodeId, number>();

  constructor(private readonly deps: HubDeps) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * The channel's client on this node, made on first use; at the node's memory budget a
   * new one is refused (42910: its attach is DETACHED with it, and the SDK tries again),
   * unless `continuing`: an attach with a channelSerial, which a client had attached
   * before (its connection resumed here, and its old socket's close released the client).
   */
  client(key: ChannelKey, name: string, continuing = false): ChannelClient {
    let c = this.clients.get(key);
    if (!c) {
      if (!continuing && memoryBudget.isFull()) throw AblyError.of('rateLimited', `${memoryBudget.describe()}: it attaches no channel new to it until history expires`);
      const client: ChannelClient = new ChannelClient(key, name, { ...this.deps, unsub: (master, k) => this.unsub(client, master, k) });
      this.clients.set(key, (c = client));
    }
    return c;
  }

  /**
   * A client tells a master this node no longer listens. A released client may still
   * finish a subscribe and then unsubscribe, after a newer client of the same channel
   * subscribed there: the master counts subscriptions per node, so that unsub is dropped.
   */
  private unsub(from: ChannelClient, master: NodeId, key: ChannelKey): void {
    const live = this.clients.get(key);
    if (live && live !== from && live.listensAt(master)) {
      // Kept for the newer client, which may be subscribing elsewhere (listensAt): audited.
      this.recheckFor(master, RECHECK_AFTER_UNSUB_MS);
      return;
    }
    this.unsubAt(master, key);
  }

  /** Unsubscribes this node at a master, which is then audited for a while (RECHECK_AFTER_UNSUB_MS). */
  private unsubAt(master: NodeId, key: ChannelKey): void {
    this.deps.unsub(master, key);
    this.recheckFor(master, RECHECK_AFTER_UNSUB_MS);
  }

  private recheckFor(master: NodeId, ms: number): void {
    const until = this.now() + ms;
    if ((this.recheck.get(master) ?? 0) < until) this.recheck.set(master, until);
  }

  private now(): number {
    return this.deps.now?.() ?? performance.now();
  }

  /** An attachment's modes or params changed (in-band re-auth): occupancy counts its client's attachments again. */
  attachmentsChanged(client: ChannelClient): void {
    this.deps.occupancy?.changed(client);
  }

  get(key: ChannelKey): ChannelClient | undefined {
    return this.clients.get(key);
  }

  /** Drops a client with no subscribers left (and unsubscribes the node at the master). */
  release(key: ChannelKey, client: ChannelClient): void {
    if (client.subscriberCount > 0 || this.clients.get(key) !== client) return;
    this.clients.delete(key);
    client.close();
  }

  onBroadcast(from: NodeId, msg: Broadcast): void {
    const c = this.clients.get(msg.channel);
    if (!c) {
      // The master still has this node subscribed (a late subscribe after the unsub, a lost
      // unsub): the next audits ask it, and unsubscribe what no client here wants.
      // The sender too: the master as it sees the ring, or a replica (it has none to list).
      const master = this.deps.ownerOf(msg.channel);
      if (master !== null) this.recheckFor(master, RECHECK_AFTER_STRAY_MS);
      if (from !== master) this.recheckFor(from, RECHECK_AFTER_STRAY_MS);
      return;
    }
    c.heard(from);
    c.onBroadcast(msg.epoch, msg.entries, msg.discontinuity, msg.gapAt);
  }

  /** The ring changed: clients whose master is no longer the owner move to the new one. */
  onRingChange(): void {
    for (const [key, c] of this.clients) {
      const at = c.subscribedAt;
      if (at !== null && at !== this.deps.ownerOf(key)) c.resubscribe();
    }
  }

  /**
   * A node died, restarted or left: clients subscribed there move to the channel's new
   * owner; those it sent broadcasts to as a channel's replica ask their master again
   * (what it had not yet sent them is lost with it, and the master counts it as told).
   */
  onPeerDown(node: NodeId): void {
    for (const c of this.clients.values()) if (c.subscribedAt === node || c.heardFrom(node)) c.resubscribe();
  }

  /**
   * This node started a new incarnation: every master (its own, now dropped, and others',
   * which forgot it when they declared it down) has lost its subscriptions, so every
   * client subscribes afresh from its stream position.
   */
  onSelfReset(): void {
    for (const c of this.clients.values()) c.resubscribe();
  }

  /**
   * Checks this node's subscriptions with each master it is subscribed at: one digest per
   * master, and the lists only where they differ. A channel whose client believes it is
   * subscribed but the master does not have it (a race with a ring change, a stale unsub)
   * subscribes again and fills the gap from history, instead of waiting silently for
   * broadcasts that will not come. One the master has but no client here wants any more
   * (a lost unsub) is unsubscribed. So are masters this node lately unsubscribed from or
   * got stray broadcasts of, with no client pointing there (`recheck`). A master slow to
   * answer is not asked again meanwhile.
   */
  async audit(): Promise<void> {
    const digests = new Map<NodeId, SubDigest>();
    for (const c of this.clients.values()) {
      c.expireRecent();
      const master = c.auditPoint();
      if (master === null || this.auditing.has(master)) continue;
      let d = digests.get(master);
      if (!d) digests.set(master, (d = emptyDigest()));
      addToDigest(d, c.markAudited());
    }
    const now = this.now();
    for (const [master, until] of this.recheck) {
      if (until < now) this.recheck.delete(master);
      else if (!digests.has(master) && !this.auditing.has(master)) digests.set(master, emptyDigest());
    }
    await Promise.all([...digests].map(([master, d]) => this.auditAt(master, d)));
  }

  private async auditAt(master: NodeId, digest: SubDigest): Promise<void> {
    this.auditing.add(master);
    let theirs: ChannelKey[] | null;
    try {
      theirs = await this.deps.audit(master, digest);
    } catch {
      return; // unreachable: peer-down handling moves these clients; the next audit asks again
    } finally {
      this.auditing.delete(master);
    }
    if (theirs === null) return;
    const has = new Set(theirs);
    // Clients audited at this master and unchanged since, that the master lacks.
    for (const [key, c] of this.clients) if (!has.has(key) && c.notSubscribedAt(master)) this.deps.onRepair?.('missing');
    for (const key of has) {
      if (this.clients.get(key)?.listensAt(master)) continue;
      this.deps.log.warn({ channel: key, master }, 'the master has this node subscribed to a channel it no longer wants; unsubscribing');
      this.unsubAt(master, key);
      this.deps.onRepair?.('leaked');
    }
  }

  keys(): ChannelKey[] {
    return [...this.clients.keys()];
  }
}
