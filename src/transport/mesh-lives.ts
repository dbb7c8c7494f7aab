/**
 * The lives of each peer that hold a mesh link to this node (a life: one process, its
 * Hello.session), and when each link last carried bytes, so that a second process
 * started under a running node's name (a typo for a new name, or a replacement while the
 * old process still lives) is refused at its handshake (mesh.ts, NameInUse) instead of
 * taking the name's place in the region while the running node is refused.
 *
 * Where another life's link of the name is open and carried bytes within DOUBT_MS, the
 * newcomer waits NAME_PROOF_MS: that life holds the name if its link carried bytes since
 * and is still open then (a live link is never quiet longer than HEARD_EVERY_MS:
 * mesh-paths.ts). A dead process's link is not, even where this node, stalled, read its
 * last bytes just before the newcomer's hello: its end follows them (a review's
 * reproduction: a node paused while a peer was killed and restarted). A killed process's
 * links close at once (through a fault proxy too), so its restart is taken at once; a
 * frozen or cut-off one's go quiet, so a replacement is taken within a second, and the
 * old life's links are closed then: should it come back, its redial is refused and it stops.
 */
import type { Socket } from 'node:net';
import type * as pb from '../gen/node.pb.js';
import type { Logger } from '../log.js';
import type { MeshHandshake } from './mesh-handshake.js';
import { writeFrame } from './mesh-frames.js';
import { DOUBT_MS, HEARD_EVERY_MS } from './mesh-paths.js';
import type { NodeId } from './messages.js';

/** How long a newcomer waits for another life of its name, heard lately, to show it lives. */
export const NAME_PROOF_MS = 2.5 * HEARD_EVERY_MS;

export interface InboundLife {
  readonly peer: NodeId;
  readonly session: number;
  readonly sock: Socket;
  /** Where the link comes from (host:port). */
  readonly remote: string;
  /** When it last carried bytes (performance.now()). */
  heard: number;
}

const open = (l: InboundLife): boolean => !l.sock.destroyed && !l.sock.readableEnded;

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

  /**
   * Whether a running node holds `peer`'s name against a new life (`session`): null at
   * once where no other life's link is open and heard within DOUBT_MS of `now`; else,
   * after NAME_PROOF_MS (and a turn of the loop's reads), the link that carried bytes
   * since `now` and is still open, if any.
   */
  holder(peer: NodeId, session: number, now: number): Promise<InboundLife | null> | null {
    const lately = [...(this.byPeer.get(peer) ?? [])].filter((l) => l.session !== session && open(l) && now - l.heard <= DOUBT_MS);
    if (lately.length === 0) return null;
    return new Promise((resolve) => {
      setTimeout(() => setImmediate(() => resolve(lately.find((l) => open(l) && l.heard > now) ?? null)), NAME_PROOF_MS).unref();
    });
  }

  /** The links of other lives of `peer` than `session` (closed as a new life is taken). */
  othersOf(peer: NodeId, session: number): InboundLife[] {
    return [...(this.byPeer.get(peer) ?? [])].filter((l) => l.session !== session);
  }
}

/** A running node has the hello's name: refused, and told why (the dialer drops the socket; an older build waits out the listener's handshake timer). */
export function refuseName(sock: Socket, handshake: MeshHandshake, log: Logger, hello: pb.Hello, holder: InboundLife): void {
  const heardMsAgo = Math.round(performance.now() - holder.heard);
  log.error({ peer: hello.node, remote: `${sock.remoteAddress}:${sock.remotePort}`, holder: holder.remote, heardMsAgo }, 'refused mesh connection: a running node has its name');
  writeFrame(sock, handshake.nameInUse(hello.nonce, holder.remote, heardMsAgo));
}
