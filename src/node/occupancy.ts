/**
 * A node's part in occupancy (src/channel/occupancy.ts): the board of the channels it
 * masters, the watch of its own channel clients, and the node messages between them.
 */
import { OccupancyBoard } from '../channel/occupancy-board.js';
import { countAttachments, OccupancyWatch } from '../channel/occupancy-watch.js';
import type { ChannelKey } from '../channel/entry.js';
import type { NodeId, NodeMessage, OccupancyReport, OccupancyRequest, OccupancyTotals } from '../transport/messages.js';
import type { Rpc } from '../transport/rpc.js';
import type { Hub } from './hub.js';
import type { ChannelRegistry } from '../channel/registry.js';
import { noAttachments } from '../channel/occupancy.js';

export interface NodeOccupancyDeps {
  send(to: NodeId, msg: NodeMessage): void;
  rpc: Rpc;
  registry: ChannelRegistry;
  hub(): Hub;
  intervalMs: number;
  /** The wall clock (events' timestamps). */
  now(): number;
  /** Unique to this node's life (events' ids). */
  idPrefix: string;
}

export class NodeOccupancy {
  readonly board: OccupancyBoard;
  readonly watch: OccupancyWatch;

  constructor(private readonly deps: NodeOccupancyDeps) {
    const subscribed = (key: ChannelKey) => {
      const h = deps.registry.holding(key);
      return h?.role === 'master' ? h.master.subscribers : null;
    };
    this.board = new OccupancyBoard({ send: deps.send, subscribed, intervalMs: deps.intervalMs });
    this.watch = new OccupancyWatch({ send: deps.send, intervalMs: deps.intervalMs, now: deps.now, idPrefix: deps.idPrefix });
  }

  onMessage(from: NodeId, msg: OccupancyRequest | OccupancyReport | OccupancyTotals): void {
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
    }
  }
}
