/**
 * Membership of a region: a pure failure detector over heartbeats, with incarnation
 * numbers. Time is an argument everywhere, so tests drive it by hand: node.ts gives the
 * monotonic clock, so that a step of the wall clock is not a silence or a freeze, and the
 * wall clock (its region time) for new incarnations.
 *
 * - A member is `up` while heartbeats arrive, `suspect` after `suspectAfterMs` of
 *   silence (or when its link drops), `down` after `downAfterMs` (with a majority up, below;
 *   or at once when the transport says its process is gone), `left` when it said goodbye.
 * - Incarnations tell a restarted node from its earlier self: a heartbeat with a higher
 *   incarnation is a new life (the old one is reported down first). A member that is
 *   `down` stays down at that incarnation: its heartbeats are ignored until it comes back
 *   as a new life. A node that hears itself named at an incarnation above its own (an
 *   earlier life, begun while its clock was further on) takes a life above it. A node
 *   therefore takes a new incarnation, and drops what it held as
 *   if restarted (`selfReset`), whenever it may have been declared down: when it finds
 *   it was frozen longer than `downAfterMs` (SIGSTOP, a long stall) while some peer was
 *   alive to notice, when a peer that has quorum reports it down, when a peer it holds
 *   down holds it down too and it is the one of the two to yield (onHeartbeat), and (the
 *   node decides) when it loses quorum.
 * - A node declares a silent peer down only while a majority of the region is `up` (heard
 *   within `suspectAfterMs`, not merely suspect), and has been for `suspectAfterMs`. Cut
 *   off, a node hears all its peers go quiet at once, and the timeout that expires first is
 *   not news: told "with quorum" (the others only suspect), it would make a healthy peer
 *   drop its state just as the majority declares the cut-off node down, which then resets
 *   too (two copies of a channel gone). A member silent past `downAfterMs` without such a
 *   majority is `overdue`: still suspect (in the ring, told as suspect, nothing forgotten),
 *   but no longer counted for quorum, so a cut-off node still loses quorum in time, and
 *   taken as down, unheard, when it resets (so a link that heals later than the others
 *   does not turn the silence of its old life into a verdict). The wait after the majority
 *   comes back lets heartbeats held by a healed link arrive.
 * - The ring is built from `up` and `suspect` members, so a blip does not move channels.
 * - Quorum: a node serves as channel master only while it sees more than half of the
 *   members it knows of (those that have not left). An isolated node therefore stops
 *   ordering messages instead of forking the channel's history.
 * - Nodes of another protocol version (`protocol-version.ts`) cannot be linked to, but
 *   they are alive. A member that proves it (the cluster secret, in another version) is
 *   out of reach while it is heard of, even if we still had it up, and alive in its
 *   record from then on, whatever we thought of it before (left, or dead after a stop):
 *   like any member out of reach, only a refused connection makes it dead again. One we
 *   have no record of (it joined while we were away) counts while it is heard of. So a
 *   region whose nodes are moved to a new version one by one never has a majority on
 *   both sides. (Builds speaking node protocol 0 or 1 do not do the same for us: moving
 *   a region from one of those node by node is not safe.)
 */
import type { Heartbeat, MemberInfo, MemberState, NodeAddress, NodeId } from '../transport/messages.js';

export const HEARTBEAT_INTERVAL_MS = 500;

export interface MembershipTimeouts {
  heartbeatIntervalMs: number;
  /** Silence before a member is suspect: four missed heartbeats. */
  suspectAfterMs: number;
  /** Silence before a member is down: eight missed heartbeats. */
  downAfterMs: number;
}

/** Timeouts derived from the heartbeat interval. */
export function deriveTimeouts(heartbeatIntervalMs = HEARTBEAT_INTERVAL_MS): MembershipTimeouts {
  return {
    heartbeatIntervalMs,
    suspectAfterMs: heartbeatIntervalMs * 4,
    downAfterMs: heartbeatIntervalMs * 8,
  };
}

export type MembershipEvent =
  | { type: 'peerUp'; node: NodeId; incarnation: number; address: NodeAddress }
  | { type: 'peerSuspect'; node: NodeId; reason: string }
  | { type: 'peerDown'; node: NodeId; reason: string }
  | { type: 'peerLeft'; node: NodeId }
  /** A node we had not heard of was named by a peer: dial it. */
  | { type: 'peerDiscovered'; node: NodeId; address: NodeAddress }
  /** We were frozen, but no live peer could have declared us down: nothing to drop. */
  | { type: 'frozen'; gapMs: number }
  /** We may have been declared down while alive: we took a new incarnation; drop all state. */
  | { type: 'selfReset'; incarnation: number; reason: string };

