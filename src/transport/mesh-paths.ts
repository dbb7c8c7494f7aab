/**
 * Paths around a cut link inside a region (the mesh transport's side of it).
 *
 * A region's nodes each link to every other. A cut that is not transitive (A and C cannot
 * reach each other, both reach B) would otherwise leave A and C disagreeing about each
 * other, and whatever one of them wants from the other (a channel's master, its
 * subscribers) stalls until the cut heals. So while a node doubts its link to a peer, it
 * sends each frame for that peer on the link as usual and also through up to two other
 * nodes that hear the peer on their own links (MeshRelay frames). The peer takes whichever
 * copy comes first.
 *
 * - **Doubt.** A node doubts its link to a peer when the link is not up, when it has not
 *   heard the peer on its own link for DOUBT_MS, or when the peer says (MeshHeard, sent
 *   every HEARD_EVERY_MS, itself relayed when in doubt) that it does not hear this node.
 * - **Relays.** A node R can carry frames for P if this node's link to R is up and R is
 *   heard, and R's fresh word says R hears P. The first two by name are used, so a
 *   stream of frames keeps to the same paths while they last.
 * - **Order, once.** Every frame a node sends to a peer, on the link or through a relay,
 *   carries one count (`seq`) per peer within the sender's session (its transport's life,
 *   a time-based number, so a restarted node's session is the larger). The receiver
 *   takes each sender's frames only in increasing order (InOrder): a copy that comes
 *   second is dropped, and so is a frame overtaken by a later one on the other path (the
 *   transport's contract is in order, at most once: a frame may be lost at a change of
 *   path, as at a reconnect). Bytes a cut link held and releases after the heal are
 *   older than what came around, and dropped the same way.
 * - Heartbeats go the same way, so membership sees a peer reached around a cut as up,
 *   and the region's views agree. A node cut from every peer has no relay: it is cut off,
 *   as before. A paused or dead peer is heard by none, so nothing is sent around for it.
 */
import type { NodeId } from './messages.js';

/** A peer not heard on its own link for this long is in doubt (two heartbeats and a bit). */
export const DOUBT_MS = 1200;
/** How often a node tells its peers which of them it hears. */
export const HEARD_EVERY_MS = 400;
/** A peer's word on whom it hears counts for this long. */
const REPORT_FRESH_MS = 2000;
/** Relays used per frame at most. */
const MAX_RELAYS = 2;

/** The sender's side: whom this node hears, what its peers say they hear, and so which paths to use. */
export class PeerPaths {
  private readonly heardAt = new Map<NodeId, number>();
  private readonly reports = new Map<NodeId, { heard: ReadonlySet<NodeId>; at: number }>();

  constructor(
    private readonly self: NodeId,
    /** Whether this node's own link to a peer is up (connected and authenticated). */
    private readonly linkUp: (peer: NodeId) => boolean,
    /** `false`: no way around is ever used (relaysFor is empty). */
    private readonly around = true,
  ) {}

  /** A frame came from `peer` on its own link. */
  heard(peer: NodeId, now: number): void {
    this.heardAt.set(peer, now);
  }

  /** Whether `peer` was heard on its own link within DOUBT_MS. */
  hears(peer: NodeId, now: number): boolean {
    const at = this.heardAt.get(peer);
    return at !== undefined && now - at <= DOUBT_MS;
  }

  /** The peers heard now (this node's MeshHeard). */
  hearing(now: number): NodeId[] {
    return [...this.heardAt.keys()].filter((p) => this.hears(p, now)).sort();
  }

  /** `peer` says it hears these (on their own links). */
  report(peer: NodeId, heard: readonly NodeId[], now: number): void {
    this.reports.set(peer, { heard: new Set(heard), at: now });
  }

  private fresh(peer: NodeId, now: number): ReadonlySet<NodeId> | null {
    const r = this.reports.get(peer);
    return r && now - r.at <= REPORT_FRESH_MS ? r.heard : null;
  }

  /** Whether this node's own link to `peer` may not be carrying its frames. */
  doubts(peer: NodeId, now: number): boolean {
    if (!this.linkUp(peer) || !this.hears(peer, now)) return true;
    const theirs = this.fresh(peer, now);
    return theirs !== null && !theirs.has(this.self);
  }

  /** The nodes that can carry frames for `peer` now (none: there is no way around). */
  relaysFor(peer: NodeId, now: number): NodeId[] {
    const out: NodeId[] = [];
    if (!this.around) return out;
    for (const r of [...this.reports.keys()].sort()) {
      if (r === peer || r === this.self || !this.linkUp(r) || !this.hears(r, now)) continue;
      if (!this.fresh(r, now)?.has(peer)) continue;
      out.push(r);
      if (out.length === MAX_RELAYS) break;
    }
    return out;
  }

  /** A peer was removed: forget it. */
  forget(peer: NodeId): void {
    this.heardAt.delete(peer);
    this.reports.delete(peer);
  }
}

/**
 * The receiver's side: each sender's frames taken once, in increasing `seq` within its
 * newest session. Sessions of a sender only grow (a restart), so a frame of an older one
 * (a dead life's bytes, released late) is dropped.
 */
export class InOrder {
  private readonly from = new Map<NodeId, { session: number; last: number }>();

  /** Whether to take this frame; if so it is counted as taken. */
  accept(sender: NodeId, session: number, seq: number): boolean {
    const at = this.from.get(sender);
    if (!at || session > at.session) {
      this.from.set(sender, { session, last: seq });
      return true;
    }
    if (session < at.session || seq <= at.last) return false;
    at.last = seq;
    return true;
  }

  forget(sender: NodeId): void {
    this.from.delete(sender);
  }
}

/** A session number for this transport's life: later lives get larger ones. */
export function newSession(now = Date.now()): number {
  return now * 1024 + Math.floor(Math.random() * 1024);
}

/** The head of a MeshFrame carrying an encoded Envelope of `length` bytes (its bytes follow by reference). */
export function envelopeFrameHead(seq: number, length: number): Uint8Array {
  const out: number[] = [0x08];
  varint(out, seq);
  out.push(0x12);
  varint(out, length);
  return Uint8Array.from(out);
}

function varint(out: number[], n: number): void {
  while (n > 0x7f) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}
