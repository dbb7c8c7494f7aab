import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { ChannelState, type ChannelSettings } from '../../../src/channel/state.js';
import { standing, versionOf } from '../../../src/channel/versions.js';
import type { Message } from '../../../src/protocol/message.js';
import { decodeLogEntries, encodeLogEntries } from '../../../src/transport/entry-lists.js';
import { ablyErrorOf } from '../../helpers/errors.js';

const S = '01700000000000-11@eu:e';
const create: Message = { id: 'c:0:0', timestamp: 1, serial: S, name: 'n', clientId: 'alice', data: 'Hello', extras: { headers: { a: 1 } } };
const change = (action: number, vs: string, fields: Partial<Message> = {}): Message => ({ id: `u:${vs}`, timestamp: 2, serial: S, action, ...fields, version: { serial: vs, ...fields.version } });

describe('versionOf', () => {
  it('makes an update of the message as it stands: what it gives replaces, the rest stays, the clientId is the message\'s', () => {
    const v = versionOf(create, { id: 'u:1:0', timestamp: 9, serial: S, action: 1, data: 'Hi', connectionId: 'k', version: { description: 'd' } }, 'V1');
    expect(v).toEqual({ id: 'u:1:0', timestamp: 9, serial: S, action: 1, version: { description: 'd', serial: 'V1', timestamp: 9 }, clientId: 'alice', connectionId: 'k', name: 'n', data: 'Hi', extras: { headers: { a: 1 } } });
    // Data comes with its encoding, or neither does.
    const enc = versionOf({ ...create, data: Buffer.from([1]), encoding: 'utf-8' }, { id: 'u', timestamp: 9, serial: S, action: 2, name: 'm' }, 'V2');
    expect(enc).toMatchObject({ name: 'm', data: Buffer.from([1]), encoding: 'utf-8' });
    expect(versionOf({ ...create, encoding: 'utf-8' }, { id: 'u', timestamp: 9, serial: S, action: 1, data: 'x' }, 'V3')).not.toHaveProperty('encoding');
  });

  it('makes an append of its fragment, under the message\'s name, and refuses one that does not join or is too large', () => {
    expect(versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 5, data: ' World' }, 'V1')).toMatchObject({ action: 5, name: 'n', data: ' World', clientId: 'alice' });
    expect(ablyErrorOf(() => versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 5, data: Buffer.from('x') }, 'V')).code).toBe(40013);
    expect(ablyErrorOf(() => versionOf({ ...create, data: '{}', encoding: 'json' }, { id: 'u', timestamp: 9, serial: S, action: 5, data: '{}', encoding: 'json' }, 'V')).code).toBe(40013);
    expect(ablyErrorOf(() => versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 5, data: 'x', encoding: 'utf-8' }, 'V')).code).toBe(40013);
    expect(ablyErrorOf(() => versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 5, data: 'x'.repeat(100) }, 'V', 100)).code).toBe(40009);
  });

  it("refuses a change by a publisher who may change only its own, of another's message (40160)", () => {
    expect(ablyErrorOf(() => versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 1, data: 'x', ownBy: 'bob' }, 'V')).code).toBe(40160);
    expect(versionOf(create, { id: 'u', timestamp: 9, serial: S, action: 1, data: 'x', ownBy: 'alice' }, 'V')).not.toHaveProperty('ownBy');
  });
});

describe('standing', () => {
  it('applies versions in the order of their serials, whatever order they are given in', () => {
    const versions = [change(5, 'V4', { data: '!' }), change(5, 'V1', { data: ' World' }), change(1, 'V3', { name: 'n', data: 'Hi', clientId: 'alice' }), change(5, 'V2', { data: ' there' })];
    const m = standing(create, versions)!;
    expect({ id: m.id, action: m.action, data: m.data, version: m.version?.serial, timestamp: m.timestamp }).toEqual({ id: 'c:0:0', action: 1, data: 'Hi!', version: 'V4', timestamp: 2 });
    expect(standing(create, [...versions].reverse())).toEqual(m);
    expect(standing(create, [])).toBe(create);
    expect(standing(null, [])).toBeNull();
    // Bytes join to bytes; a delete stands as a delete.
    expect(standing({ ...create, data: Buffer.from([1]) }, [change(5, 'V1', { data: Buffer.from([2]) })])!.data).toEqual(Buffer.from([1, 2]));
    expect(standing(create, [change(2, 'V1', { data: 'Hello' })])!.action).toBe(2);
  });
});

