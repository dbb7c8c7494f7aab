/**
 * A channel's presence set: members keyed by connectionId + clientId (Ably TP3h), each
 * with the node hosting its connection and, when that connection has gone, the time it
 * leaves unless it comes back. Pure: the channel master decides events with it, and
 * every holder (replica, channel clients) applies the same events to the same effect.
 */
import { PresenceAction } from '../protocol/actions.js';
import type { PresenceMessage } from '../protocol/message.js';
import type { NodeId, PresenceHostCount } from '../transport/messages.js';
import type { PresenceHold } from './snapshot.js';

export interface PresenceMember {
  /** The member's latest ENTER/UPDATE (its id and timestamp decide newness in the SDKs). */
  message: PresenceMessage;
  host: NodeId;
  /** When the member leaves if its connection does not come back (ms), or null. */
  leaveAt: number | null;
  /**
   * The connection's version at `host`: its record's when that node took it, new or
   * resumed (ConnectionDirectory.put). A node the connection moved to has a greater one,
   * so what a node it has left says of it comes with a smaller one. 0: not known (a
   * member of another region, or said by a build before it).
   */
  since: number;
}

/**
 * How a hold is said (PresenceSet.hold). `now`: a leave at once (the client closed or
 * detached), whichever node says it. `since`: the connection's version at the node that
 * says it (PresenceMember.since; 0: not known). `mirror`: a replica applying what its
 * master did, as it is.
 */
export interface HoldHow {
  now?: boolean;
  since?: number;
  mirror?: boolean;
}

/** What a hold did: changed the members, left them as they were, or came from a node their connection has left (nothing changed). */
export type HoldResult = 'changed' | 'same' | 'stale';

export function memberKey(m: { connectionId: string; clientId: string }): string {
  return `${m.connectionId}:${m.clientId}`;
}

/**
 * The host under which a member of another region is kept: no node here holds its
 * connection, so only its region removes it (its LEAVE, or the set it sends with a start
 * of its stream here). Older builds kept such members under ''.
 */
export function remoteHost(region: string): string {
  return `@${region}`;
}

/**
 * A LEAVE the service says for a member (its connection gone, or its region's set no longer
 * holding it). Its id does not start with the member's connectionId, which marks it as
 * synthesized: the SDKs then compare it by timestamp (`at`, and never older than `m`; a tie
 * goes to the one that arrives later, RTP2b1a). `at` must be of the clock that stamps the
 * member's later events: for a member of another region, that region's (remoteLeave).
 */
export function synthesizedLeave(m: PresenceMessage, id: string, at: number): PresenceMessage {
  const timestamp = Math.max(at, m.timestamp);
  const ev: PresenceMessage = { id, action: PresenceAction.LEAVE, clientId: m.clientId, connectionId: m.connectionId, timestamp };
  if (m.data !== undefined) ev.data = m.data;
  if (m.encoding !== undefined) ev.encoding = m.encoding;
  return ev;
}

/**
 * The LEAVE said for another region's member that a start of its stream here no longer
 * holds (ChannelState.syncMembersOf). It carries that region's clock: the timestamp of the
 * event it ends. The SDKs compare a synthesized LEAVE by timestamp, a tie going to the one
 * that arrives later (RTP2b1, RTP2b1a): the LEAVE ends what they hold, and whatever that
 * region says of the member after it (an ENTER again under the same id, RTP17g, or the
 * same event again in a start from an older copy) ends the LEAVE. Stamped with this
 * region's clock when the start came, it was later than such an ENTER stamped there
 * before: an SDK that took both during a SYNC (a subscriber catching up across the
 * restart) kept the LEAVE and lost the member (chaos seed 3741).
 */
export function remoteLeave(m: PresenceMessage, id: string): PresenceMessage {
  return synthesizedLeave(m, id, m.timestamp);
}

/** Whether a member's host is a node of this region (not another region's member). */
function isLocalHost(host: string): boolean {
  return host !== '' && !host.startsWith('@');
}

