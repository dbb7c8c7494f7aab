/** The listener plumbing every network transport shares: handlers for messages and for link events. */
import type { NodeId, NodeMessage } from './messages.js';
import type { TransportEvent } from './transport.js';

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

  protected deliver(from: NodeId, msg: NodeMessage): void {
    for (const h of this.handlers) h(from, msg);
  }
}