interface Member {
  node: NodeId;
  incarnation: number;
  state: MemberState;
  address: NodeAddress;
  lastHeard: number;
  /** Whether we have ever heard this incarnation directly (static members start unheard). */
  heard: boolean;
  /**
   * Known dead: after we had heard it, its port refused connections (a killed process, not
   * a partition); or, for a member that left, its link closed after the goodbye. A dead
   * member does not count for quorum, so a region of two survives the death of one; it
   * counts again once it comes back as a new incarnation.
   */
  gone?: boolean;
  /** Suspect, silent past `downAfterMs`, but not declared down: no majority was up to back it. */
  overdue?: boolean;
  /** Down, and heard holding this node down too (in the life we hold dead): since when, without a break, and last. */
  mutualSince?: number;
  mutualLast?: number;
}

export class Membership {
  private readonly members = new Map<NodeId, Member>();
  private incarnation: number;
  private leaving = false;
  private lastTick: number | undefined;
  /** Since when a majority has been up (heard within `suspectAfterMs`); unset while not. */
  private majoritySince: number | undefined;
  /** Our own recent lateness: how late each tick came (ms), for the last `downAfterMs`. */
  private lags: { at: number; ms: number }[] = [];
  /** Nodes that proved they belong to the region but speak another protocol: when last heard. */
  private readonly otherVersions = new Map<NodeId, { protocol: number; at: number }>();

  constructor(
    readonly self: NodeId,
    private readonly address: NodeAddress,
    readonly timeouts: MembershipTimeouts,
    /** Start at the current time, so that a restarted node always has a higher incarnation. */
    incarnation: number,
    /**
     * The wall clock, for new incarnations (reset). The times the other methods are given
     * measure durations only, and should come from a clock no step of the wall clock moves
     * (node.ts gives the monotonic clock); by default incarnations take those times.
     */
    private readonly wall?: () => number,
  ) {
    this.incarnation = incarnation;
  }

  get selfIncarnation(): number {
    return this.incarnation;
  }

  /** A member named in the topology file: known, not yet heard (counts for quorum). */
  addStatic(node: NodeId, address: NodeAddress, now: number): void {
    if (node === this.self || this.members.has(node)) return;
    this.members.set(node, { node, incarnation: 0, state: 'down', address, lastHeard: now, heard: false });
  }

  /** The heartbeat this node sends now. */
  heartbeat(): Heartbeat {
    return {
      type: 'heartbeat',
      node: this.self,
      incarnation: this.incarnation,
      address: this.address,
      members: this.view(),
      leaving: this.leaving,
      quorum: this.hasQuorum(),
    };
  }

  /**
   * Starts a new life: a higher incarnation. Peers that had this node down accept it
   * again; what it held before must be dropped by the caller.
   */
  reset(now: number, reason: string, above = 0): MembershipEvent {
    this.incarnation = Math.max(this.incarnation + 1, this.wall?.() ?? now, above + 1);
    // The new life starts now: a freeze that ended in this reset is not counted again.
    this.lastTick = now;
    // Our verdicts that peers were down guarded channels we took from them; we hold none
    // now, so a peer we had down may come back in the life we last saw (and we say
    // nothing of it in gossip until we hear from it). One silent past the timeout is taken
    // as down the same way: its silence was measured in the life that ended (cut off, we
    // heard nobody), and must not become a verdict once a majority is back, if the link
    // to it heals later than the others.
    // The silence of the members still up or suspect was measured in the life that ended
    // too: a reset on waking from a freeze (the gossip read first said we were declared
    // down) left it counting, and the next tick declared down a healthy peer not yet heard
    // since, which obeyed, our quorum being back, and dropped its channels (chaos seed
    // 3644). They get a fresh timeout, as the tick that finds a freeze gives them, and a
    // verdict needs a majority seen in this life.
    for (const m of this.members.values()) {
      if (m.state === 'suspect' && m.overdue) {
        this.become(m, 'down');
      }
      if (m.state === 'down' && !m.gone) m.heard = false;
      if (m.heard && m.state !== 'down' && m.state !== 'left') m.lastHeard = Math.max(m.lastHeard, now);
    }
    this.majoritySince = undefined;
    this.lags = [];
    return { type: 'selfReset', incarnation: this.incarnation, reason };
  }

  setLeaving(): void {
    this.leaving = true;
  }

