/**
 * A node's part in occupancy (src/channel/occupancy.ts): the board of the channels it
 * masters, the watch of its own channel clients, and the node messages between them.
 */
import { OccupancyBoard } from '../channel/occupancy-board.js';
import { countAttachments, OccupancyWatch } from '../channel/occupancy-watch.js';
import type { ChannelKey } from '../channel/entry.js';
import type { ChannelRegistry } from '../channel/registry.js';
import { noAttachments } from '../channel/occupancy.js';
import type { NodeId, NodeMessage, OccupancyRegion, OccupancyReport, OccupancyRequest, OccupancyTotals } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import type { Hub } from './hub.js';

export interface NodeOccupancyDeps {
  send(to: NodeId, msg: NodeMessage): void;
  rpc: Rpc;
  registry: ChannelRegistry;
  hub(): Hub;
  /** Whether the ring makes this node the channel's master now. */
  mastersHere(key: ChannelKey): boolean;
  intervalMs: number;
  /** `limits.occupancyRefreshMs` (absent: the board's default). */
  refreshMs?: number;
  /** The region's time (events' timestamps, and when a region's counts were counted). */
  now(): number;
  /** Unique to this node's life (events' ids). */
  idPrefix: string;
  /** This region's name; with other regions, what goes to its globalmaster, and the globalmaster if this node holds the role. */
  region: string;
  toGlobalmaster: ((msg: OccupancyRegion) => void) | null;
  globalmaster(): { onOccupancy(msg: OccupancyRegion): void } | null;
}

export class NodeOccupancy {
  readonly board: OccupancyBoard;
  readonly watch: OccupancyWatch;

  constructor(private readonly deps: NodeOccupancyDeps) {
    const master = (key: ChannelKey) => deps.registry.masterOf(key);
    const toGlobalmaster = deps.toGlobalmaster;
    this.board = new OccupancyBoard({
      send: deps.send,
      subscribed: (key) => master(key)?.subscribers ?? null,
      mastersHere: deps.mastersHere,
      intervalMs: deps.intervalMs,
      refreshMs: deps.refreshMs,
      regionTime: deps.now,
      counted: (key) => master(key)?.lifecycle?.counted(),
      ...(toGlobalmaster
        ? {
            toRegions: (channel, word) => toGlobalmaster({ type: 'occupancyRegion', channel, region: deps.region, ...word }),
            regionsWanting: (key) => [...(master(key)?.state.interest.remote.keys() ?? [])],
          }
        : {}),
    });
    this.watch = new OccupancyWatch({ send: deps.send, intervalMs: deps.intervalMs, now: deps.now, idPrefix: deps.idPrefix });
  }

  onMessage(from: NodeId, msg: OccupancyRequest | OccupancyReport | OccupancyTotals | OccupancyRegion): void {
    switch (msg.type) {
      case 'occupancy': {
        // A REST question (region-queries.ts): this node's live attachments.
        const c = this.deps.hub().get(msg.channel);
        this.deps.rpc.reply(from, msg.rid, { kind: 'occupancy', ...(c ? countAttachments(c).counts : noAttachments()) });
        return;
      }
      case 'occupancyReport':
        this.board.report(from, msg);
        return;
      case 'occupancyTotals': {
        const c = this.deps.hub().get(msg.channel);
        if (c) this.watch.totals(c, from, msg.counts);
        return;
      }
      case 'occupancyRegion':
        // This region's, from a master here, for the others; or another region's, for the master here.
        if (msg.region === this.deps.region) this.deps.globalmaster()?.onOccupancy(msg);
        else if (!msg.spare || this.board.holds(msg.channel)) this.board.fromRegion(msg.region, msg.channel, msg);
        return;
    }
  }

  stop(): void {
    this.board.stop();
    this.watch.stop();
  }
}