export class PresenceSet {
  private readonly members = new Map<string, PresenceMember>();

  get size(): number {
    return this.members.size;
  }

  has(key: string): boolean {
    return this.members.has(key);
  }

  /**
   * How many members there would be after `ops` (one ProtocolMessage's, in order), at most:
   * the member limit is checked for them all before any is applied, so a message past it
   * is refused whole (before, its first ops stayed in the set, never sent on or replicated).
   */
  sizeAfter(ops: readonly PresenceMessage[]): number {
    let size = this.members.size;
    const now = new Map<string, boolean>();
    for (const op of ops) {
      const key = memberKey(op);
      const present = now.get(key) ?? this.members.has(key);
      const stays = op.action !== PresenceAction.LEAVE;
      if (present !== stays) size += stays ? 1 : -1;
      now.set(key, stays);
    }
    return size;
  }

  /**
   * The event an operation produces, or null when it changes nothing: a repeat of the
   * member's current ENTER/UPDATE (same id), or a LEAVE of someone not present. An
   * ENTER of a present member is an UPDATE; an UPDATE of an absent one an ENTER.
   */
  decide(op: PresenceMessage): PresenceMessage | null {
    const existing = this.members.get(memberKey(op));
    if (op.action === PresenceAction.LEAVE) {
      if (!existing) return null;
      const ev: PresenceMessage = { ...op, action: PresenceAction.LEAVE };
      if (ev.data === undefined && existing.message.data !== undefined) {
        ev.data = existing.message.data;
        if (existing.message.encoding !== undefined) ev.encoding = existing.message.encoding;
      }
      return ev;
    }
    if (existing && existing.message.id === op.id) return null;
    return { ...op, action: existing ? PresenceAction.UPDATE : PresenceAction.ENTER };
  }

  /**
   * Applies an event (from `decide`, or from the stream), of a connection at `host` whose
   * version there is `since` (not known: 0, and a member kept at the same host keeps its own).
   */
  apply(ev: PresenceMessage, host: NodeId, since = 0): void {
    const key = memberKey(ev);
    if (ev.action === PresenceAction.LEAVE || ev.action === PresenceAction.ABSENT) {
      this.members.delete(key);
      return;
    }
    const was = this.members.get(key);
    this.members.set(key, { message: ev, host, leaveAt: null, since: was && was.host === host && was.since > since ? was.since : since });
  }

  /**
   * Members of one connection come back (null) or will leave at `leaveAt`, as `host` (the
   * node that says so; null: the node their host was, gone) says (HoldHow). What a node
   * the connection has left says changes nothing: its word can arrive after the word of
   * the node the connection resumed on (the old node cut off from its region, then back),
   * and members whose clients were still there left 15 s later.
   * - A member kept at a greater version than `since` shows it is such a node's, whatever
   *   it says (`stale`): a "they are here" it sent while cut off, arriving after the new
   *   node's, took the members back, and its "they leave" then applied (chaos seed 3841).
   * - Otherwise (and at the same version, or where a version is not known) a leave from a
   *   node other than the members' host changes nothing (chaos seed 1220), unless `now`.
   */
  hold(connectionId: string, host: NodeId | null, leaveAt: number | null, how: HoldHow = {}): HoldResult {
    const since = how.since ?? 0;
    const members: PresenceMember[] = [];
    for (const m of this.members.values()) {
      if (m.message.connectionId !== connectionId) continue;
      if (!how.mirror && since > 0 && m.since > since) return 'stale';
      members.push(m);
    }
    let changed = false;
    for (const m of members) {
      const newer = since > 0 && m.since > 0 && since > m.since;
      if (!how.mirror && !how.now && !newer && leaveAt !== null && host !== null && m.host !== host) continue;
      if (m.leaveAt !== leaveAt) {
        m.leaveAt = leaveAt;
        changed = true;
      }
      if (host !== null && m.host !== host) {
        m.host = host;
        changed = true;
      }
      if (since > m.since) {
        m.since = since;
        changed = true;
      }
    }
    return changed ? 'changed' : 'same';
  }

