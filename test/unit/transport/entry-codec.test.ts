import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import * as pb from '../../../src/gen/node.pb.js';
import { acceptedAt } from '../../../src/transport/entry-origin.js';
import { entryListCodec as codec } from '../../../src/transport/entry-codec.js';
import { entryFromPb, entryToPb, messageToPb, presenceToPb } from '../../../src/transport/node-codec-data.js';

const NOW = 1_700_000_000_000;

function message(serial: number, m: Partial<Extract<LogEntry, { kind: 'message' }>['message']>, over: Partial<LogEntry> = {}): LogEntry {
  return {
    kind: 'message',
    serial,
    channelSerial: `ep~${serial}`,
    storedAt: NOW + serial,
    origin: { region: 'eu', epoch: 'e1', seq: serial + 10 },
    message: { id: `c:${serial}:0`, timestamp: NOW, ...m },
    ...over,
  } as LogEntry;
}

/** Entries that reach every branch of the encoder: optional fields, both data kinds, every length-prefix size, non-ASCII, large and negative numbers. */
function variety(): LogEntry[] {
  return [
    message(1, { name: 'n', clientId: 'alice', connectionId: 'c', data: 'héllo ✓ 𝄞', encoding: 'utf-8', extras: { headers: { a: 'b' } } }),
    message(2, { id: '', timestamp: 0 }),
    message(3, { data: Buffer.from([0, 255, 7]) }),
    message(4, { data: new Uint8Array(0) }),
    message(5, { name: 'ünï', connectionId: 'ab', serial: '01700000000000-15@eu:e1' }),
    message(5, { serial: '01700000000000-15@eu:e1', action: 5, version: { serial: '01700000000009-19@us:u', timestamp: 3.5, clientId: 'c', description: 'd', metadata: { a: 'b' } } }),
    message(5, { serial: '01700000000000-15@eu:e1', action: 2, version: {}, ownBy: 'alice' }),
    message(6, { data: 'x'.repeat(127) }),
    message(7, { data: 'y'.repeat(128), connectionId: 'ac' }),
    message(8, { data: '€'.repeat(50), connectionId: 'ab' }), // 50 units, 150 bytes: the prefix grows
    message(9, { data: 'z'.repeat(20_000) }), // entry and message lengths need three bytes
    message(10, { data: '\ud800 lone surrogate' }),
    message(2 ** 40 + 3, { timestamp: 1.5 }, { storedAt: -5, origin: { region: 'us-east', epoch: 'e2', seq: 2 ** 53 - 1 } }),
    message(0, {}, { channelSerial: '', storedAt: 0, origin: { region: '', epoch: '', seq: 0 } }),
    {
      kind: 'presence',
      serial: 13,
      channelSerial: 'ep~13',
      storedAt: NOW,
      origin: { region: 'eu', epoch: 'e1', seq: 23 },
      host: 'eu-n2',
      presence: { id: 'c:3:0', action: 2, clientId: 'alice', connectionId: 'c', data: 'here', encoding: 'json', extras: { x: 1 }, timestamp: NOW },
    },
    {
      kind: 'presence',
      serial: 14,
      channelSerial: 'ep~14',
      storedAt: NOW,
      origin: { region: 'eu', epoch: 'e1', seq: 24 },
      host: '',
      presence: { id: 'c:4:0', action: 0, clientId: '', connectionId: '', data: Buffer.from([1]), timestamp: NOW },
    },
  ];
}

function generatedLog(entries: LogEntry[]): Buffer {
  return Buffer.from(pb.LogEntryList.encode({ entries: entries.map(entryToPb) }).finish());
}

function generatedForwarded(entries: LogEntry[]): Buffer {
  return Buffer.from(
    pb.ForwardedEntryList.encode({
      entries: entries.map((e) => ({
        seq: e.origin.seq,
        storedAt: e.storedAt,
        item: e.kind === 'message' ? { $case: 'message' as const, message: messageToPb(e.message) } : { $case: 'presence' as const, presence: presenceToPb(e.presence) },
      })),
    }).finish(),
  );
}

/** What the receiving master gets from a forwarded list: the batch's origin, no serials, no host. */
function forwarded(e: LogEntry, region: string, epoch: string): LogEntry {
  const origin = { region, epoch, seq: e.origin.seq };
  return e.kind === 'message'
    ? { kind: 'message', serial: 0, channelSerial: '', storedAt: e.storedAt, origin, message: e.message }
    : { kind: 'presence', serial: 0, channelSerial: '', storedAt: e.storedAt, origin, presence: e.presence, host: '' };
}

