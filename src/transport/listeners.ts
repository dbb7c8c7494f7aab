/** The listener plumbing every network transport shares: handlers for messages and for link events. */
import type { NodeId, NodeMessage } from './messages.js';
import type { TransportEvent } from './transport.js';
import type { Logger } from '../log.js';

export abstract class TransportListeners {
  private readonly handlers: ((from: NodeId, msg: NodeMessage) => void)[] = [];
  private readonly eventHandlers: ((e: TransportEvent) => void)[] = [];

  onMessage(handler: (from: NodeId, msg: NodeMessage) => void): void {
    this.handlers.push(handler);
  }

  onEvent(handler: (e: TransportEvent) => void): void {
    this.eventHandlers.push(handler);
  }

  protected emit(e: TransportEvent): void {
    for (const h of this.eventHandlers) h(e);
  }

  /** `log`: where a handler that throws (a defect) is told of; the node goes on with the next message rather than die of one. */
  constructor(private readonly log: Logger) {}

  protected deliver(from: NodeId, msg: NodeMessage): void {
    for (const h of this.handlers) {
      try {
        h(from, msg);
      } catch (err) {
        this.log.error({ from, type: msg.type, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'a message from a peer could not be handled (a defect); going on');
      }
    }
  }
}