describe('ChannelState with versions', () => {
  const settings: ChannelSettings = { region: 'eu', historyMs: 60_000, dedupMs: 10_000, maxMessages: 100, maxMessageSize: 1000 };
  const msg = (id: string, data: string): Message => ({ id, data, timestamp: 0 });
  const setup = () => {
    const clock = new ManualClock();
    const st = ChannelState.fresh('app:mutable:x', settings, clock.now(), 'ep');
    const [serial] = st.accept([msg('a', 'Hello')], clock.now()).serials;
    return { clock, st, serial: serial! };
  };
  const history = (st: ChannelState) => st.query({ direction: 'forwards', limit: 100, kind: 'message' }).items.map((e) => (e.kind === 'message' ? [e.message.id, e.message.data, e.message.action] : null));

  it('orders a change as an entry of its own, answers with its version serial, and shows the message as it stands', () => {
    const { clock, st, serial } = setup();
    clock.advance(5);
    const r = st.accept([{ id: 'b:1:0', timestamp: 5, serial, action: 5, data: ' World' }], clock.now());
    expect(r.entries).toHaveLength(1);
    expect(r.serials).toEqual([r.entries[0]!.message.version!.serial]);
    expect(r.serials[0]! > serial).toBe(true);
    expect(r.entries[0]!.message).toMatchObject({ serial, action: 5, data: ' World' });
    expect(history(st)).toEqual([['a', 'Hello World', 1]]);
    // A repeat of the change is answered with its version serial, and stores nothing.
    expect(st.accept([{ id: 'b:1:0', timestamp: 5, serial, action: 5, data: ' World' }], clock.now())).toEqual({ entries: [], serials: r.serials });
    expect(st.query({ direction: 'forwards', limit: 1, kind: 'message', messageSerial: serial, versions: true }).items.map((e) => e.kind === 'message' && e.message.data)).toEqual(['Hello', ' World']);
  });

  // A review's reproduction: the log cut a page by its creates' bytes, and each message's
  // latest version was put in after; 300 creates of a few bytes updated to 60 KB made one
  // page of 18 MB.
  it('cuts a history page at HISTORY_PAGE_MAX_BYTES by the messages as they stand, not by their creates', () => {
    const clock = new ManualClock();
    const st = ChannelState.fresh('app:mutable:x', { ...settings, maxMessages: 1000, maxMessageSize: 70_000 }, clock.now(), 'ep');
    const serials = st.accept(Array.from({ length: 300 }, (_, i) => msg(`m${i}`, 'tiny')), clock.now()).serials;
    const big = 'x'.repeat(60_000);
    for (const [i, serial] of serials.entries()) st.accept([{ id: `u:${i}:0`, timestamp: 1, serial, action: 1, data: big }], clock.now());
    const page = st.query({ direction: 'forwards', limit: 1000, kind: 'message' });
    // 8 MiB holds 139 messages of 60,000 bytes (and their ids).
    expect(page.items).toHaveLength(139);
    expect(page.more).toBe(true);
    expect(page.items.every((e) => e.kind === 'message' && e.message.data === big)).toBe(true);
    const next = st.query({ direction: 'forwards', limit: 1000, kind: 'message', cursor: page.items.at(-1)!.serial });
    expect(next.items[0]!.kind === 'message' && next.items[0]!.message.id).toBe('m139');
  });

  it('takes a publish whole or not at all: a change of a message it does not hold (40400) stores nothing of it', () => {
    const { clock, st, serial } = setup();
    const unknown = serial.replace('@eu:', '@us:');
    expect(ablyErrorOf(() => st.accept([msg('c', 'new'), { id: 'b:2:0', timestamp: 5, serial: unknown, action: 1, data: 'x' }], clock.now())).code).toBe(40400);
    expect(st.serial).toBe(1);
    expect(st.hasOrdered('c')).toBe(false);
  });

  it('keeps its versions in a replica, a restored snapshot, and past the create dropped by retention', () => {
    const { clock, st, serial } = setup();
    const replica = ChannelState.fresh('app:mutable:x', settings, clock.now(), 'ep');
    replica.applyEntries(decodeLogEntries(encodeLogEntries(st.range(0)!), true));
    const made = st.accept([{ id: 'b:1:0', timestamp: 5, serial, action: 1, data: 'Hi' }], clock.now());
    replica.applyEntries(decodeLogEntries(encodeLogEntries(made.entries), true));
    const restored = ChannelState.restore(st.snapshot(), settings);
    for (const s of [st, replica, restored]) expect(history(s)).toEqual([['a', 'Hi', 1]]);
    // The create goes (a count cap of one message, and another after it): the version still answers getMessage.
    const capped = ChannelState.restore(st.snapshot(), { ...settings, maxMessages: 1 });
    capped.accept([msg('z', 'next')], clock.now());
    capped.expire(clock.now());
    expect(history(capped).map((h) => h?.[0])).toEqual(['z']);
    expect(capped.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial }).items.map((e) => e.kind === 'message' && e.message.data)).toEqual(['Hi']);
    // Another change after the restore is of the message as it stands.
    restored.accept([{ id: 'b:2:0', timestamp: 6, serial, action: 5, data: '!' }], clock.now());
    expect(history(restored)).toEqual([['a', 'Hi!', 1]]);
  });

  it('joins a version that arrived after a later one (another region\'s) in its serial\'s order, and forgets what retention drops', () => {
    const { clock, st, serial } = setup();
    const entry = (n: number, vs: string, data: string) => ({
      kind: 'message' as const,
      serial: n,
      channelSerial: `eu~ep~${n}`,
      storedAt: clock.now(),
      origin: { region: 'us', epoch: 'u', seq: n },
      message: { id: `us:${n}`, timestamp: n, serial, action: 5, data, version: { serial: vs } },
    });
    const replica = ChannelState.fresh('app:mutable:x', settings, clock.now(), 'ep');
    replica.applyEntries(decodeLogEntries(encodeLogEntries(st.range(0)!), true));
    replica.applyEntries([entry(2, 'V2', 'b')]);
    expect(history(replica)).toEqual([['a', 'Hellob', 1]]);
    replica.applyEntries([entry(3, 'V1', 'a')]);
    expect(history(replica)).toEqual([['a', 'Helloab', 1]]);
    replica.applyEntries([entry(4, 'V3', 'c')]);
    expect(history(replica)).toEqual([['a', 'Helloabc', 1]]);
    // Bounded by what was published: up to log serial 3, the last version is not in it.
    expect(replica.query({ direction: 'forwards', limit: 9, kind: 'message', untilSerial: 3 }).items.map((e) => e.kind === 'message' && e.message.data)).toEqual(['Helloab']);
  });

  it('shows a message whose versions came before its create only once the create is here, and nothing of appends alone', () => {
    const { clock, st, serial } = setup();
    // Another region's message, its create not here yet: only a version of it (from a third region) has come.
    const theirs = serial.replace('@eu:', '@us:');
    // (A create's origin is what its serial says: us, epoch ep, seq 1.)
    const entry = (n: number, m: Message, origin = { region: 'jp', epoch: 'j', seq: n }) => ({ kind: 'message' as const, serial: n, channelSerial: `eu~ep~${n}`, storedAt: clock.now(), origin, message: m });
    const get = (s: ChannelState) => s.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: theirs }).items.map((e) => e.kind === 'message' && e.message.data);
    st.applyEntries([entry(2, { id: 'jp:1', timestamp: 2, serial: theirs, action: 5, data: ' World', version: { serial: `${theirs}~v1` } })]);
    expect(get(st)).toEqual([]);
    expect(ablyErrorOf(() => st.accept([{ id: 'x:1:0', timestamp: 3, serial: theirs, action: 5, data: '!' }], clock.now())).code).toBe(40400);
    st.applyEntries([entry(3, { id: 'us:1', timestamp: 1, serial: theirs, data: 'Hello' }, { region: 'us', epoch: 'ep', seq: 1 })]);
    expect(get(st)).toEqual(['Hello World']);
    expect(get(ChannelState.restore(st.snapshot(), settings))).toEqual(['Hello World']);
  });

  it('stands without its create once retention drops it, the same on the live master as on a copy restored from it', () => {
    const { clock, st, serial } = setup();
    st.accept([{ id: 'b:1:0', timestamp: 5, serial, action: 5, data: ' World' }], clock.now());
    expect(st.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial }).items).toHaveLength(1);
    // Another message pushes the create out (a count cap of one message): appends alone are not the message.
    const capped = ChannelState.restore(st.snapshot(), { ...settings, maxMessages: 1 });
    capped.accept([msg('z', 'next')], clock.now());
    const restored = ChannelState.restore(capped.snapshot(), { ...settings, maxMessages: 1 });
    for (const s of [capped, restored]) {
      expect(s.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: serial }).items).toEqual([]);
      expect(ablyErrorOf(() => s.accept([{ id: 'b:2:0', timestamp: 6, serial, action: 5, data: '!' }], clock.now())).code).toBe(40400);
    }
  });

  it('makes a change after the latest version of the message, also one made where the clock is ahead', () => {
    const { clock, st, serial } = setup();
    const ahead = serial.replace(/^\d{14}/, String(clock.now() + 5_000).padStart(14, '0')).replace('@eu:', '@us:');
    st.applyEntries([{ kind: 'message', serial: 2, channelSerial: 'eu~ep~2', storedAt: clock.now(), origin: { region: 'us', epoch: 'u', seq: 1 }, message: { id: 'us:1', timestamp: 2, serial, action: 1, data: 'Hi', version: { serial: ahead } } }]);
    const made = st.accept([{ id: 'b:1:0', timestamp: 5, serial, action: 5, data: ' all' }], clock.now());
    const [mine] = made.serials;
    expect(mine! > ahead).toBe(true);
    expect(history(st)).toEqual([['a', 'Hi all', 1]]);
    // The channel's clock stays its own: the entry is stored now, and a create after it is made now.
    expect(made.entries[0]!.storedAt).toBe(clock.now());
    expect(st.accept([msg('later', 'x')], clock.now()).serials[0]!.slice(0, 14)).toBe(String(clock.now()).padStart(14, '0'));
    // A version made more than 30 s ahead of this clock: a change of it is refused (50001), nothing stored.
    const far = serial.replace(/^\d{14}/, String(clock.now() + 31_000).padStart(14, '0')).replace('@eu:', '@jp:');
    st.applyEntries([{ kind: 'message', serial: st.serial + 1, channelSerial: 'x', storedAt: clock.now(), origin: { region: 'us', epoch: 'u', seq: 2 }, message: { id: 'us:2', timestamp: 2, serial, action: 1, data: 'far', version: { serial: far } } }]);
    const before = st.serial;
    expect(ablyErrorOf(() => st.accept([{ id: 'b:2:0', timestamp: 6, serial, action: 5, data: '!' }], clock.now())).code).toBe(50001);
    expect(st.serial).toBe(before);
  });

  it('checks a batch\'s changes of one message one after the other, and stores none where one is refused', () => {
    const { clock, st, serial } = setup();
    const append = (id: string, data: string | Buffer) => ({ id, timestamp: 5, serial, action: 5, data });
    expect(ablyErrorOf(() => st.accept([append('b:1:0', 'text'), append('b:1:1', Buffer.from('bytes'))], clock.now())).code).toBe(40013);
    expect(ablyErrorOf(() => st.accept([append('b:2:0', 'x'.repeat(600)), append('b:2:1', 'y'.repeat(600))], clock.now())).code).toBe(40009);
    expect(st.serial).toBe(1);
    expect(st.hasOrdered('b:1:0') || st.hasOrdered('b:2:0')).toBe(false);
    expect(st.accept([append('b:3:0', ' one'), append('b:3:1', ' two')], clock.now()).entries).toHaveLength(2);
    expect(history(st)).toEqual([['a', 'Hello one two', 1]]);
  });

  it('shows the same on the live master and a copy restored from it when retention drops a version that came before the create, and a bounded read never a create past its bound', () => {
    const { clock, st, serial } = setup();
    const theirs = serial.replace('@eu:', '@us:');
    const at = (n: number, m: Message, origin = { region: 'jp', epoch: 'j', seq: n }) => ({ kind: 'message' as const, serial: n, channelSerial: `eu~ep~${n}`, storedAt: clock.now(), origin, message: m });
    st.applyEntries([at(2, { id: 'jp:1', timestamp: 2, serial: theirs, action: 5, data: '+v1', version: { serial: `${theirs}~1` } })]);
    clock.advance(settings.historyMs - 10);
    st.applyEntries([at(3, { id: 'us:1', timestamp: 1, serial: theirs, data: 'Hello' }, { region: 'us', epoch: 'ep', seq: 1 })]);
    const get = (s: ChannelState, untilSerial?: number) =>
      s.query({ direction: 'backwards', limit: 1, kind: 'message', messageSerial: theirs, ...(untilSerial !== undefined ? { untilSerial } : {}) }).items.map((e) => e.kind === 'message' && e.message.data);
    expect(get(st)).toEqual(['Hello+v1']);
    // Read up to log serial 2, the create (at 3) is not there yet: appends alone are not the message.
    expect(get(st, 2)).toEqual([]);
    st.applyEntries([at(4, { id: 'jp:2', timestamp: 3, serial: theirs, action: 5, data: '+v2', version: { serial: `${theirs}~2` } })]);
    clock.advance(20);
    st.expire(clock.now()); // entries 1 and 2 are older than the history kept: the first version goes
    expect(st.baseSerial).toBe(2);
    expect(get(st)).toEqual(['Hello+v2']);
    expect(get(ChannelState.restore(st.snapshot(), settings))).toEqual(['Hello+v2']);
  });
});