  /**
   * A replica: the holds its master applied, as they are, from index `from` while each was
   * made at or before log serial `serial` (PresenceHold.after; without one, before any
   * entry). Returns the index of the first left (ChannelState.applyEntries: the master's order).
   */
  mirror(holds: readonly PresenceHold[], from = 0, serial = Infinity): number {
    let i = from;
    for (; i < holds.length && (holds[i]!.after ?? -1) <= serial; i++) {
      const h = holds[i]!;
      this.hold(h.connectionId, h.host, h.leaveAt, { mirror: true, since: h.since ?? 0 });
    }
    return i;
  }

  /** The nodes of this region that host members' connections. */
  hosts(): Set<NodeId> {
    const out = new Set<NodeId>();
    for (const m of this.members.values()) if (isLocalHost(m.host)) out.add(m.host);
    return out;
  }

  /** This region's members per node holding their connections, by node name (ChannelStatus). */
  hostCounts(): PresenceHostCount[] {
    const by = new Map<string, PresenceHostCount>();
    for (const m of this.members.values()) {
      if (!isLocalHost(m.host)) continue;
      let c = by.get(m.host);
      if (!c) by.set(m.host, (c = { host: m.host, members: 0, leaving: 0 }));
      c.members++;
      if (m.leaveAt !== null) c.leaving++;
    }
    return [...by.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  /** Connections with members hosted on `host` (whose node died). */
  connectionsOn(host: NodeId): string[] {
    const out = new Set<string>();
    for (const m of this.members.values()) if (m.host === host && m.leaveAt === null) out.add(m.message.connectionId);
    return [...out];
  }

  /** This region's own members (those whose connections its nodes hold). */
  own(): PresenceMessage[] {
    const out: PresenceMessage[] = [];
    for (const m of this.members.values()) if (isLocalHost(m.host)) out.push(m.message);
    return out;
  }

  /** The members kept under `host` (another region's: remoteHost). */
  hostedOn(host: string): PresenceMember[] {
    const out: PresenceMember[] = [];
    for (const m of this.members.values()) if (m.host === host) out.push(m);
    return out;
  }

  /**
   * What takes the members kept under `host` to exactly `members`: those it holds that
   * `members` lacks (`gone`: they leave), and the events of `members` (`changed`: each an
   * ENTER or UPDATE; one this set already has as it is says nothing).
   */
  differences(host: string, members: readonly PresenceMessage[]): { gone: PresenceMessage[]; changed: PresenceMessage[] } {
    const kept = new Set(members.map(memberKey));
    const gone = this.hostedOn(host).filter((m) => !kept.has(memberKey(m.message))).map((m) => m.message);
    const changed: PresenceMessage[] = [];
    for (const m of members) {
      const ev = this.decide(m);
      if (ev) changed.push(ev);
    }
    return { gone, changed };
  }

  /** Members whose time to leave has come. */
  due(now: number): PresenceMember[] {
    const out: PresenceMember[] = [];
    for (const m of this.members.values()) if (m.leaveAt !== null && m.leaveAt <= now) out.push(m);
    return out;
  }

  list(filter: { clientId?: string; connectionId?: string } = {}): PresenceMessage[] {
    const out: PresenceMessage[] = [];
    for (const m of this.members.values()) {
      if (filter.clientId !== undefined && m.message.clientId !== filter.clientId) continue;
      if (filter.connectionId !== undefined && m.message.connectionId !== filter.connectionId) continue;
      out.push(m.message);
    }
    return out;
  }

  snapshot(): PresenceMember[] {
    return [...this.members.values()].map((m) => ({ ...m }));
  }

  static restore(members: readonly PresenceMember[]): PresenceSet {
    const s = new PresenceSet();
    for (const m of members) s.members.set(memberKey(m.message), { ...m });
    return s;
  }

  clear(): void {
    this.members.clear();
  }
}
