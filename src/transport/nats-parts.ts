/**
 * Messages larger than a NATS server's `max_payload` travel in consecutive parts, each
 * marked `i/n` (1-based) in a header. One connection publishes a message's parts back to
 * back, and NATS keeps one publisher's order, so a receiver gets a sender's parts
 * consecutively and in order — unless some were lost while a connection was down: then
 * the incomplete message is dropped (and reported), never put together wrongly.
 */
import type { NodeId } from './messages.js';

/** Cuts `payload` into parts of at most `max` bytes (views, not copies). */
export function splitPayload(payload: Uint8Array, max: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += max) parts.push(payload.subarray(at, Math.min(payload.length, at + max)));
  return parts;
}

export function partLabel(i: number, total: number): string {
  return `${i + 1}/${total}`;
}

/** What adding a part gave: the whole message once complete; and whether an earlier one was lost. */
export interface PartResult {
  whole: Uint8Array | null;
  /** Parts went missing (or a label was malformed): what had been gathered is dropped. */
  lost: { had: number; of: number; reason: string } | null;
}

export class PartAssembler {
  private readonly inProgress = new Map<NodeId, { next: number; total: number; parts: Uint8Array[] }>();

  /** Adds part `label` of the current message from `from`. */
  add(from: NodeId, label: string, data: Uint8Array): PartResult {
    const m = /^(\d+)\/(\d+)$/.exec(label);
    const i = m ? Number(m[1]) : 0;
    const n = m ? Number(m[2]) : 0;
    let acc = this.inProgress.get(from);
    let lost: PartResult['lost'] = null;
    if (i < 1 || n < i) {
      this.inProgress.delete(from);
      return { whole: null, lost: { had: acc?.parts.length ?? 0, of: acc?.total ?? 0, reason: `malformed part label "${label}"` } };
    }
    if (i === 1) {
      // A new message: the previous one's remaining parts never came.
      if (acc) lost = { had: acc.parts.length, of: acc.total, reason: 'a new message began before the last one was complete' };
      acc = { next: 1, total: n, parts: [] };
      this.inProgress.set(from, acc);
    }
    if (!acc || acc.next !== i || acc.total !== n) {
      this.inProgress.delete(from);
      return { whole: null, lost: { had: acc?.parts.length ?? 0, of: n, reason: `part ${label} arrived out of turn` } };
    }
    acc.parts.push(data);
    acc.next++;
    if (i < n) return { whole: null, lost };
    this.inProgress.delete(from);
    return { whole: Buffer.concat(acc.parts), lost };
  }

  forget(from: NodeId): void {
    this.inProgress.delete(from);
  }
}
