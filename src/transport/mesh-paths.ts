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
 *   A link's last frames are kept (its last 64; all of its last 2 s once the peer has not
 *   been heard for REMEMBER_AFTER_MS), and go around first once the link is doubted.
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

/** A peer not heard on its own link for this long is in doubt (five MeshHeard intervals). */
export const DOUBT_MS = 1000;
/** How often a node tells its peers which of them it hears (so a live link is never quiet longer). */
export const HEARD_EVERY_MS = 200;
/**
 * Frames sent to a peer not heard for this long are all kept (KeptFrames), to go
 * around the link if it turns out to be cut; before that only a link's last 64. On a live
 * link the peer is heard more often, and keeping every frame for seconds would make the
 * garbage collector copy them (the mesh's stream of small frames fell from 173 k to 52 k a
 * second when every frame was kept). So a busy link (more than 64 frames in 350 ms) may
 * lose some of what it sent at the very start of a cut (at most once).
 */
export const REMEMBER_AFTER_MS = 350;
/** A peer's word on whom it hears counts for this long. */
const REPORT_FRESH_MS = 2000;
/** Relays used per frame at most. */
const MAX_RELAYS = 2;

/** How a link stands (PeerPaths.standing). */
export enum Standing {
  Heard,
  Quiet,
  Doubted,
}

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
    return this.standing(peer, now, this.linkUp(peer)) === Standing.Doubted;
  }

  /**
   * How the link to `peer` stands, in one look (per frame sent): heard lately, quiet (not
   * heard for REMEMBER_AFTER_MS: its frames are all kept), or doubted (down, not heard for
   * DOUBT_MS, or the peer says it does not hear this node).
   */
  standing(peer: NodeId, now: number, linkUp: boolean): Standing {
    if (!linkUp) return Standing.Doubted;
    const at = this.heardAt.get(peer);
    const silent = at === undefined ? Infinity : now - at;
    if (silent > DOUBT_MS) return Standing.Doubted;
    const theirs = this.fresh(peer, now);
    if (theirs !== null && !theirs.has(this.self)) return Standing.Doubted;
    return silent > REMEMBER_AFTER_MS ? Standing.Quiet : Standing.Heard;
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
 * newest session. Sessions of a sender grow (a restart), so a frame of an older one (a
 * dead life's bytes, released late) is dropped; a handshake proves a life whatever its
 * session (a clock stepped back), and the lives it replaced stay over.
 */
export class InOrder {
  private readonly from = new Map<NodeId, { session: number; last: number; over: number[] }>();

  /** Whether to take this frame; if so it is counted as taken. */
  accept(sender: NodeId, session: number, seq: number): boolean {
    const at = this.from.get(sender);
    if (!at) {
      this.from.set(sender, { session, last: seq, over: [] });
      return true;
    }
    if (session === at.session) {
      if (seq <= at.last) return false;
      at.last = seq;
      return true;
    }
    if (session < at.session || at.over.includes(session)) return false;
    this.move(sender, at, session, seq);
    return true;
  }

  /** The sender's newer life: the one counted so far is over (a few are remembered, to drop their late frames). */
  private move(sender: NodeId, at: { session: number; over: number[] }, session: number, last: number): void {
    this.from.set(sender, { session, last, over: [at.session, ...at.over].slice(0, 4) });
  }

  /**
   * A handshake proved this session of the sender's: it counts from here (kept as it is if
   * it is the one already counted: a reconnect of the same life), also if it is smaller
   * than the one counted (its clock stepped back).
   */
  begin(sender: NodeId, session: number): void {
    const at = this.from.get(sender);
    if (!at) this.from.set(sender, { session, last: 0, over: [] });
    else if (at.session !== session) this.move(sender, at, session, 0);
  }

  forget(sender: NodeId): void {
    this.from.delete(sender);
  }
}

/** Frames kept whatever the peer's silence: a quiet link's last seconds, a busy one's last moment. */
const KEPT_ALWAYS = 64;
/** Frames kept while the peer is quiet: those of the last KEPT_MS (longer than DOUBT_MS), at most KEPT_BYTES. */
const KEPT_MS = 2000;
const KEPT_BYTES = 4 * 1024 * 1024;

/**
 * A link's frames sent lately, to send around it if it turns out to be cut, oldest first:
 * its last KEPT_ALWAYS always (at a busy link's rate they are gone before the collector
 * sees them), and while the peer is quiet (not heard for REMEMBER_AFTER_MS) those of the
 * last KEPT_MS, up to KEPT_BYTES. A queue with a head index, compacted now and then.
 */
export class KeptFrames<F> {
  private list: ({ seq: number; at: number; frame: F; bytes: number } | undefined)[] = [];
  private head = 0;
  private bytes = 0;

  keep(seq: number, frame: F, bytes: number, now: number, quiet: boolean): void {
    const l = this.list;
    l.push({ seq, at: now, frame, bytes });
    this.bytes += bytes;
    const most = quiet ? Infinity : KEPT_ALWAYS;
    while (this.head < l.length && (l.length - this.head > most || now - l[this.head]!.at > KEPT_MS || this.bytes > KEPT_BYTES)) {
      this.bytes -= l[this.head]!.bytes;
      l[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > l.length) {
      this.list = l.slice(this.head);
      this.head = 0;
    }
  }

  /** The frames kept with seq above `seq`, oldest first (found from the end: usually few). */
  after(seq: number): { seq: number; frame: F }[] {
    let i = this.list.length;
    while (i > this.head && this.list[i - 1]!.seq > seq) i--;
    return this.list.slice(i) as { seq: number; frame: F }[];
  }

  get size(): number {
    return this.list.length - this.head;
  }
}

/** A session number for this transport's life: later lives get larger ones. */
export function newSession(now = Date.now()): number {
  return now * 1024 + Math.floor(Math.random() * 1024);
}

/** The head of a MeshFrame carrying an encoded Envelope of `length` bytes (its bytes follow by reference). */
export function envelopeFrameHead(seq: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafe(2 + 8 + 5);
  out[0] = 0x08;
  let at = varint(out, 1, seq);
  out[at++] = 0x12;
  at = varint(out, at, length);
  return out.subarray(0, at);
}

function varint(out: Uint8Array, at: number, n: number): number {
  while (n > 0x7f) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/**
 * A MeshFrame that is just `seq` and an Envelope, as envelopeFrameHead writes it, read
 * without the generated decoder (the hot path); null for any other frame (decode it whole).
 */
export function readEnvelopeFrame(f: Uint8Array): { seq: number; envelope: Uint8Array } | null {
  if (f[0] !== 0x08) return null;
  const seq = readVarint(f, 1);
  if (!seq || f[seq.at] !== 0x12) return null;
  const len = readVarint(f, seq.at + 1);
  if (!len || len.at + len.value !== f.length) return null;
  return { seq: seq.value, envelope: f.subarray(len.at) };
}

function readVarint(f: Uint8Array, at: number): { value: number; at: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8 && at < f.length; i++) {
    const b = f[at++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return { value, at };
    scale *= 0x80;
  }
  return null;
}
