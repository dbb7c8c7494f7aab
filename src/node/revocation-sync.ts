/**
 * Token revocations (src/auth/revocations.ts), spread to every node of every region
 * (README "Token revocation"):
 *
 * - What changes what this node holds (a request here, a peer's message, another region's
 *   link) is sent on at once: to the region's other nodes (a `revocations` message), and
 *   by the node holding the globalmaster role to the other regions. A node sends on only
 *   what was new to it, so the flood ends.
 * - Anti-entropy: every heartbeat carries a digest of what its sender holds. A node that
 *   hears a digest unlike its own sends that peer all it holds (at most once every
 *   PUSH_EVERY_MS per peer); the peer does the same, and both merge. Each region link, as
 *   it comes up, carries all of it both ways (Globalmaster). So a node that missed a
 *   message (a cut link, a restart: revocations are held in memory) or a region cut off
 *   while a revocation was made has it within a heartbeat or so of hearing from one that
 *   does.
 * - The node's connections then look at their tokens again (Gateway.checkRevocations).
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

  constructor(
    private readonly d: {
      /** The region's time (RegionClock). */
      now(): number;
      monotonic(): number;
      send(to: NodeId, msg: NodeMessage): void;
      broadcast(msg: NodeMessage): void;
      /** To the other regions, where this node holds the globalmaster role. */
      toRegions(entries: Revocation[]): void;
      /** The node's connections look at their tokens again. */
      changed(): void;
      log: Pick<Logger, 'info'>;
    },
  ) {
    this.store = new RevocationStore(d.now);
    this.store.onChange((added) => {
      this.d.log.info({ revocations: added.length, held: this.store.size, first: added[0] }, 'token revocations taken');
      this.d.broadcast({ type: 'revocations', entries: added });
      this.d.toRegions(added);
      this.d.changed();
    });
  }

  /** Revocations from a request here, a peer, or another region. */
  take(entries: readonly Revocation[]): void {
    this.store.merge(entries);
  }

  /** Everything held (for a region link coming up). */
  all(): Revocation[] {
    return this.store.all();
  }

  /** The digest this node's heartbeats carry. */
  digest(): number {
    return this.store.digest();
  }

  /** A peer's heartbeat named its digest (undefined: an older build): unlike ours, it is sent all we hold. */
  heard(peer: NodeId, digest: number | undefined): void {
    if (digest === undefined || digest === this.store.digest() || this.store.size === 0) return;
    const now = this.d.monotonic();
    if (now - (this.pushedAt.get(peer) ?? -Infinity) < PUSH_EVERY_MS) return;
    this.pushedAt.set(peer, now);
    this.d.send(peer, { type: 'revocations', entries: this.store.all() });
  }
}
