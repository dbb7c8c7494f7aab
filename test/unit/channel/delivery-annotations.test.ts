/**
 * Annotations in delivery (src/channel/delivery.ts, src/protocol/frames.ts): what each
 * subscriber is sent of an annotation's entry by its modes (the summary where it takes
 * messages, the annotation where it asked for them, nothing with a filter), on the
 * shared path and on its own, and a delta subscriber's next message whole after one.
 */
import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { compileFilter } from '../../../src/channel/filter.js';
import { deliverEntries, type SubRec } from '../../../src/channel/delivery.js';
import type { LocalSubscriber } from '../../../src/channel/subscriber.js';
import { Action } from '../../../src/protocol/actions.js';
import type { Frame } from '../../../src/protocol/codec.js';
import { MessageAction } from '../../../src/protocol/message.js';
import { SharedFrame } from '../../../src/protocol/shared-frame.js';
import type { ProtocolMessage } from '../../../src/protocol/types.js';

class Sub implements LocalSubscriber {
  readonly format = 'json' as const;
  readonly publishes = false;
  readonly enters = false;
  readonly occupancy = null;
  readonly channelName = 'ch';
  readonly sent: (Frame | SharedFrame)[][] = [];

  constructor(
    readonly connectionId: string,
    private readonly messages: boolean,
    readonly annotations: boolean,
    readonly filter: ReturnType<typeof compileFilter> | null = null,
    readonly echo = true,
    readonly delta = false,
  ) {}

  wants(kind: LogEntry['kind']): boolean {
    return kind === 'message' && this.messages;
  }

  send(frames: readonly (Frame | SharedFrame)[]): void {
    this.sent.push([...frames]);
  }

  discontinuity(): void {}

  /** The channelSerial of each frame it was sent. */
  serials(): string[] {
    return this.sent.flat().map((f) => (JSON.parse(f instanceof SharedFrame ? f.payload.toString() : String(f)) as ProtocolMessage).channelSerial!);
  }

  /** What it was sent, as [action, what] per item: a message's data or action 4, an annotation's name. */
  items(): [number, string][] {
    return this.sent.flat().flatMap((f) => {
      const pm = JSON.parse(f instanceof SharedFrame ? f.payload.toString() : String(f)) as ProtocolMessage;
      if (pm.action === Action.ANNOTATION) return pm.annotations!.map((a): [number, string] => [pm.action, String(a.name)]);
      return pm.messages!.map((m): [number, string] => [pm.action, m.action === MessageAction.SUMMARY ? `summary ${JSON.stringify(m.annotations?.summary)}` : String(m.data)]);
    });
  }
}

let serial = 0;
const at = () => ({ serial: ++serial, channelSerial: `s${serial}`, storedAt: 0, origin: { region: 'r1', epoch: 'e', seq: serial } });
const msg = (data: string, from = 'pub'): LogEntry => ({ kind: 'message', ...at(), message: { id: `m${serial}`, name: 'n', data, connectionId: from, timestamp: 0 } });
const ann = (name: string, total: number, from = 'pub', data = 'annotation data'): LogEntry => ({
  kind: 'message',
  ...at(),
  message: { id: `a${serial}`, name, data, connectionId: from, timestamp: 0, serial: 'M', action: MessageAction.ANNOTATION, annotation: { action: 0, type: 't:total.v1', serial: `A${serial}` }, summary: { 't:total.v1': { total } } },
});
const rec = (after: number): SubRec => ({ after, queue: null, backlog: [], sync: null });

describe('delivery of annotations', () => {
  it('sends each subscriber what its modes ask of an annotation, on the shared path and on its own', () => {
    const start = serial;
    const entries = [msg('hello'), ann('up', 1), ann('down', 2)];
    const both = new Sub('c1', true, true);
    const messagesOnly = new Sub('c2', true, false);
    const annotationsOnly = new Sub('c3', false, true);
    const filtered = new Sub('c4', true, true, compileFilter("name == 'n'"));
    // Echo off, for its own annotations: the summaries and annotations still come (it published them, not the message).
    const quiet = new Sub('pub', true, true, null, false);
    const subs = new Map<LocalSubscriber, SubRec>([both, messagesOnly, annotationsOnly, filtered, quiet].map((s) => [s, rec(start)]));
    deliverEntries(subs, entries);
    const summary = (total: number) => `summary {"t:total.v1":{"total":${total}}}`;
    // The annotations first, then only the last summary of the message (made with both).
    const all: [number, string][] = [
      [Action.MESSAGE, 'hello'],
      [Action.ANNOTATION, 'up'],
      [Action.ANNOTATION, 'down'],
      [Action.MESSAGE, summary(2)],
    ];
    expect(both.items()).toEqual(all);
    expect(messagesOnly.items()).toEqual([
      [Action.MESSAGE, 'hello'],
      [Action.MESSAGE, summary(2)],
    ]);
    expect(annotationsOnly.items()).toEqual([
      [Action.ANNOTATION, 'up'],
      [Action.ANNOTATION, 'down'],
    ]);
    expect(filtered.items()).toEqual([[Action.MESSAGE, 'hello']]);
    expect(quiet.items()).toEqual(all.slice(1));
    // Runs of one kind go in one frame, with its last entry's channelSerial.
    expect(messagesOnly.serials()).toEqual([`s${start + 3}`]);
    expect(annotationsOnly.serials()).toEqual([`s${start + 3}`]);
    expect(both.serials()).toEqual([`s${start + 1}`, `s${start + 3}`, `s${start + 3}`]);
  });

  it("sends no summary of an annotation stored without one (its message was not held), and each message's last in a delivery", () => {
    const start = serial;
    const sub = new Sub('c1', true, false);
    const none = ann('up', 0);
    if (none.kind === 'message') delete none.message.summary;
    const other = ann('x', 7);
    if (other.kind === 'message') other.message.serial = 'N';
    deliverEntries(new Map<LocalSubscriber, SubRec>([[sub, rec(start)]]), [ann('up', 1), other, none]);
    expect(sub.items()).toEqual([
      [Action.MESSAGE, 'summary {"t:total.v1":{"total":1}}'],
      [Action.MESSAGE, 'summary {"t:total.v1":{"total":7}}'],
    ]);
  });

  it('sends a delta subscriber the message after a summary whole (the SDK holds no data of a summary)', () => {
    const start = serial;
    const d = new Sub('c1', true, false, null, true, true);
    const r = rec(start);
    const subs = new Map<LocalSubscriber, SubRec>([[d, r]]);
    deliverEntries(subs, [msg('a'.repeat(200))]);
    // The annotation's own data is like the next message's: it must not become the base of a delta.
    deliverEntries(subs, [ann('up', 1, 'pub', `${'a'.repeat(200)}c`), msg(`${'a'.repeat(200)}b`)]);
    const last = JSON.parse(String(d.sent.flat().at(-1) instanceof SharedFrame ? (d.sent.flat().at(-1) as SharedFrame).payload : d.sent.flat().at(-1))) as ProtocolMessage;
    expect(last.messages!.at(-1)).toMatchObject({ data: `${'a'.repeat(200)}b` });
    expect(last.messages!.at(-1)!.extras).toBeUndefined();
    expect(r.deltaBase?.id).toBe(`m${start + 3}`);
  });
});
