/**
 * The versions of the protocols between ably-ng processes. A node speaks one version of
 * each and refuses a peer that speaks another, logging both, instead of misreading it:
 *
 * - NODE_PROTOCOL, between the nodes of a region (`proto/node.proto`, over the mesh or
 *   NATS). A mesh link's handshake carries it both ways; NATS subjects carry it as a
 *   token, so nodes of different versions in one region never hear each other. Each
 *   still learns that the other is alive, and membership counts it for quorum as a
 *   member out of reach (`membership.ts`): one side at most serves.
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
 * - node 3 (2026-12-02): the globalmaster sends masters the heads of other regions' streams
 *   (`OriginHeads`), which a build of 2 could not decode.
 * - region 2 (2026-12-02): globalmasters tell each other the heads of quiet channels
 *   (`Heads`), which a build of 1 took for a bad frame, dropping the link.
 * - node 4 (2026-12-04): every mesh frame after the handshake is a numbered MeshFrame,
 *   sent around a doubted link through other nodes (`mesh-paths.ts`); a build of 3 reads
 *   a bare Envelope.
 * - region 3 (2026-12-05): both ends of a region link ping it, and close it when they hear
 *   nothing for a while (`Ping`); a build of 2 took a ping for a bad frame.
 * - node 5 (2026-12-05): a channel client tells a master where attaching clients had got
 *   in other regions' streams (`ReachRequest`), which a build of 4 could not decode,
 *   dropping the mesh link.
 * - node 6 (2026-12-05): a channel snapshot carries its dedup window as one list of bytes
 *   (`ChannelSnapshot.dedup_list`), which a build of 5 took for an empty window.
 * - node 7 (2026-12-06): a node asks the keeper of a TokenRequest's nonce (`NonceRequest`),
 *   which a build of 6 could not decode, dropping the mesh link; heartbeats carry the
 *   region's time (`Heartbeat.now`), which a build of 6 would not follow.
 * - node 8 (2026-12-06): nodes tell each other of token revocations (`Revocations`), which
 *   a build of 7 could not decode, dropping the mesh link.
 * - region 4 (2026-12-06): globalmasters tell each other of token revocations
 *   (`LinkFrame.revocations`), which a build of 3 took for a bad frame, dropping the link.
 * - node 9 and region 5 (2026-12-06): a revocation carries its issuedBefore on its origin's
 *   time (`Revocation.origin_issued_before`), by which it is known wherever it comes from,
 *   and regions pass on revocations made elsewhere. A build of 8 (or 4) would take every
 *   revocation for one made at time 0 (all one, covering each other), and one of another
 *   region's passed on as that region's own, moved by the wrong offset.
 * - node 10 and region 6 (2026-12-06): channel clients tell masters their attachments by
 *   mode (`OccupancyReport`), masters send the totals back (`OccupancyTotals`) for
 *   occupancy events, and regions tell each other theirs (`OccupancyRegion`,
 *   `LinkFrame.occupancy`). A build of 9 (or 5) could not decode them, dropping the link.
 * - node 11 and region 7 (2026-12-06): every message carries its serial (`Message.serial`),
 *   made once where it was first accepted, and a publish's reply its master's epoch
 *   (`Published.epoch`), since the serials in it (message serials) no longer name it. A
 *   build of 10 (or 6) would drop the serials of the messages it passed on, and would
 *   look for the epoch in the serials, find none, and so never name one in its publishes.
 * - node 12 and region 8 (2026-12-07): annotations travel as messages with action 64 and
 *   their fields (`Message.annotation`, `Message.summary_json`), and a history query may
 *   ask for a message's annotations (`HistoryQuery.annotations`). A build of 11 (or 7)
 *   would take an annotation for a version of its message and show it as an update.
 * - node 13 (2026-12-07): a channel's state carries the lifecycle events its master
 *   announced (`ChannelSnapshot.lifecycle`, `ReplicateRequest.lifecycle`). A build of 12
 *   would drop them, and a master it became would announce the channel's activity again
 *   and never its end.
 * - region 9 (2026-12-07): an interest snapshot comes in parts (`InterestSnapshot.more`);
 *   a build of 8 would take each part for the whole.
 */
import { LogThrottle } from '../log.js';

export const NODE_PROTOCOL = 13;
export const REGION_PROTOCOL = 9;

/** A peer's version as words, for logs ("0" is a build from before versions existed). */
export function versionText(v: number): string {
  return v === 0 ? '0 (a build from before protocol versions)' : String(v);
}

/** A peer refused for its version is logged at most this often, per peer (ms). */
const REFUSAL_LOG_EVERY_MS = 30_000;
/** What to do about a node of another version. */
const NODE_ADVICE = "a region's nodes must run one build (stop them all to change it)";

/**
 * The log of links refused for their protocol version: an error naming both versions,
 * at most once per REFUSAL_LOG_EVERY_MS per peer (a refused peer redials every second).
 */
export class VersionRefusals {
  private readonly logged: LogThrottle;

  constructor(
    private readonly log: { error(o: object, msg: string): void },
    /** e.g. "mesh link" or "region link". */
    private readonly link: string,
    /** e.g. "node protocol". */
    private readonly protocol: string,
    readonly ours: number,
    /** What the operator should do, ending the message. */
    private readonly advice: string,
    now: () => number = Date.now,
  ) {
    this.logged = new LogThrottle(REFUSAL_LOG_EVERY_MS, now);
  }

  /** Whether `theirs` is ours; if not, logs the refusal (rate-limited). */
  accepts(peer: string, theirs: number): boolean {
    if (theirs === this.ours) return true;
    if (this.logged.due(peer)) {
      this.log.error(
        { peer, theirs, ours: this.ours },
        `refused ${this.link}: ${peer} speaks ${this.protocol} ${versionText(theirs)}, this node ${this.ours}; ${this.advice}`,
      );
    }
    return false;
  }
}

/** The refusals of a region's node-to-node traffic (the mesh, or NATS): node protocol `ours`. */
export function nodeVersionRefusals(log: { error(o: object, msg: string): void }, link: string, ours = NODE_PROTOCOL): VersionRefusals {
  return new VersionRefusals(log, link, 'node protocol', ours, NODE_ADVICE);
}
