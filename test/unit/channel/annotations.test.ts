import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import type { LogEntry } from '../../../src/channel/entry.js';
import { MessageAction, type Message } from '../../../src/protocol/message.js';
import { decodeLogEntries, encodeLogEntries } from '../../../src/transport/entry-lists.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';
import { ChannelLog } from '../../../src/channel/log.js';
import { MAX_ANNOTATION_NAMES, MAX_ANNOTATION_TYPES } from '../../../src/channel/summary.js';
import { ablyErrorOf } from '../../helpers/errors.js';

const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 100, maxMessageSize: 1000 };

/** An annotation of `serial` as a publisher's node sends it to the master. */
const ann = (id: string, serial: string, type: string, fields: Partial<Message> & { action?: number; count?: number } = {}): Message => {
  const { action = 0, count, ...rest } = fields;
  return { id, timestamp: 1, serial, action: MessageAction.ANNOTATION, annotation: { action, type, ...(count !== undefined ? { count } : {}) }, ...rest };
};

const setup = () => {
  const clock = new ManualClock();
  const st = ChannelState.fresh('app:mutable:x', settings, clock.now(), 'ep');
  const [serial] = st.accept([{ id: 'a', data: 'Hello', timestamp: 0 }], clock.now()).serials;
  return { clock, st, serial: serial! };
};

const summaryOf = (st: ChannelState, serial: string) => {
  const e = st.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial }).items[0];
  return e?.kind === 'message' ? e.message.summary : undefined;
};
const history = (st: ChannelState) => st.query({ direction: 'forwards', limit: 100, kind: 'message' }).items.map((e) => (e.kind === 'message' ? [e.message.data, e.message.summary] : null));
const listed = (st: ChannelState, serial: string) =>
  st.query({ direction: 'forwards', limit: 100, kind: 'message', messageSerial: serial, annotations: true }).items.map((e) => (e.kind === 'message' ? e.message.id : null));

