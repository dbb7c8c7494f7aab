/**
 * The lives of each peer that hold a mesh link to this node (a life: one process, its
 * Hello.session), and when each link last carried bytes, so that a second process
 * started under a running node's name (a typo for a new name, or a replacement while the
 * old process still lives) is refused at its handshake (mesh.ts, NameInUse) instead of
 * taking the name's place in the region while the running node is refused.
 *
 * A link of another life that carried bytes within DOUBT_MS shows the name in use: a live
 * link is never quiet longer than HEARD_EVERY_MS (mesh-paths.ts). A killed process's links
 * close at once (through a fault proxy too), so its restart is taken; a frozen or cut-off
 * one's go quiet, so a replacement is taken within a second, and the old life's links are
 * closed then: should it come back, its redial is refused and it stops.
 */
import type { Socket } from 'node:net';
import { DOUBT_MS } from './mesh-paths.js';
import type { NodeId } from './messages.js';

export interface InboundLife {
  readonly peer: NodeId;
  readonly session: number;
  readonly sock: Socket;
  /** Where the link comes from (host:port). */
  readonly remote: string;
  /** When it last carried bytes (performance.now()). */
  heard: number;
}

export class InboundLives {
  private readonly byPeer = new Map<NodeId, Set<InboundLife>>();

  add(life: InboundLife): void {
    let s = this.byPeer.get(life.peer);
    if (!s) this.byPeer.set(life.peer, (s = new Set()));
    s.add(life);
  }

  remove(life: InboundLife): void {
    const s = this.byPeer.get(life.peer);
    if (!s?.delete(life)) return;
    if (s.size === 0) this.byPeer.delete(life.peer);
  }

  /** A link of another life of `peer` than `session` that carried bytes within DOUBT_MS of `now`: a running node holds the name. */
  holder(peer: NodeId, session: number, now: number): InboundLife | null {
    for (const l of this.byPeer.get(peer) ?? []) if (l.session !== session && !l.sock.destroyed && now - l.heard <= DOUBT_MS) return l;
    return null;
  }

  /** The links of other lives of `peer` than `session` (closed as a new life is taken). */
  othersOf(peer: NodeId, session: number): InboundLife[] {
    return [...(this.byPeer.get(peer) ?? [])].filter((l) => l.session !== session);
  }
}
