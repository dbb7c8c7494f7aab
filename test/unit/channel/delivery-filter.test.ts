/**
 * Subscription filters in delivery (src/channel/delivery.ts): what a filtered subscriber
 * is sent on the shared path and on its own (echo off), the frames shared per filter,
 * and the position it is told when its filter held back a whole batch for a while.
 */
import { describe, expect, it, vi } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { compileFilter } from '../../../src/channel/filter.js';
import { deliverEntries, FILTER_POSITION_MS, type SubRec } from '../../../src/channel/delivery.js';
import type { LocalSubscriber } from '../../../src/channel/subscriber.js';
import type { Frame } from '../../../src/protocol/codec.js';
import { SharedFrame } from '../../../src/protocol/shared-frame.js';

class Sub implements LocalSubscriber {
  readonly format = 'json' as const;
  readonly publishes = false;
  readonly enters = false;
  readonly occupancy = null;
  readonly sent: (Frame | SharedFrame)[][] = [];
  readonly positions: string[] = [];

  constructor(
    readonly connectionId: string,
    readonly channelName: string,
    readonly filter: ReturnType<typeof compileFilter> | null = null,
    readonly echo = true,
  ) {}

  wants(kind: LogEntry['kind']): boolean {
    return kind === 'message';
  }

  send(frames: readonly (Frame | SharedFrame)[]): void {
    this.sent.push([...frames]);
  }

  discontinuity(): void {}

  position(channelSerial: string): void {
    this.positions.push(channelSerial);
  }

  /** The data of every message sent, in order. */
  data(): string[] {
    return this.sent.flat().flatMap((f) => (JSON.parse(f instanceof SharedFrame ? f.payload.toString() : String(f)) as { messages: { data: string }[] }).messages.map((m) => m.data));
  }
}

let serial = 0;
function msg(name: string, from = 'pub'): LogEntry {
  serial++;
  return { kind: 'message', serial, channelSerial: `s${serial}`, storedAt: 0, origin: { region: 'r1', epoch: 'e', seq: serial }, message: { id: `m${serial}`, name, data: `${name}${serial}`, connectionId: from, timestamp: 0 } };
}

const rec = (after: number): SubRec => ({ after, queue: null, backlog: [], sync: null });

describe('delivery with subscription filters', () => {
  it('sends each filtered subscriber what passes, on the shared path and on its own, and shares frames per filter', () => {
    const keep = compileFilter("name == 'keep'");
    const a = new Sub('c1', '[filter=a]ch', keep);
    const b = new Sub('c2', '[filter=a]ch', keep);
    const own = new Sub('c3', '[filter=a]ch', keep, false); // echo off: its own path
    const other = new Sub('c4', '[filter=b]ch', compileFilter("name == 'drop'"));
    const plain = new Sub('c5', 'ch');
    const subs = new Map<LocalSubscriber, SubRec>([a, b, own, other, plain].map((s) => [s, rec(serial)]));
    const batch = [msg('keep'), msg('drop'), msg('keep', 'c3'), msg('other')];
    expect(deliverEntries(subs, batch)).toBe(5);
    const [k1, d2, k3, o4] = batch.map((e) => (e.kind === 'message' ? String(e.message.data) : ''));
    expect(a.data()).toEqual([k1, k3]);
    expect(own.data()).toEqual([k1]);
    expect(other.data()).toEqual([d2]);
    expect(plain.data()).toEqual([k1, d2, k3, o4]);
    // The same filter and name: the same frame objects.
    expect(b.sent[0]![0]).toBe(a.sent[0]![0]);
    expect(other.sent[0]![0]).not.toBe(a.sent[0]![0]);
    // A batch nothing of which passes: nothing sent, none counted as reached but the plain one.
    expect(deliverEntries(subs, [msg('other')])).toBe(1);
    expect(a.sent).toHaveLength(1);
    expect([...subs.values()].every((r) => r.after === serial)).toBe(true);
  });

  it('tells a subscriber its filter held a batch back from where the stream is: at once, or FILTER_POSITION_MS after it was last told', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    try {
      const keep = compileFilter("name == 'keep'");
      const shared = new Sub('c1', '[filter=a]ch', keep);
      const own = new Sub('c2', '[filter=a]ch', keep, false); // echo off: its own path
      const subs = new Map<LocalSubscriber, SubRec>([shared, own].map((s) => [s, rec(serial)]));
      const a = msg('drop');
      deliverEntries(subs, [a]);
      expect(shared.positions).toEqual([a.channelSerial]);
      expect(own.positions).toEqual([a.channelSerial]);
      // Soon after: not yet, but later, where the last such batch ended, with nothing more coming.
      const b = msg('drop');
      deliverEntries(subs, [msg('drop'), b]);
      expect(shared.positions).toHaveLength(1);
      vi.advanceTimersByTime(FILTER_POSITION_MS + 1);
      expect(shared.positions).toEqual([a.channelSerial, b.channelSerial]);
      expect(own.positions).toEqual([a.channelSerial, b.channelSerial]);
      vi.advanceTimersByTime(10 * FILTER_POSITION_MS);
      expect(shared.positions).toHaveLength(2);
      // A message sent is as good as telling: nothing held back since, nothing told.
      deliverEntries(subs, [msg('keep')]);
      deliverEntries(subs, [msg('drop')]);
      deliverEntries(subs, [msg('keep')]);
      vi.advanceTimersByTime(2 * FILTER_POSITION_MS);
      expect(shared.positions).toHaveLength(2);
      expect(own.positions).toHaveLength(2);
      expect(shared.data()).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
