/**
 * Token revocations (src/auth/revocations.ts), spread to every node of every region
 * (README "Token revocation"):
 *
 * - What changes what this node holds (a request here, a peer's message, another region's
 *   link) is sent on at once to the region's other nodes (a `revocations` message); a node
 *   sends on only what was new to it, so the flood ends. From the node holding the
 *   globalmaster role it goes to the other regions too, wherever it was made: a
 *   revocation is known by what it was where it was made (revocations.ts), so a region
 *   takes it once however many ways it comes, and one that comes home (to a region that
 *   restarted whole and forgot it) is put back on its own times.
 * - Anti-entropy: every heartbeat carries a digest of what its sender holds. A node that
 *   hears a digest unlike its own in two heartbeats of a peer running (in one, a new
 *   revocation may just be on its way) sends that peer all it holds, at most once every
 *   PUSH_EVERY_MS per peer; the peer does the same, and both merge. Each region link, as
 *   it comes up, carries all of it both ways (Globalmaster). So a node that missed a
 *   message (a cut link, a restart: revocations are held in memory), a region cut off
 *   while a revocation was made, or one whose every node restarted has it within a
 *   heartbeat or so of hearing from one that does.
 * - The node's connections on tokens of the keys concerned then look at their tokens
 *   again (Gateway.checkRevocations), once per event-loop turn however many came in it.
 */
import { RevocationStore, type Revocation } from '../auth/revocations.js';
import type { Logger } from '../log.js';
import type { NodeId, NodeMessage } from '../transport/messages.js';

/** A peer whose digest differs is sent everything at most this often (ms). */
const PUSH_EVERY_MS = 1000;

export class RevocationSync {
  readonly store: RevocationStore;
  /** When each peer was last sent everything (monotonic ms). */
  private readonly pushedAt = new Map<NodeId, number>();
  /** Peers whose last heartbeat's digest was unlike ours. */
  private readonly unlike = new Set<NodeId>();
  /** Keys with new revocations this turn, for the connections to look at (null: none pending). */
  private changedKeys: Set<string> | null = null;

  constructor(
    private readonly d: {
      /** The region's time (RegionClock). */
      now(): number;
      monotonic(): number;
      send(to: NodeId, msg: NodeMessage): void;
      broadcast(msg: NodeMessage): void;
      /** To the other regions, where this node holds the globalmaster role (what was new to it, made anywhere). */
      toRegions(entries: Revocation[]): void;
      /** The node's connections on tokens of these keys look at their tokens again. */
      changed(keys: ReadonlySet<string>): void;
      log: Pick<Logger, 'info'>;
    },
  ) {
    this.store = new RevocationStore(d.now);
    this.store.onChange((added) => {
      this.d.log.info({ revocations: added.length, held: this.store.size, first: added[0] }, 'token revocations taken');
      this.d.broadcast({ type: 'revocations', entries: added });
      this.d.toRegions(added);
      if (!this.changedKeys) {
        const keys = (this.changedKeys = new Set());
        setImmediate(() => {
          this.changedKeys = null;
          this.d.changed(keys);
        });
      }
      for (const r of added) this.changedKeys.add(r.keyName);
    });
  }

  /** Revocations from a request here, a peer, or another region. */
  take(entries: readonly Revocation[]): void {
    this.store.merge(entries);
  }

  /** All held (for a region link coming up). */
  all(): Revocation[] {
    return this.store.all();
  }

  /** The digest this node's heartbeats carry. */
  digest(): number {
    return this.store.digest();
  }

  /** A peer's heartbeat named its digest (undefined: an older build): unlike ours twice running, it is sent all we hold. */
  heard(peer: NodeId, digest: number | undefined): void {
    if (digest === undefined) return;
    if (digest === this.store.digest()) {
      this.unlike.delete(peer);
      return;
    }
    const twice = this.unlike.has(peer);
    this.unlike.add(peer);
    if (!twice || this.store.size === 0) return;
    const now = this.d.monotonic();
    if (now - (this.pushedAt.get(peer) ?? -Infinity) < PUSH_EVERY_MS) return;
    this.pushedAt.set(peer, now);
    this.d.send(peer, { type: 'revocations', entries: this.store.all() });
  }
}