  view(): MemberInfo[] {
    const out: MemberInfo[] = [
      { node: this.self, incarnation: this.incarnation, state: this.leaving ? 'left' : 'up', address: this.address },
    ];
    for (const m of this.members.values()) {
      out.push({ node: m.node, incarnation: m.heard ? m.incarnation : 0, state: m.state, address: m.address });
    }
    return out;
  }

  /** Applies a heartbeat received from `hb.node`. */
  onHeartbeat(hb: Heartbeat, now: number): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    if (hb.node === this.self) return events;
    let m = this.members.get(hb.node);
    if (hb.leaving) {
      if (m && m.state !== 'left' && hb.incarnation >= m.incarnation) {
        // One we had down may have no link from us: it is not asked while it drains.
        if (m.state === 'down') m.gone = true;
        this.become(m, 'left');
        m.incarnation = hb.incarnation;
        events.push({ type: 'peerLeft', node: hb.node });
      } else if (!m) {
        this.members.set(hb.node, { node: hb.node, incarnation: hb.incarnation, state: 'left', address: hb.address, lastHeard: now, heard: true, gone: true });
      }
      return events;
    }
    // A heartbeat from a life we hold dead (or an older one) is stale: a partition may hold
    // bytes and deliver them after it heals. What it says about us, or anyone, is no news,
    // but for one thing: that it still holds us dead too, heard without a break for
    // `suspectAfterMs` (not a burst of held bytes its next life follows). Two nodes that
    // lost each other while both kept a majority (a partial partition) would otherwise
    // ignore each other for good. The one that sees fewer members up starts over (the
    // lower name if even): cut from two peers, a node is the one they both have down, and
    // it alone resets rather than both of them. Its new life is news to the other, and it
    // takes the other back up below.
    if (m && m.heard && (hb.incarnation < m.incarnation || (hb.incarnation === m.incarnation && (m.state === 'down' || m.state === 'left')))) {
      if (hb.incarnation !== m.incarnation || m.state !== 'down' || !this.saysWeAreDown(hb)) return events;
      if (m.mutualSince === undefined || now - (m.mutualLast ?? now) > 2 * this.timeouts.heartbeatIntervalMs) m.mutualSince = now;
      m.mutualLast = now;
      if (now - m.mutualSince < this.timeouts.suspectAfterMs || !this.yieldsTo(hb)) return events;
      events.push(this.reset(now, `${hb.node} and this node declared each other down; this one sees fewer members up, or as many and has the lower name`));
    }
    // Heard over a link, in a life we take: it speaks our version now.
    this.otherVersions.delete(hb.node);
    if (!m) {
      m = { node: hb.node, incarnation: hb.incarnation, state: 'up', address: hb.address, lastHeard: now, heard: true };
      this.members.set(hb.node, m);
      events.push({ type: 'peerUp', node: hb.node, incarnation: hb.incarnation, address: hb.address });
    } else if (hb.incarnation > m.incarnation) {
      // A new life: whatever the old one held is gone.
      if (m.heard && (m.state === 'up' || m.state === 'suspect')) {
        events.push({ type: 'peerDown', node: m.node, reason: `restarted (incarnation ${m.incarnation} → ${hb.incarnation})` });
      }
      m.incarnation = hb.incarnation;
      this.become(m, 'up');
      m.address = hb.address;
      m.lastHeard = now;
      m.heard = true;
      m.gone = false;
      events.push({ type: 'peerUp', node: hb.node, incarnation: hb.incarnation, address: hb.address });
    } else if (hb.incarnation === m.incarnation) {
      if (m.state === 'suspect') {
        this.become(m, 'up');
        events.push({ type: 'peerUp', node: hb.node, incarnation: hb.incarnation, address: hb.address });
      } else if (m.state === 'down' && !m.heard) {
        this.become(m, 'up');
        m.heard = true;
        events.push({ type: 'peerUp', node: hb.node, incarnation: hb.incarnation, address: hb.address });
      }
      // down at this incarnation stays down until the node refutes with a new one;
      // left stays left.
      if (m.state === 'up') m.lastHeard = now;
    }
    // Gossip: learn of members we have not heard of, and whether we were declared down.
    if (this.saysWeAreDown(hb)) events.push(this.reset(now, `declared down by ${hb.node}`));
    // A peer that knows us at a higher incarnation knew an earlier life of ours, begun when
    // our wall clock was further on (it was stepped back since: a node restarted after NTP
    // corrected a fast clock). Peers hold that life's heartbeats as news and ours as stale
    // (below it) for good: we take a life above it. (Before the forty-second session such a
    // node stayed out of its peers' ring while it took theirs for its own, its claims
    // unanswered.)
    const known = this.leaving ? undefined : hb.members.find((info) => info.node === this.self && info.incarnation > this.incarnation);
    if (known) events.push(this.reset(now, `${hb.node} knows this node at incarnation ${known.incarnation}, above this life's (our clock went back)`, known.incarnation));
    for (const info of hb.members) {
      if (info.node === this.self) continue;
      if (!this.members.has(info.node) && info.state !== 'left') {
        this.members.set(info.node, {
          node: info.node,
          incarnation: 0,
          state: 'down',
          address: info.address,
          lastHeard: now,
          heard: false,
        });
        events.push({ type: 'peerDiscovered', node: info.node, address: info.address });
      }
    }
    return events;
  }

  /**
   * Whether `hb` declares this life of ours down. Only a peer with quorum can have moved
   * our channels away; one without it (isolated, or just back from a pause) has a stale
   * view we must not obey.
   */
  private saysWeAreDown(hb: Heartbeat): boolean {
    if (!hb.quorum || this.leaving) return false;
    return hb.members.some((info) => info.node === this.self && info.state === 'down' && info.incarnation === this.incarnation);
  }

  /** Moves a member to `state`; what was noted of its last state (overdue, a mutual verdict) goes with it. */
  private become(m: Member, state: MemberState): void {
    m.state = state;
    m.overdue = undefined;
    m.mutualSince = undefined;
    m.mutualLast = undefined;
  }

  /** Of two nodes holding each other down, whether this one starts over (each side decides alike). */
  private yieldsTo(hb: Heartbeat): boolean {
    const upIn = (members: MemberInfo[]) => members.filter((i) => i.state === 'up' || i.state === 'suspect').length;
    const ours = upIn(this.view());
    const theirs = upIn(hb.members);
    return ours < theirs || (ours === theirs && this.self < hb.node);
  }

  /** Advances timeouts. Call at least every heartbeat interval. */
  tick(now: number): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    const gap = this.lastTick === undefined ? 0 : now - this.lastTick;
    this.lastTick = now;
    if (gap >= this.timeouts.downAfterMs) {
      // We were frozen: the silence is ours, not the peers'. Give them a fresh timeout.
      // If a live peer may have declared us down meanwhile, start a new life. If none
      // could have (a region of one, or every peer already down), our state is still
      // the only and rightful copy: dropping it would lose acknowledged messages.
      let watched = false;
      for (const m of this.members.values()) {
        if (!m.heard) continue;
        m.lastHeard = now;
        if (m.state === 'up' || (m.state === 'suspect' && !m.overdue)) watched = true;
      }
      for (const v of this.otherVersions.values()) v.at = now;
      events.push(watched ? this.reset(now, `frozen for ${gap} ms`) : { type: 'frozen', gapMs: gap });
      return events;
    }
    // Local health (as in SWIM's Lifeguard): while our own event loop runs late, peers'
    // heartbeats may be waiting unread in our queues, so the silence we measure is
    // inflated by up to our lateness. Allow for the worst of it over the last down period.
    for (const [node, v] of this.otherVersions) if (now - v.at >= this.timeouts.downAfterMs) this.otherVersions.delete(node);
    const allowance = this.lagAllowance(now, gap);
    const silent = (m: Member) => now - m.lastHeard - allowance;
    for (const m of this.members.values()) {
      if (m.heard && m.state === 'up' && silent(m) >= this.timeouts.suspectAfterMs) {
        this.become(m, 'suspect');
        events.push({ type: 'peerSuspect', node: m.node, reason: `no heartbeat for ${now - m.lastHeard} ms` });
      }
    }
    if (!this.majority(false)) this.majoritySince = undefined;
    else this.majoritySince ??= now;
    const backed = this.majoritySince !== undefined && now - this.majoritySince >= this.timeouts.suspectAfterMs;
    for (const m of this.members.values()) {
      if (!m.heard || m.state !== 'suspect' || silent(m) < this.timeouts.downAfterMs) continue;
      if (backed) {
        this.become(m, 'down');
        events.push({ type: 'peerDown', node: m.node, reason: `no heartbeat for ${now - m.lastHeard} ms` });
      } else if (!m.overdue) {
        m.overdue = true;
        events.push({ type: 'peerSuspect', node: m.node, reason: `no heartbeat for ${now - m.lastHeard} ms, but no majority of the region up to declare it down` });
      }
    }
    return events;
  }

  private lagAllowance(now: number, gap: number): number {
    const lag = gap - this.timeouts.heartbeatIntervalMs;
    if (lag > 0) this.lags.push({ at: now, ms: lag });
    while (this.lags.length && now - this.lags[0]!.at > this.timeouts.downAfterMs) this.lags.shift();
    let worst = 0;
    for (const l of this.lags) worst = Math.max(worst, l.ms);
    return worst;
  }

  /**
   * The transport lost its link to the peer: suspect it now rather than after the
   * timeout. A peer that said goodbye and then closed its link has finished leaving.
   */
  onLinkDown(node: NodeId, reason: string): MembershipEvent[] {
    const m = this.members.get(node);
    if (m?.state === 'left') m.gone = true;
    if (!m || m.state !== 'up') return [];
    this.become(m, 'suspect');
    return [{ type: 'peerSuspect', node, reason }];
  }

  /** The transport knows the peer's process is gone (its port refuses connections). */
  onPeerGone(node: NodeId): MembershipEvent[] {
    const m = this.members.get(node);
    if (!m || !m.heard) return [];
    m.gone = true;
    this.otherVersions.delete(node);
    if (m.state !== 'up' && m.state !== 'suspect') return [];
    this.become(m, 'down');
    return [{ type: 'peerDown', node, reason: 'process gone (connection refused)' }];
  }

  /**
   * A node of this region that speaks another protocol version proved it is alive (its
   * link refused). A member is then alive in its record too: not dead, not gone for good
   * (a member that left is down), and only proof of death (a refused connection) makes
   * it so again, not silence, as for any member out of reach; so a partition later does
   * not bring back an older verdict. One we have no record of counts while it is heard of.
   */
  onOtherVersion(node: NodeId, protocol: number, now: number): void {
    if (node === this.self) return;
    this.otherVersions.set(node, { protocol, at: now });
    const m = this.members.get(node);
    if (!m) return;
    m.gone = false;
    if (m.state === 'left') this.become(m, 'down');
  }

  /** Nodes of another protocol version heard of within `downAfterMs` (tick() forgets older ones). */
  otherVersionsAlive(): { node: NodeId; protocol: number }[] {
    return [...this.otherVersions].map(([node, v]) => ({ node, protocol: v.protocol }));
  }

  /** Operator action: forget a member for good (it will not come back). */
  forget(node: NodeId): boolean {
    return this.members.delete(node);
  }

  state(node: NodeId): MemberState | undefined {
    if (node === this.self) return this.leaving ? 'left' : 'up';
    return this.members.get(node)?.state;
  }

  /** Whether a peer is suspect past the down timeout, with no majority up to declare it down (`/health`). */
  isOverdue(node: NodeId): boolean {
    return this.members.get(node)?.overdue === true;
  }

  /** The members as `/health` shows them: each one's state and incarnation, and `overdue` (isOverdue). */
  healthView(): { node: NodeId; state: MemberState; incarnation: number; overdue?: true }[] {
    return this.view().map((m) => ({ node: m.node, state: m.state, incarnation: m.incarnation, ...(this.isOverdue(m.node) ? { overdue: true as const } : {}) }));
  }

  incarnationOf(node: NodeId): number | undefined {
    return node === this.self ? this.incarnation : this.members.get(node)?.incarnation;
  }

  addressOf(node: NodeId): NodeAddress | undefined {
    return node === this.self ? this.address : this.members.get(node)?.address;
  }

  /** Members the ring is built from: self (unless leaving), up and suspect peers. */
  ringMembers(): NodeId[] {
    const out: NodeId[] = this.leaving ? [] : [this.self];
    for (const m of this.members.values()) if (m.state === 'up' || m.state === 'suspect') out.push(m.node);
    return out;
  }

  /**
   * Peers that said goodbye and are still linked: draining, they may still hold channel
   * state they are handing over (out of the ring, but worth asking in a claim).
   */
  leavingPeers(): NodeId[] {
    const out: NodeId[] = [];
    for (const m of this.members.values()) if (m.state === 'left' && !m.gone) out.push(m.node);
    return out;
  }

  /** Whether this node sees a majority of the members that have not left (suspects count, unless overdue). */
  hasQuorum(): boolean {
    return this.majority(true);
  }

  private majority(withSuspects: boolean): boolean {
    // Alive in another version: known, whatever its member state says, and out of reach.
    const other = new Set(this.otherVersionsAlive().map((o) => o.node));
    let known = 1 + other.size;
    let reachable = 1;
    for (const m of this.members.values()) {
      if (other.has(m.node) || m.state === 'left' || (m.state === 'down' && m.gone)) continue;
      known++;
      if (m.state === 'up' || (withSuspects && m.state === 'suspect' && !m.overdue)) reachable++;
    }
    return reachable * 2 > known;
  }

  peers(): MemberInfo[] {
    return this.view().slice(1);
  }
}
