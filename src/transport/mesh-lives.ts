/**
 * The lives of each peer that hold a mesh link to this node (a life: one process, its
 * Hello.session), so that a second process started under a running node's name (a typo
 * for a new name, or a replacement while the old process still lives) is refused at its
 * handshake (mesh.ts, NameInUse) instead of taking the name's place in the region while
 * the running node is refused.
 *
 * Where another life's link of the name is still open, the newcomer waits while that life
 * is asked whether it lives (Handshake.life_probe on its link; it answers MeshFrame.alive).
 * A running process answers, however busy, once its loop turns; a dead one cannot: its
 * link ends, or the probe is reset by its host. So a restart is taken as soon as the old
 * link is seen to end (at once, mostly: a killed process's links close with it, through a
 * fault proxy too), whatever this node still has to read of it; a running node keeps its
 * name through a stall shorter than PROBE_WAIT_MS. Timing alone judged both wrongly (two
 * reviews: a restart refused where this node read the dead life's backlog slowly; a
 * running node stalled 700 ms lost its name).
 *
 * A life that answers nothing within PROBE_WAIT_MS (frozen, cut off, or an older build,
 * which ignores the probe) is taken as gone: the newcomer is taken, and the old life's
 * links are closed; should it come back, its redial is refused in turn, and it stops.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import * as pb from '../gen/node.pb.js';
import type { Logger } from '../log.js';
import type { MeshHandshake } from './mesh-handshake.js';
import { writeFrame } from './mesh-frames.js';
import type { NodeId } from './messages.js';

/** How long a newcomer waits for another life of its name to answer (below the dialer's 5 s handshake timer). */
export const PROBE_WAIT_MS = 3000;

export interface InboundLife {
  readonly peer: NodeId;
  readonly session: number;
  readonly sock: Socket;
  /** Where the link comes from (host:port). */
  readonly remote: string;
}

/** A newcomer waiting: the other lives asked, and the nonce their answer carries. */
interface Judgement {
  lives: InboundLife[];
  nonce: Uint8Array;
  done(holder: InboundLife | null): void;
}

const open = (l: InboundLife): boolean => !l.sock.destroyed && !l.sock.readableEnded;

export class InboundLives {
  private readonly byPeer = new Map<NodeId, Set<InboundLife>>();
  private readonly judgements = new Set<Judgement>();

  add(life: InboundLife): void {
    let s = this.byPeer.get(life.peer);
    if (!s) this.byPeer.set(life.peer, (s = new Set()));
    s.add(life);
  }

  /** A link closed: a newcomer waiting only on links now closed is taken. */
  remove(life: InboundLife): void {
    const s = this.byPeer.get(life.peer);
    if (!s?.delete(life)) return;
    if (s.size === 0) this.byPeer.delete(life.peer);
    for (const j of this.judgements) if (j.lives.includes(life) && !j.lives.some(open)) j.done(null);
  }

  /**
   * Whether a running node holds `peer`'s name against a new life (`session`): null at
   * once where no other life's link is open; else the life that answers the probe
   * (`ask` sends it) within PROBE_WAIT_MS, or null once all have closed or none answered.
   */
  holder(peer: NodeId, session: number, ask: (life: InboundLife, nonce: Uint8Array) => void): Promise<InboundLife | null> | null {
    const lives = this.othersOf(peer, session).filter(open);
    if (lives.length === 0) return null;
    const nonce = randomBytes(8);
    return new Promise((resolve) => {
      const j: Judgement = {
        lives,
        nonce,
        done: (holder) => {
          clearTimeout(timer);
          this.judgements.delete(j);
          resolve(holder);
        },
      };
      // Past the wait, a turn of the loop's reads first: an answer this node was too busy to read still counts.
      const timer = setTimeout(() => setImmediate(() => this.judgements.has(j) && j.done(null)), PROBE_WAIT_MS);
      timer.unref();
      this.judgements.add(j);
      for (const l of lives) ask(l, nonce);
    });
  }

  /** MeshFrame.alive from `peer`'s life `session`: it holds the name against a newcomer asking with that nonce. */
  answered(peer: NodeId, session: number, nonce: Uint8Array): void {
    for (const j of this.judgements) {
      const l = j.lives.find((x) => x.peer === peer && x.session === session);
      if (l && Buffer.compare(j.nonce, nonce) === 0) j.done(l);
    }
  }

  /** The links of other lives of `peer` than `session`. */
  othersOf(peer: NodeId, session: number): InboundLife[] {
    return [...(this.byPeer.get(peer) ?? [])].filter((l) => l.session !== session);
  }

  /** A new life of `peer` is taken, or its other lives found not alive: their links go. */
  closeOthers(peer: NodeId, session: number): void {
    for (const l of this.othersOf(peer, session)) l.sock.destroy();
  }
}

/** A running node has the hello's name: refused, and told why (the dialer drops the socket; an older build waits out the listener's handshake timer). */
export function refuseName(sock: Socket, handshake: MeshHandshake, log: Logger, hello: pb.Hello, holder: InboundLife): void {
  log.error({ peer: hello.node, remote: `${sock.remoteAddress}:${sock.remotePort}`, holder: holder.remote }, 'refused mesh connection: a running node has its name');
  writeFrame(sock, handshake.nameInUse(hello.nonce, holder.remote));
}

/** The probe a listener sends on a link that is up, asking the life at its end whether it lives. */
export function lifeProbe(nonce: Uint8Array): Uint8Array {
  return pb.Handshake.encode({ step: { $case: 'lifeProbe', lifeProbe: { nonce } } }).finish();
}

/** On a dialer's link that is up: a frame from the listener, answered where it is a probe (nothing else comes). */
export function answerProbe(sock: Socket, frame: Uint8Array): void {
  let step: pb.Handshake['step'];
  try {
    step = pb.Handshake.decode(frame).step;
  } catch {
    return;
  }
  if (step?.$case === 'lifeProbe') writeFrame(sock, pb.MeshFrame.encode({ seq: 0, body: { $case: 'alive', alive: { nonce: step.lifeProbe.nonce } } }).finish());
}