/** Field bytes: tag then a varint, or tag then length-delimited bytes. */
function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function lenField(field: number, bytes: Uint8Array | number[]): number[] {
  return [...varintBytes((field << 3) | 2), ...varintBytes(bytes.length), ...bytes];
}

describe('entry lists encoded by hand', () => {
  it('are the bytes the generated codec writes, LogEntryList and ForwardedEntryList', () => {
    const entries = variety();
    expect(Buffer.compare(codec.encodeLogEntryList(entries), generatedLog(entries))).toBe(0);
    expect(Buffer.compare(codec.encodeForwardedEntryList(entries), generatedForwarded(entries))).toBe(0);
    // One entry at a time too (a small list after a big one reuses the scratch buffer).
    for (const e of entries) expect(Buffer.compare(codec.encodeLogEntryList([e]), generatedLog([e]))).toBe(0);
    expect(codec.encodeLogEntryList([]).length).toBe(0);
  });

  it('decode to the entries, and to what the generated decoder makes of the same bytes', () => {
    const entries = variety();
    const bytes = generatedLog(entries);
    const mine = codec.decodeLogEntryList(bytes);
    expect(mine).toStrictEqual(pb.LogEntryList.decode(bytes).entries.map(entryFromPb));
    // Binary data comes back as a Buffer; a lone surrogate as U+FFFD (UTF-8 cannot hold it).
    const expected = entries.map((e) => {
      if (e.kind !== 'message' || e.message.data === undefined) return e;
      const d = e.message.data;
      return { ...e, message: { ...e.message, data: typeof d === 'string' ? d.replace('\ud800', '\ufffd') : Buffer.from(d) } };
    });
    expect(mine).toStrictEqual(expected);
    const fwd = codec.decodeForwardedEntryList(generatedForwarded(entries), 'ap', 'e9');
    expect(fwd).toStrictEqual(mine.map((e) => forwarded(e, 'ap', 'e9')));
    // Decoded from a plain Uint8Array as well as from a Buffer.
    expect(codec.decodeLogEntryList(Uint8Array.from(bytes))).toStrictEqual(mine);
  });

  it('share a repeated string only when its bytes are the same', () => {
    const ids = ['ab', 'ac', 'ab', 'ba', 'ba', 'abc', ''];
    const entries = ids.map((c, i) => message(i + 1, { connectionId: c, name: c, clientId: c, encoding: c }, { origin: { region: c, epoch: c, seq: i } }));
    const back = codec.decodeLogEntryList(codec.encodeLogEntryList(entries));
    expect(back.map((e) => (e.kind === 'message' ? [e.message.connectionId, e.message.name, e.message.clientId, e.message.encoding, e.origin.region, e.origin.epoch] : []))).toEqual(
      ids.map((c) => [c, c, c, c, c, c]),
    );
  });

  it('binary data is copied out of the list (a stored entry does not keep the batch alive)', () => {
    const bytes = codec.encodeLogEntryList([message(1, { data: Buffer.from([1, 2, 3]) })]);
    const [e] = codec.decodeLogEntryList(bytes);
    if (e?.kind !== 'message' || !(e.message.data instanceof Uint8Array)) throw new Error('no binary data');
    bytes.fill(0);
    expect([...e.message.data]).toEqual([1, 2, 3]);
  });

  it('skips fields they do not know, in the list, an entry, an origin and a message', () => {
    const e = message(7, { name: 'n', data: 'd' });
    const pe = entryToPb(e);
    const unknown = [...varintBytes((20 << 3) | 0), 5, ...lenField(21, [1, 2]), ...varintBytes((22 << 3) | 1), 1, 2, 3, 4, 5, 6, 7, 8, ...varintBytes((23 << 3) | 5), 1, 2, 3, 4];
    const origin = [...pb.OriginPosition.encode(pe.origin!).finish(), ...unknown];
    const msg = [...pb.Message.encode(messageToPb(e.kind === 'message' ? e.message : ({} as never))).finish(), ...unknown];
    const entry = [
      ...varintBytes((1 << 3) | 0),
      ...varintBytes(pe.serial),
      ...lenField(2, Buffer.from(pe.channelSerial)),
      ...varintBytes((3 << 3) | 0),
      ...varintBytes(pe.storedAt),
      ...unknown,
      ...lenField(4, origin),
      ...lenField(5, msg),
    ];
    const list = Buffer.from([...unknown, ...lenField(1, entry), ...unknown]);
    expect(codec.decodeLogEntryList(list)).toStrictEqual([e]);
  });

  it('tell whether an element was first accepted at an origin position, reading it only that far (acceptedAt)', () => {
    const entries = variety();
    const bytes = codec.encodeLogEntryList(entries);
    const at = codec.logEntryElements(bytes)!;
    const b = (s: string) => Buffer.from(s);
    entries.forEach((e, i) => {
      const { region, epoch, seq } = e.origin;
      const is = (r: string, ep: string, s: number) => acceptedAt(bytes, at[i]!, at[i + 1]!, s, b(r), b(ep));
      expect(is(region, epoch, seq), `entry ${i}`).toBe(true);
      expect(is(region, epoch, seq + 1)).toBe(false);
      expect(is(`${region}x`, epoch, seq)).toBe(false);
      expect(is(region, `${epoch}x`, seq)).toBe(false);
      if (region !== '') expect(is(region.slice(1), epoch, seq)).toBe(false);
    });
    // A field it does not know, before the origin, is skipped; bytes around the element are not read.
    const o = entries[2]!.origin;
    const body = bytes.subarray(at[2]! + 1 + varintBytes(at[3]! - at[2]! - 2).length, at[3]!);
    const element = Buffer.from([0xff, ...lenField(1, [...varintBytes((20 << 3) | 0), 5, ...body]), 0xff]);
    expect(acceptedAt(element, 1, element.length - 1, o.seq, b(o.region), b(o.epoch))).toBe(true);
    expect(acceptedAt(element, 1, element.length - 1, o.seq + 1, b(o.region), b(o.epoch))).toBe(false);
  });

  it('read each entry as far as a log that keeps its bytes needs (scanLogEntryList): what the decoder makes of the same entry', () => {
    const entries = variety();
    const bytes = codec.encodeLogEntryList(entries);
    const at = codec.logEntryElements(bytes)!;
    const heads: unknown[] = [];
    const read = codec.scanLogEntryList(bytes, (h) => heads.push({ ...h }));
    expect(read).toEqual({ count: entries.length, lastChannelSerial: 'ep~14' });
    expect(heads).toEqual(
      entries.map((e, i) => {
        const item = e.kind === 'message' ? e.message : e.presence;
        const version = e.kind === 'message' && e.message.action !== undefined;
        return {
          start: at[i],
          end: at[i + 1],
          serial: e.serial,
          storedAt: e.storedAt,
          kind: version ? 'version' : e.kind,
          region: e.origin.region,
          seq: e.origin.seq,
          id: item.id,
          connectionId: item.connectionId || undefined,
          target: version ? e.message.serial : '',
        };
      }),
    );
    // Fields it does not know are skipped, as by the decoder; an entry without an item is refused.
    expect(codec.scanLogEntryList(Buffer.from([...varintBytes((20 << 3) | 0), 5, ...bytes]), () => undefined).count).toBe(entries.length);
    expect(codec.scanLogEntryList(Buffer.from([...bytes, ...varintBytes((20 << 3) | 0), 5]), () => undefined)).toEqual(read);
    expect(() => codec.scanLogEntryList(Buffer.from(lenField(1, [0x08, 0x01])), () => undefined)).toThrow(/without an item/);
    expect(codec.scanLogEntryList(Buffer.alloc(0), () => undefined)).toEqual({ count: 0, lastChannelSerial: '' });
  });

  it('refuse truncated or malformed bytes with an Error, and never hang', () => {
    const entries = variety().slice(0, 5);
    const bytes = codec.encodeLogEntryList(entries);
    const whole = codec.decodeLogEntryList(bytes);
    for (let cut = 0; cut < bytes.length; cut++) {
      let got: LogEntry[] | null = null;
      try {
        got = codec.decodeLogEntryList(bytes.subarray(0, cut));
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/malformed entry list/);
        continue;
      }
      // Cut at an entry boundary: a shorter list of the same entries.
      expect(got.length).toBeLessThan(whole.length);
      expect(got).toStrictEqual(whole.slice(0, got.length));
    }
    expect(() => codec.decodeLogEntryList(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/varint longer than 10 bytes/);
    expect(() => codec.decodeLogEntryList(Buffer.from(lenField(1, [0x08, 0x01])))).toThrow(/without an item/);
    expect(() => codec.decodeLogEntryList(Buffer.from([0x0b]))).toThrow(/wire type 3/);
    // A serial beyond 2^53 cannot be a number here.
    expect(() => codec.decodeLogEntryList(Buffer.from(lenField(1, [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])))).toThrow(/beyond 2\^53/);
    // Random bytes: an Error or a list, always promptly.
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256)));
      for (const decode of [() => codec.decodeLogEntryList(junk), () => codec.decodeForwardedEntryList(junk, 'eu', 'e1'), () => [codec.scanLogEntryList(junk, () => undefined)]]) {
        try {
          expect(Array.isArray(decode())).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }
    }
  });

  it('leave nothing of a list that failed to encode in the next one', () => {
    const bad = message(1, { extras: { n: 1n } as unknown as Record<string, unknown> });
    expect(() => codec.encodeLogEntryList([message(2, { data: 'before' }), bad])).toThrow(TypeError);
    const good = [message(3, { data: 'after' })];
    expect(Buffer.compare(codec.encodeLogEntryList(good), generatedLog(good))).toBe(0);
  });

  it('grow past the scratch buffer for big lists, and still match the generated codec', () => {
    const many = Array.from({ length: 1000 }, (_, i) => message(i + 1, { data: `${i}`.repeat(40), connectionId: `conn-${i % 7}` }));
    expect(Buffer.compare(codec.encodeLogEntryList(many), generatedLog(many))).toBe(0);
    const huge = [message(1, { data: 'h'.repeat(5 * 1024 * 1024) }), message(2, { data: 'after' })];
    const bytes = codec.encodeLogEntryList(huge);
    expect(Buffer.compare(bytes, generatedLog(huge))).toBe(0);
    expect(codec.decodeLogEntryList(bytes)).toStrictEqual(huge);
    const small = [message(3, { data: 'small' })];
    expect(Buffer.compare(codec.encodeLogEntryList(small), generatedLog(small))).toBe(0);
  });

  it('give one entry as a list element: the bytes of a one-entry list', () => {
    for (const e of variety()) expect(Buffer.compare(codec.logEntryElement(e), generatedLog([e]))).toBe(0);
    const list = codec.encodeLogEntryList(variety());
    const at = codec.logEntryElements(list)!;
    expect(at).toHaveLength(variety().length + 1);
    expect(at[at.length - 1]).toBe(list.length);
    variety().forEach((e, i) => expect(Buffer.compare(list.subarray(at[i], at[i + 1]), codec.logEntryElement(e))).toBe(0));
    // A list with a field that is not an entry (a later version's) has no elements to give.
    expect(codec.logEntryElements(Buffer.concat([list, Buffer.from(lenField(2, [1]))]))).toBeNull();
  });

  it('let go of the scratch buffer a large element grew', () => {
    const big = message(1, { data: 'z'.repeat(5 * 1024 * 1024) });
    expect(codec.logEntryElement(big).buffer.byteLength).toBeGreaterThan(5 * 1024 * 1024);
    expect(codec.logEntryElement(message(2, { data: 'small' })).buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
  });

  it('make a ForwardedEntryList from LogEntryList bytes: the bytes encoding the decoded entries gives', () => {
    const entries = variety();
    const list = codec.encodeLogEntryList(entries);
    const at = codec.logEntryElements(list)!;
    const want = codec.encodeForwardedEntryList(entries);
    expect(Buffer.compare(codec.forwardedFromLog([list]), want)).toBe(0);
    // In several runs, as a log holds them in several buffers.
    const cut = at[3]!;
    expect(Buffer.compare(codec.forwardedFromLog([list.subarray(0, cut), list.subarray(cut)]), want)).toBe(0);
    expect(codec.forwardedFromLog([]).length).toBe(0);
    expect(() => codec.forwardedFromLog([list, Buffer.from(lenField(1, lenField(3, [1])))])).toThrow(/without an item/);
    // Nothing of the list that failed is left in the next.
    expect(Buffer.compare(codec.forwardedFromLog([list]), want)).toBe(0);
  });
});

