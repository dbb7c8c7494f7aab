/**
 * A connection's acknowledgements: every ACK-requiring message takes a slot in arrival
 * (msgSerial) order; slots finish in any order (different channels, different masters)
 * but ACK/NACK go out strictly in order, runs of the same outcome grouped into one
 * ProtocolMessage `{msgSerial, count}` as the SDKs expect. `ack` and `nack` mark slots;
 * what can be sent goes to the owner once the current turn's work is done, so that the
 * publishes one grouped request settled together (channel/publisher.ts) leave as one
 * ACK, not one frame each.
 */
import { toAblyError, type ErrorInfo } from '../errors.js';
import { Fifo } from '../fifo.js';
import { Action } from '../protocol/actions.js';
import type { ProtocolMessage } from '../protocol/types.js';

export interface AckSlot {
  readonly msgSerial: number;
  done: boolean;
  error?: ErrorInfo;
  serials?: string[];
}

/** Where ACKs and NACKs go (the connection). */
export interface AckOwner {
  sendMessage(pm: ProtocolMessage): void;
}

/** Runs a queue's flush at the end of the turn (one function for every queue: no closure per connection). */
function flushTick(q: AckQueue): void {
  q.flushNow();
}

export class AckQueue {
  private readonly slots = new Fifo<AckSlot>();
  private flushPending = false;

  constructor(private readonly owner: AckOwner) {}

  get pending(): number {
    return this.slots.length;
  }

  slot(msgSerial: number): AckSlot {
    const s: AckSlot = { msgSerial, done: false };
    this.slots.push(s);
    return s;
  }

  /** The slot's message was accepted with these channelSerials. */
  ack(slot: AckSlot, serials: string[]): void {
    slot.done = true;
    slot.serials = serials;
    this.flushAfterTurn();
  }

  /** The slot's message was refused. */
  nack(slot: AckSlot, err: unknown): void {
    slot.done = true;
    slot.error = toAblyError(err).toInfo();
    this.flushAfterTurn();
  }

  private flushAfterTurn(): void {
    if (this.flushPending) return;
    this.flushPending = true;
    process.nextTick(flushTick, this);
  }

  /**
   * Sends ACK/NACK for the finished slots at the front, grouped into runs of one outcome.
   * At the end of the turn, or at once (before a close).
   */
  flushNow(): void {
    this.flushPending = false;
    const q = this.slots;
    let first: AckSlot | undefined;
    while ((first = q.at(0))?.done) {
      let n = 1;
      let next: AckSlot | undefined;
      while ((next = q.at(n))?.done && sameOutcome(first, next) && next.msgSerial === first.msgSerial + n) n++;
      const res: { serials: string[] }[] = [];
      for (let k = 0; k < n; k++) res.push({ serials: q.shift()!.serials ?? [] });
      this.owner.sendMessage(
        first.error
          ? { action: Action.NACK, msgSerial: first.msgSerial, count: n, error: first.error }
          : { action: Action.ACK, msgSerial: first.msgSerial, count: n, res },
      );
    }
  }
}

/** Whether two slots' answers go in one ACK or one NACK: both ACKs, or refused with the same error (code and message). */
function sameOutcome(a: AckSlot, b: AckSlot): boolean {
  if (!a.error || !b.error) return !a.error && !b.error;
  return a.error.code === b.error.code && a.error.message === b.error.message;
}
