/**
 * The versions of the protocols between ably-ng processes. A node speaks one version of
 * each and refuses a peer that speaks another, logging both, instead of misreading it:
 *
 * - NODE_PROTOCOL, between the nodes of a region (`proto/node.proto`, over the mesh or
 *   NATS). A mesh link's handshake carries it both ways; NATS subjects carry it as a
 *   token, so nodes of different versions in one region never hear each other. A node
 *   cut off this way lacks quorum and serves nothing, rather than forking or emptying a
 *   channel's history.
 * - REGION_PROTOCOL, between the globalmasters of two regions (`proto/region.proto`). A
 *   link whose hello carries another version is dropped: the regions stay apart, as in a
 *   partition, and catch up once both speak one version.
 *
 * Raise a version whenever an older build would misread what a newer one sends (a field
 * it does not know that changes the meaning of the rest). Peers built before versions
 * existed send none, which reads as 0.
 *
 * Raise it too when nodes of two versions would judge quorum differently.
 *
 * History:
 * - node 1 (2026-12-02): a channel snapshot carries its entries as one encoded list
 *   (`ChannelSnapshot.entry_list`), which an unversioned node took for no entries.
 * - node 2 (2026-12-02): a node counts one of another version for quorum (membership.ts)
 *   and proves itself to a dialer of another version; builds of 0 and 1 do neither.
 * - region 1 (2026-12-02): the first versioned region link.
 */
export const NODE_PROTOCOL = 2;
export const REGION_PROTOCOL = 1;

/** A peer's version as words, for logs ("0" is a build from before versions existed). */
export function versionText(v: number): string {
  return v === 0 ? '0 (a build from before protocol versions)' : String(v);
}

/** A peer refused for its version is logged at most this often, per peer (ms). */
const REFUSAL_LOG_EVERY_MS = 30_000;

/**
 * The log of links refused for their protocol version: an error naming both versions,
 * at most once per REFUSAL_LOG_EVERY_MS per peer (a refused peer redials every second).
 */
export class VersionRefusals {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly log: { error(o: object, msg: string): void },
    /** e.g. "mesh link" or "region link". */
    private readonly link: string,
    /** e.g. "node protocol". */
    private readonly protocol: string,
    readonly ours: number,
    /** What the operator should do, ending the message. */
    private readonly advice: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `theirs` is ours; if not, logs the refusal (rate-limited). */
  accepts(peer: string, theirs: number): boolean {
    if (theirs === this.ours) return true;
    const now = this.now();
    const last = this.last.get(peer);
    if (last === undefined || now - last >= REFUSAL_LOG_EVERY_MS) {
      this.last.set(peer, now);
      this.log.error(
        { peer, theirs, ours: this.ours },
        `refused ${this.link}: ${peer} speaks ${this.protocol} ${versionText(theirs)}, this node ${this.ours}; ${this.advice}`,
      );
    }
    return false;
  }
}