describe('ChannelState with annotations', () => {
  it('stores each as an entry of its own with its serial and the summary with it; history and getMessage show the message with its latest summary, not the annotations', () => {
    const { clock, st, serial } = setup();
    const r1 = st.accept([ann('x:1', serial, 'r:distinct.v1', { name: 'up', clientId: 'alice' })], clock.now());
    clock.advance(1);
    const r2 = st.accept([ann('x:2', serial, 'r:distinct.v1', { name: 'up', clientId: 'bob' }), ann('x:3', serial, 'v:total.v1')], clock.now());
    expect(r1.serials[0]! > serial && r2.serials[0]! > r1.serials[0]!).toBe(true);
    const stored = [...r1.entries, ...r2.entries].map((e) => e.message);
    expect(stored.map((m) => m.annotation?.serial)).toEqual([...r1.serials, ...r2.serials]);
    expect(stored[0]!.summary).toEqual({ 'r:distinct.v1': { up: { total: 1, clientIds: ['alice'], clipped: false } } });
    const latest = { 'r:distinct.v1': { up: { total: 2, clientIds: ['alice', 'bob'], clipped: false } }, 'v:total.v1': { total: 1 } };
    expect(stored[2]!.summary).toEqual(latest);
    expect(history(st)).toEqual([['Hello', latest]]);
    expect(summaryOf(st, serial)).toEqual(latest);
    // Bounded by what was published up to the first annotation: its summary.
    const bounded = st.query({ direction: 'forwards', limit: 9, kind: 'message', untilSerial: 2 }).items[0];
    expect(bounded?.kind === 'message' && bounded.message.summary).toEqual(stored[0]!.summary);
    expect(listed(st, serial)).toEqual(['x:1', 'x:2', 'x:3']);
    // A repeat (same id) is answered with the first's serial, and changes nothing.
    expect(st.accept([ann('x:1', serial, 'r:distinct.v1', { name: 'up', clientId: 'alice' })], clock.now())).toEqual({ entries: [], serials: [r1.serials[0]] });
  });

  it('refuses one of a message it does not hold (40400), storing nothing of the publish', () => {
    const { clock, st, serial } = setup();
    const other = serial.replace('@eu:', '@us:');
    expect(ablyErrorOf(() => st.accept([ann('x:1', serial, 't:total.v1'), ann('x:2', other, 't:total.v1')], clock.now())).code).toBe(40400);
    expect(listed(st, serial)).toEqual([]);
    expect(summaryOf(st, serial)).toBeUndefined();
  });

  it('is not a version: an annotation changes neither the message nor a change of it', () => {
    const { clock, st, serial } = setup();
    st.accept([ann('x:1', serial, 't:total.v1', { data: 'not the message' })], clock.now());
    st.accept([{ id: 'u:1', timestamp: 2, serial, action: MessageAction.APPEND, data: ' World' }], clock.now());
    expect(history(st)).toEqual([['Hello World', { 't:total.v1': { total: 1 } }]]);
    expect(st.query({ direction: 'forwards', limit: 9, kind: 'message', messageSerial: serial, versions: true }).items.map((e) => e.kind === 'message' && e.message.data)).toEqual(['Hello', ' World']);
  });

  it('sums up one that arrives after a later one (another region\'s) in the order of their serials, as a region that had them in order does', () => {
    const { clock, st, serial } = setup();
    // From another region: a unique.v1 vote moved from a to b, the move arriving first.
    const remote = (seq: number, vs: string, name: string): LogEntry => ({
      kind: 'message',
      serial: 0,
      channelSerial: '',
      storedAt: clock.now(),
      origin: { region: 'us', epoch: 'u', seq },
      message: { ...ann(`us:${seq}`, serial, 'v:unique.v1', { name, clientId: 'carol' }), annotation: { action: 0, type: 'v:unique.v1', serial: vs } },
    });
    const out = st.ingest({ region: 'us', epoch: 'u', startSeq: 0, gapBefore: false, entries: [remote(1, '01700000000002-11@us:u', 'b')] }, clock.now());
    expect(out.entries).toHaveLength(1);
    st.ingest({ region: 'us', epoch: 'u', gapBefore: false, entries: [remote(2, '01700000000001-11@us:u', 'a')] }, clock.now());
    // b is the later vote: it stands, whatever order they came in.
    expect(summaryOf(st, serial)).toEqual({ 'v:unique.v1': { b: { total: 1, clientIds: ['carol'], clipped: false } } });
  });

  it('keeps them in a replica and a restored snapshot, which sum up the next as the master would', () => {
    const { clock, st, serial } = setup();
    const replica = ChannelState.fresh('app:mutable:x', settings, clock.now(), 'ep');
    replica.applyEntries(decodeLogEntries(encodeLogEntries(st.range(0)!), true));
    const made = st.accept([ann('x:1', serial, 'c:multiple.v1', { name: 'n', clientId: 'alice', count: 3 }), ann('x:2', serial, 'c:multiple.v1', { name: 'n', count: 2 })], clock.now());
    replica.applyEntries(decodeLogEntries(encodeLogEntries(made.entries), true));
    const restored = ChannelState.restore(st.snapshot(), settings);
    const want = { 'c:multiple.v1': { n: { total: 5, clientIds: { alice: 3 }, totalUnidentified: 2, clipped: false, totalClientIds: 1 } } };
    for (const s of [st, replica, restored]) expect(summaryOf(s, serial)).toEqual(want);
    // The next one, on the master and on a copy that took over: the same.
    const next = ann('x:3', serial, 'c:multiple.v1', { action: 1, name: 'n', clientId: 'alice' });
    const a = st.accept([next], clock.now()).entries[0]!.message.summary;
    const b = restored.accept([next], clock.now()).entries[0]!.message.summary;
    const c = replica.accept([next], clock.now()).entries[0]!.message.summary;
    expect(a).toEqual({ 'c:multiple.v1': { n: { total: 2, clientIds: {}, totalUnidentified: 2, clipped: false, totalClientIds: 0 } } });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('forgets what retention drops: the message, its annotations and its summary', () => {
    const { clock, st, serial } = setup();
    st.accept([ann('x:1', serial, 't:total.v1')], clock.now());
    clock.advance(settings.historyMs + 1);
    st.expire(clock.now());
    expect(listed(st, serial)).toEqual([]);
    expect(summaryOf(st, serial)).toBeUndefined();
    expect(ablyErrorOf(() => st.accept([ann('x:2', serial, 't:total.v1')], clock.now())).code).toBe(40400);
  });
});

describe('ChannelState with annotations, across regions', () => {
  /** An annotation another region stored (its own serial given), as it arrives here. */
  const remote = (clock: ManualClock, seq: number, serial: string, vs: string, fields: Partial<Message> & { action?: number } = {}): LogEntry => {
    const { action = 0, ...rest } = fields;
    return {
      kind: 'message',
      serial: 0,
      channelSerial: '',
      storedAt: clock.now(),
      origin: { region: 'us', epoch: 'u', seq },
      message: { id: `us:${seq}`, timestamp: 1, serial, action: MessageAction.ANNOTATION, annotation: { action, type: 'f:flag.v1', serial: vs }, clientId: 'alice', summary: { theirs: true }, ...rest },
    };
  };

  it("orders one made here after the latest of its message's, also one made where the clock is ahead: a delete here takes back a flag made there", () => {
    const { clock, st, serial } = setup();
    // alice flags it in us, whose clock is 200 ms ahead; the flag arrives; alice deletes it here.
    const ahead = `0${clock.now() + 200}-11@us:u`;
    st.ingest({ region: 'us', epoch: 'u', startSeq: 0, gapBefore: false, entries: [remote(clock, 1, serial, ahead)] }, clock.now());
    expect(summaryOf(st, serial)).toEqual({ 'f:flag.v1': { total: 1, clientIds: ['alice'], clipped: false } });
    const [own] = st.accept([ann('x:1', serial, 'f:flag.v1', { action: 1, clientId: 'alice' })], clock.now()).serials;
    expect(own! > ahead).toBe(true);
    expect(summaryOf(st, serial)).toEqual({ 'f:flag.v1': { total: 0, clientIds: [], clipped: false } });
    // One made more than 30 s ahead of this clock: 50001, nothing stored.
    const far = `0${clock.now() + 40_000}-11@us:u`;
    st.ingest({ region: 'us', epoch: 'u', gapBefore: false, entries: [remote(clock, 2, serial, far)] }, clock.now());
    expect(ablyErrorOf(() => st.accept([ann('x:2', serial, 'f:flag.v1', { clientId: 'bob' })], clock.now())).code).toBe(50001);
  });

  it("stores another region's annotation of a message not held here without a summary, and counts it once the message is here", () => {
    const { clock, st } = setup();
    const elsewhere = `0${clock.now()}-11@ap:a`;
    const [e] = st.ingest({ region: 'us', epoch: 'u', startSeq: 0, gapBefore: false, entries: [remote(clock, 1, elsewhere, `0${clock.now()}-12@us:u`)] }, clock.now()).entries;
    expect(e?.kind === 'message' && e.message.summary).toBeUndefined();
    clock.advance(10_000);
    // The message arrives from its own region: its summary counts the annotation.
    st.ingest({ region: 'ap', epoch: 'a', startSeq: 0, gapBefore: false, entries: [{ kind: 'message', serial: 0, channelSerial: '', storedAt: clock.now(), origin: { region: 'ap', epoch: 'a', seq: 1 }, message: { id: 'ap:1', timestamp: 1, data: 'x', serial: elsewhere } }] }, clock.now());
    expect(summaryOf(st, elsewhere)).toEqual({ 'f:flag.v1': { total: 1, clientIds: ['alice'], clipped: false } });
    // Retention drops the annotation (it came 10 s before) and keeps the message: no longer counted.
    const capped = ChannelState.restore(st.snapshot(), { ...settings, historyMs: 5_000 });
    capped.expire(clock.now());
    expect(summaryOf(capped, elsewhere)).toBeUndefined();
    expect(capped.query({ direction: 'forwards', limit: 9, kind: 'message', messageSerial: elsewhere }).items).toHaveLength(1);
  });

  it("sums up the last of a batch's annotations it stores, not one it holds already", () => {
    const { clock, st, serial } = setup();
    const a1 = remote(clock, 1, serial, `0${clock.now()}-11@us:u`, { annotation: { action: 0, type: 'v:total.v1', serial: `0${clock.now()}-11@us:u` } });
    st.ingest({ region: 'us', epoch: 'u', startSeq: 0, gapBefore: false, entries: [a1] }, clock.now());
    // Sent again after the next one (a replay from before it): the new one is what is stored, and summed up.
    const a2 = remote(clock, 2, serial, `0${clock.now()}-12@us:u`, { annotation: { action: 0, type: 'v:total.v1', serial: `0${clock.now()}-12@us:u` } });
    const again = { ...a1, origin: { ...a1.origin, seq: 3 } };
    const [e] = st.ingest({ region: 'us', epoch: 'u', gapBefore: false, entries: [a2, again] }, clock.now()).entries;
    expect(e?.kind === 'message' && e.message.summary).toEqual({ 'v:total.v1': { total: 2 } });
  });

  it('adds one that comes out of order without reading the log again', () => {
    const { clock, st, serial } = setup();
    st.accept([ann('x:0', serial, 'v:total.v1')], clock.now());
    const reads = vi.spyOn(ChannelLog.prototype, 'range');
    const entries = Array.from({ length: 50 }, (_, i) => remote(clock, i + 1, serial, `0${clock.now() - 1000 + i}-11@us:u`, { annotation: { action: 0, type: 'v:total.v1', serial: `0${clock.now() - 1000 + i}-11@us:u` } }));
    st.ingest({ region: 'us', epoch: 'u', startSeq: 0, gapBefore: false, entries }, clock.now());
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
    expect(summaryOf(st, serial)).toEqual({ 'v:total.v1': { total: 51 } });
  });

  it("gives a summary to a batch's last annotation of each message only, made with the others", () => {
    const { clock, st, serial } = setup();
    const [other] = st.accept([{ id: 'b', data: 'x', timestamp: 0 }], clock.now()).serials;
    const made = st.accept([ann('x:1', serial, 'v:total.v1'), ann('x:2', other!, 'v:total.v1'), ann('x:3', serial, 'v:total.v1')], clock.now()).entries;
    expect(made.map((e) => e.message.summary)).toEqual([undefined, { 'v:total.v1': { total: 1 } }, { 'v:total.v1': { total: 2 } }]);
  });

  it('counts a batch\'s new types and names with the ones before it in the batch, and no delete', () => {
    const { clock, st, serial } = setup();
    const batch = Array.from({ length: MAX_ANNOTATION_NAMES + 1 }, (_, i) => ann(`n:${i}`, serial, 'r:distinct.v1', { name: `n${i}`, clientId: 'c' }));
    expect(ablyErrorOf(() => st.accept(batch, clock.now())).code).toBe(40003);
    expect(listed(st, serial)).toEqual([]);
    const types = Array.from({ length: MAX_ANNOTATION_TYPES + 1 }, (_, i) => ann(`t:${i}`, serial, `t${i}:total.v1`));
    expect(ablyErrorOf(() => st.accept(types, clock.now())).code).toBe(40003);
    // Deletes of names never given take no room.
    st.accept(Array.from({ length: MAX_ANNOTATION_NAMES }, (_, i) => ann(`d:${i}`, serial, 'r:distinct.v1', { action: 1, name: `gone${i}`, clientId: 'c' })), clock.now());
    st.accept([ann('x:1', serial, 'r:distinct.v1', { name: 'kept', clientId: 'c' })], clock.now());
    expect(summaryOf(st, serial)).toEqual({ 'r:distinct.v1': { kept: { total: 1, clientIds: ['c'], clipped: false } } });
  });

  it(`refuses a type past ${MAX_ANNOTATION_TYPES} for a message, or a name past ${MAX_ANNOTATION_NAMES} for a type (40003)`, () => {
    const { clock, st, serial } = setup();
    st.accept(Array.from({ length: MAX_ANNOTATION_TYPES }, (_, i) => ann(`t:${i}`, serial, `t${i}:total.v1`)), clock.now());
    expect(ablyErrorOf(() => st.accept([ann('t:x', serial, 'tx:total.v1')], clock.now())).code).toBe(40003);
    st.accept([ann('t:again', serial, 't0:total.v1')], clock.now());
    const [other] = st.accept([{ id: 'b', data: 'x', timestamp: 0 }], clock.now()).serials;
    st.accept(Array.from({ length: MAX_ANNOTATION_NAMES }, (_, i) => ann(`n:${i}`, other!, 'r:distinct.v1', { name: `n${i}`, clientId: 'c' })), clock.now());
    expect(ablyErrorOf(() => st.accept([ann('n:x', other!, 'r:distinct.v1', { name: 'nx', clientId: 'c' })], clock.now())).code).toBe(40003);
    st.accept([ann('n:again', other!, 'r:distinct.v1', { name: 'n0', clientId: 'd' })], clock.now());
  });

  it('lists them a page at a time, after the last one listed, without their summaries', () => {
    const { clock, st, serial } = setup();
    st.accept(['a', 'b', 'c'].map((n) => ann(`x:${n}`, serial, 'r:distinct.v1', { name: n, clientId: 'c' })), clock.now());
    const page = (after?: string) => st.query({ direction: 'forwards', limit: 2, kind: 'message', messageSerial: serial, annotations: true, ...(after ? { after } : {}) });
    const first = page();
    expect([first.items.map((e) => e.kind === 'message' && e.message.name), first.more]).toEqual([['a', 'b'], true]);
    expect(first.items.every((e) => e.kind === 'message' && e.message.summary === undefined)).toBe(true);
    const last = first.items.at(-1)!;
    const second = page(last.kind === 'message' ? last.message.annotation!.serial : '');
    expect([second.items.map((e) => e.kind === 'message' && e.message.name), second.more]).toEqual([['c'], false]);
  });
});

describe('the entry codec with annotations', () => {
  it('round-trips an annotation and its summary, and tells it apart from a version in a restore', () => {
    const { clock, st, serial } = setup();
    const [e] = st.accept([ann('x:1', serial, 'r:distinct.v1', { name: '__proto__', clientId: 'alice', count: 2, data: Buffer.from([1]), extras: { k: 'v' } })], clock.now()).entries;
    expect(decodeLogEntries(encodeLogEntries([e!]), true)).toEqual([e]);
    expect(e!.message.summary).toEqual(JSON.parse('{"r:distinct.v1":{"__proto__":{"total":1,"clientIds":["alice"],"clipped":false}}}'));
    const kinds: string[] = [];
    entryListCodec.scanLogEntryList(encodeLogEntries(st.range(0)!), (h) => kinds.push(`${h.kind}:${h.target}`));
    expect(kinds).toEqual(['message:', `annotation:${serial}`]);
  });
});
