import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { ChannelLog, type HistoryQuery } from '../../../src/channel/log.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';

function entry(serial: number, storedAt: number, kind: LogEntry['kind'] = 'message'): LogEntry {
  const base = { serial, channelSerial: `r~e~${serial.toString(36)}`, storedAt, origin: { region: 'r', epoch: 'e', seq: serial } };
  return kind === 'message'
    ? { ...base, kind, message: { id: `m${serial}`, timestamp: storedAt } }
    : { ...base, kind, host: 'n1', presence: { id: `p${serial}`, action: 2, clientId: 'c', connectionId: 'k', timestamp: storedAt } };
}

/** A log holding serials 1..n, entry i stored at i * 1000 ms. */
function logOf(n: number): ChannelLog {
  const log = new ChannelLog();
  for (let i = 1; i <= n; i++) log.append(entry(i, i * 1000));
  return log;
}

const serials = (es: readonly LogEntry[] | null) => es?.map((e) => e.serial) ?? null;

function query(log: ChannelLog, q: Partial<HistoryQuery>): { serials: number[]; more: boolean } {
  const r = log.query({ direction: 'forwards', limit: 100, kind: 'message', ...q });
  return { serials: r.items.map((e) => e.serial), more: r.more };
}

describe('ChannelLog', () => {
  describe('append', () => {
    it('starts empty at its base', () => {
      const log = new ChannelLog(7);
      expect(log.size).toBe(0);
      expect(log.lastSerial).toBe(7);
      expect(log.baseSerial).toBe(7);
      expect(log.lastStoredAt).toBeUndefined();
    });

    it('accepts the next serial and reports it as the last', () => {
      const log = logOf(3);
      expect(log.size).toBe(3);
      expect(log.lastSerial).toBe(3);
      expect(log.lastStoredAt).toBe(3000);
      expect(serials(log.all())).toEqual([1, 2, 3]);
    });

    it('continues from a non-zero base', () => {
      const log = new ChannelLog(10);
      log.append(entry(11, 1));
      expect(log.lastSerial).toBe(11);
      expect(() => log.append(entry(11, 1))).toThrow(/out of order/);
    });

    it('refuses a gap', () => {
      const log = logOf(2);
      expect(() => log.append(entry(4, 4000))).toThrow(/out of order/);
      expect(log.lastSerial).toBe(2);
    });

    it('refuses a repeated or older serial', () => {
      const log = logOf(2);
      expect(() => log.append(entry(2, 2000))).toThrow(/out of order/);
      expect(() => log.append(entry(1, 1000))).toThrow(/out of order/);
      expect(log.size).toBe(2);
    });
  });

  describe('covers and range', () => {
    it('covers every serial from its base to its last', () => {
      const log = logOf(5);
      for (let s = 0; s <= 5; s++) expect(log.covers(s)).toBe(true);
      expect(log.covers(-1)).toBe(false);
      expect(log.covers(6)).toBe(false);
    });

    it('returns the entries after a serial', () => {
      const log = logOf(5);
      expect(serials(log.range(2))).toEqual([3, 4, 5]);
      expect(serials(log.range(0))).toEqual([1, 2, 3, 4, 5]);
    });

    it('stops at upto, inclusive', () => {
      const log = logOf(5);
      expect(serials(log.range(1, 3))).toEqual([2, 3]);
      expect(serials(log.range(2, 2))).toEqual([]);
      expect(serials(log.range(3, 1))).toEqual([]);
    });

    it('clamps upto to the last serial', () => {
      expect(serials(logOf(5).range(3, 99))).toEqual([4, 5]);
    });

    it('returns nothing after the last serial', () => {
      expect(serials(logOf(5).range(5))).toEqual([]);
    });

    it('returns null for a serial beyond the last (a position it never had)', () => {
      expect(logOf(5).range(6)).toBeNull();
    });

    it('returns null once entries after the serial have expired', () => {
      const log = logOf(5);
      log.expire(10_000, 7_500, 100); // drops serials 1 and 2
      expect(log.baseSerial).toBe(2);
      expect(log.covers(1)).toBe(false);
      expect(log.range(1)).toBeNull();
      expect(log.range(0)).toBeNull();
      expect(log.covers(2)).toBe(true);
      expect(serials(log.range(2))).toEqual([3, 4, 5]);
      expect(serials(log.range(3, 4))).toEqual([4]);
    });
  });

  describe('expire', () => {
    it('counts messages against the count cap, not presence events or versions: those take bytes', () => {
      const log = new ChannelLog();
      let serial = 0;
      const add = (kind: LogEntry['kind'], action?: number) => {
        const e = entry(++serial, serial);
        if (kind === 'presence') log.append(entry(serial, serial, 'presence'));
        else log.append(action === undefined ? e : { ...e, message: { ...(e as LogEntry & { kind: 'message' }).message, action } } as LogEntry);
      };
      for (let i = 0; i < 3; i++) add('message');
      for (let i = 0; i < 20; i++) add('presence');
      for (let i = 0; i < 20; i++) add('message', 5); // appends
      expect(log.expire(100, 60_000, 3)).toBe(0);
      expect(query(log, {}).serials).toEqual([1, 2, 3]);
      // A fourth message: the oldest goes, and nothing after it that is not a message.
      add('message');
      expect(log.expire(100, 60_000, 3)).toBe(1);
      expect(query(log, {}).serials).toEqual([2, 3, 44]);
      expect(log.baseSerial).toBe(1);
    });

    it('drops the oldest entries while the retained ones take more than maxBytes, counting their elements as held', () => {
      const log = logOf(10);
      const sizes = Array.from({ length: 10 }, (_, i) => entryListCodec.logEntryElement(entry(i + 1, (i + 1) * 1000)).length);
      expect(log.entryBytes).toBe(sizes.reduce((a, b) => a + b, 0));
      // Room for the last four exactly: six go, oldest first.
      const lastFour = sizes.slice(6).reduce((a, b) => a + b, 0);
      expect(log.expire(10_000, 60_000, 100, lastFour)).toBe(6);
      expect(serials(log.all())).toEqual([7, 8, 9, 10]);
      expect([log.baseSerial, log.entryBytes]).toEqual([6, lastFour]);
      expect(log.expire(10_000, 60_000, 100, lastFour)).toBe(0);
      // Appends count too; without a cap nothing more goes.
      log.append(entry(11, 11_000));
      expect(log.expire(11_000, 60_000, 100)).toBe(0);
      expect(log.entryBytes).toBe(lastFour + entryListCodec.logEntryElement(entry(11, 11_000)).length);
      expect(log.expire(11_000, 60_000, 100, 0)).toBe(5);
      expect([log.size, log.entryBytes, log.lastSerial]).toEqual([0, 0, 11]);
    });

    it('drops entries stored before now - retention, keeping one stored exactly at the cutoff', () => {
      const log = logOf(5);
      expect(log.expire(6000, 3000, 100)).toBe(2); // cutoff 3000: serial 3 stays
      expect(serials(log.all())).toEqual([3, 4, 5]);
      expect(log.baseSerial).toBe(2);
    });

    it('drops nothing when everything is recent', () => {
      const log = logOf(5);
      expect(log.expire(5000, 60_000, 100)).toBe(0);
      expect(log.size).toBe(5);
      expect(log.baseSerial).toBe(0);
    });

    it('drops the oldest beyond the count cap', () => {
      const log = logOf(5);
      expect(log.expire(5000, 60_000, 2)).toBe(3);
      expect(serials(log.all())).toEqual([4, 5]);
      expect(log.baseSerial).toBe(3);
    });

    it('says when the newest entry it dropped was stored, and bounds it by its oldest entry when restored past a base', () => {
      const log = logOf(5);
      expect(log.droppedUpTo).toBe(-Infinity);
      log.expire(6000, 3000, 100); // drops serials 1 and 2
      expect(log.droppedUpTo).toBe(2000);
      log.expire(6000, 3000, 1); // the count drops 3 and 4
      expect(log.droppedUpTo).toBe(4000);
      // Restored with serials up to 7 gone, it never saw them.
      const restored = new ChannelLog(7);
      expect(restored.droppedUpTo).toBe(Infinity);
      restored.append(entry(8, 8000));
      restored.append(entry(9, 9000));
      expect(restored.droppedUpTo).toBe(8000);
      restored.expire(9500, 1000, 100); // drops serial 8
      expect(restored.droppedUpTo).toBe(8000);
      expect(serials(restored.all())).toEqual([9]);
    });

    it('applies whichever of age and count drops more', () => {
      const log = logOf(10);
      expect(log.expire(10_000, 5_000, 8)).toBe(4); // age drops 1..4, count would drop 1..2
      expect(log.expire(10_000, 60_000, 3)).toBe(3); // then count drops 5..7
      expect(serials(log.all())).toEqual([8, 9, 10]);
    });

    it('keeps the last serial and accepts the next once everything has expired', () => {
      const log = logOf(3);
      expect(log.expire(100_000, 1000, 100)).toBe(3);
      expect(log.size).toBe(0);
      expect(log.lastSerial).toBe(3);
      expect(log.baseSerial).toBe(3);
      expect(log.lastStoredAt).toBeUndefined();
      expect(log.covers(3)).toBe(true);
      expect(log.range(3)).toEqual([]);
      expect(log.range(2)).toBeNull();
      expect(() => log.append(entry(1, 1))).toThrow();
      log.append(entry(4, 200_000));
      expect(serials(log.range(3))).toEqual([4]);
    });

    it('keeps serial arithmetic right after compacting a long-expired front', () => {
      const log = logOf(3000);
      expect(log.expire(3000 * 1000, 3000 * 1000 - 2500 * 1000 - 1, 10_000)).toBe(2500);
      expect(log.baseSerial).toBe(2500);
      expect(log.size).toBe(500);
      expect(serials(log.range(2998))).toEqual([2999, 3000]);
      expect(serials(log.range(2500, 2502))).toEqual([2501, 2502]);
      expect(log.range(2499)).toBeNull();
      log.append(entry(3001, 3_001_000));
      expect(serials(log.range(2999))).toEqual([3000, 3001]);
      expect(query(log, { cursor: 2997, limit: 2 })).toEqual({ serials: [2998, 2999], more: true });
      expect(query(log, { direction: 'backwards', cursor: 2503, limit: 5 })).toEqual({ serials: [2502, 2501], more: false });
    });
  });

  describe('query', () => {
    // A page of 1,000 messages of 64 KiB was built whole for each request (64 MB), and held
    // until a client that did not read it went away.
    it('cuts a page at HISTORY_PAGE_MAX_BYTES, at least one entry, with more to follow', () => {
      const log = new ChannelLog();
      const data = 'x'.repeat(1024 * 1024);
      for (let i = 1; i <= 20; i++) {
        const e = entry(i, i * 1000) as LogEntry & { kind: 'message' };
        log.append({ ...e, message: { ...e.message, data } });
      }
      // About 1 MiB an entry: seven fit in 8 MiB with their fields, not eight.
      expect(query(log, { limit: 1000 })).toEqual({ serials: [1, 2, 3, 4, 5, 6, 7], more: true });
      expect(query(log, { limit: 1000, cursor: 7 })).toEqual({ serials: [8, 9, 10, 11, 12, 13, 14], more: true });
      expect(query(log, { limit: 1000, cursor: 14 })).toEqual({ serials: [15, 16, 17, 18, 19, 20], more: false });
      expect(query(log, { direction: 'backwards', limit: 1000 })).toEqual({ serials: [20, 19, 18, 17, 16, 15, 14], more: true });
      expect(query(log, { limit: 3 })).toEqual({ serials: [1, 2, 3], more: true });
      const huge = new ChannelLog();
      huge.append({ ...(entry(1, 1000) as LogEntry & { kind: 'message' }), message: { id: 'm1', timestamp: 1000, data: 'x'.repeat(9 * 1024 * 1024) } });
      expect(query(huge, {})).toEqual({ serials: [1], more: false });
    });

    it('pages forwards from the oldest', () => {
      const log = logOf(5);
      expect(query(log, { limit: 2 })).toEqual({ serials: [1, 2], more: true });
      expect(query(log, { limit: 2, cursor: 2 })).toEqual({ serials: [3, 4], more: true });
      expect(query(log, { limit: 2, cursor: 4 })).toEqual({ serials: [5], more: false });
      expect(query(log, { limit: 2, cursor: 5 })).toEqual({ serials: [], more: false });
    });

    it('pages backwards from the newest', () => {
      const log = logOf(5);
      expect(query(log, { direction: 'backwards', limit: 2 })).toEqual({ serials: [5, 4], more: true });
      expect(query(log, { direction: 'backwards', limit: 2, cursor: 4 })).toEqual({ serials: [3, 2], more: true });
      expect(query(log, { direction: 'backwards', limit: 2, cursor: 2 })).toEqual({ serials: [1], more: false });
      expect(query(log, { direction: 'backwards', limit: 2, cursor: 1 })).toEqual({ serials: [], more: false });
    });

    it('says there is no more when a page ends exactly at the last match', () => {
      const log = logOf(4);
      expect(query(log, { limit: 4 })).toEqual({ serials: [1, 2, 3, 4], more: false });
      expect(query(log, { direction: 'backwards', limit: 4 })).toEqual({ serials: [4, 3, 2, 1], more: false });
    });

    it('keeps to start and end (inclusive) in both directions', () => {
      const log = logOf(6);
      expect(query(log, { start: 2000, end: 4000 })).toEqual({ serials: [2, 3, 4], more: false });
      expect(query(log, { direction: 'backwards', start: 2000, end: 4000 })).toEqual({ serials: [4, 3, 2], more: false });
      expect(query(log, { start: 2500, end: 4500, limit: 1 })).toEqual({ serials: [3], more: true });
      expect(query(log, { direction: 'backwards', start: 2500, end: 4500, limit: 1 })).toEqual({ serials: [4], more: true });
      expect(query(log, { start: 7000 })).toEqual({ serials: [], more: false });
      expect(query(log, { direction: 'backwards', end: 500 })).toEqual({ serials: [], more: false });
    });

    it('combines a time window with a cursor', () => {
      const log = logOf(6);
      expect(query(log, { start: 2000, end: 5000, limit: 2, cursor: 2 })).toEqual({ serials: [3, 4], more: true });
      expect(query(log, { direction: 'backwards', start: 2000, end: 5000, limit: 2, cursor: 4 })).toEqual({
        serials: [3, 2],
        more: false,
      });
    });

    it('stops at untilSerial (untilAttach) in both directions', () => {
      const log = logOf(6);
      expect(query(log, { untilSerial: 3 })).toEqual({ serials: [1, 2, 3], more: false });
      expect(query(log, { direction: 'backwards', untilSerial: 3 })).toEqual({ serials: [3, 2, 1], more: false });
      expect(query(log, { direction: 'backwards', untilSerial: 4, limit: 2 })).toEqual({ serials: [4, 3], more: true });
      expect(query(log, { direction: 'backwards', untilSerial: 4, limit: 2, cursor: 3 })).toEqual({
        serials: [2, 1],
        more: false,
      });
      expect(query(log, { direction: 'backwards', untilSerial: 5, cursor: 3 })).toEqual({ serials: [2, 1], more: false });
    });

    it('returns nothing backwards when untilSerial has expired', () => {
      const log = logOf(6);
      log.expire(6000, 2500, 100); // keeps 4..6
      expect(query(log, { direction: 'backwards', untilSerial: 2 })).toEqual({ serials: [], more: false });
      expect(query(log, { untilSerial: 2 })).toEqual({ serials: [], more: false });
    });

    it('returns only entries of the requested kind, and counts only them for more', () => {
      const log = new ChannelLog();
      const kinds: LogEntry['kind'][] = ['message', 'presence', 'presence', 'message', 'presence', 'message'];
      kinds.forEach((k, i) => log.append(entry(i + 1, (i + 1) * 1000, k)));
      expect(query(log, { kind: 'message' })).toEqual({ serials: [1, 4, 6], more: false });
      expect(query(log, { kind: 'presence' })).toEqual({ serials: [2, 3, 5], more: false });
      expect(query(log, { kind: 'message', limit: 2 })).toEqual({ serials: [1, 4], more: true });
      expect(query(log, { kind: 'message', limit: 2, cursor: 4 })).toEqual({ serials: [6], more: false });
      expect(query(log, { kind: 'presence', direction: 'backwards', limit: 2 })).toEqual({ serials: [5, 3], more: true });
      expect(query(log, { kind: 'presence', limit: 3 })).toEqual({ serials: [2, 3, 5], more: false });
      expect(query(log, { kind: 'presence', direction: 'backwards', cursor: 2 })).toEqual({ serials: [], more: false });
    });

    it('pages through every entry exactly once whatever the page size', () => {
      const log = logOf(23);
      for (const direction of ['forwards', 'backwards'] as const) {
        for (const limit of [1, 4, 7, 23, 50]) {
          const seen: number[] = [];
          let cursor: number | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const r = query(log, { direction, limit, ...(cursor !== undefined ? { cursor } : {}) });
            seen.push(...r.serials);
            if (!r.more) break;
            cursor = r.serials[r.serials.length - 1];
          }
          const all = Array.from({ length: 23 }, (_, i) => i + 1);
          expect(seen, `${direction} by ${limit}`).toEqual(direction === 'forwards' ? all : all.reverse());
        }
      }
    });

    it('finds the create first accepted at an origin position, whichever region it came from, and nothing else', () => {
      const log = new ChannelLog();
      const at = (serial: number, region: string, epoch: string, seq: number, kind: LogEntry['kind'] = 'message'): LogEntry => ({ ...entry(serial, serial * 10, kind), origin: { region, epoch, seq } });
      const version = { ...at(7, 'r', 'e', 4), message: { id: 'v7', timestamp: 70, serial: 'x', action: 1 } } as LogEntry;
      const entries = [at(1, 'r', 'e', 1), at(2, 'us', 'u1', 7), at(3, 'r', 'e', 2, 'presence'), at(4, 'us', 'u2', 1), at(5, 'r', 'e', 3), at(6, 'us', 'u1', 8), version];
      for (const e of entries) log.append(e);
      const find = (region: string, epoch: string, seq: number, upto?: number) => log.created({ region, epoch, seq }, upto)?.serial ?? null;
      expect(find('us', 'u1', 7)).toBe(2);
      expect(find('us', 'u2', 1)).toBe(4);
      expect(find('r', 'e', 3)).toBe(5);
      expect(log.created({ region: 'us', epoch: 'u1', seq: 8 })).toEqual(entries[5]);
      // A presence event's position, a version's, another epoch's, one not held, one past the bound: none.
      expect(find('r', 'e', 2)).toBeNull();
      expect(find('r', 'e', 4)).toBeNull();
      expect(find('us', 'u2', 7)).toBeNull();
      expect(find('us', 'u1', 9)).toBeNull();
      expect(find('us', 'u1', 8, 5)).toBeNull();
      // History lists creates only: the version is not there.
      expect(query(log, {}).serials).toEqual([1, 2, 4, 5, 6]);
      log.expire(25, 0, 10);
      expect(find('us', 'u1', 7)).toBeNull();
      expect(find('r', 'e', 3)).toBe(5);
    });

    it('finds nothing in an empty log', () => {
      const log = new ChannelLog(4);
      expect(query(log, {})).toEqual({ serials: [], more: false });
      expect(query(log, { direction: 'backwards', cursor: 3 })).toEqual({ serials: [], more: false });
    });
  });

  describe('entries held as bytes', () => {
    /** Entries with every kind of field, binary data and extras among them. */
    function rich(serial: number): LogEntry {
      const base = { serial, channelSerial: `eu~e1~${serial.toString(36)}`, storedAt: 1_000_000 + serial, origin: { region: serial % 3 ? 'eu' : 'us', epoch: 'e1', seq: serial * 2 } };
      if (serial % 5 === 0) {
        return { ...base, kind: 'presence', host: `n${serial % 3}`, presence: { id: `c1:${serial}:0`, action: 2, clientId: 'ann', connectionId: 'c1', data: 'here', timestamp: 17 + serial } };
      }
      const message: LogEntry & { kind: 'message' } = { ...base, kind: 'message', message: { id: `m${serial}`, name: 'greeting', clientId: 'bob', connectionId: 'c2', timestamp: 1.7e12 + serial } };
      if (serial % 2) message.message.data = Buffer.from([serial & 0xff, 0, 255]);
      else message.message.data = `héllo ${'x'.repeat(serial % 300)}`;
      if (serial % 7 === 0) message.message.extras = { headers: { n: serial } };
      if (serial % 11 === 0) message.message.encoding = 'json/utf-8';
      return message;
    }

    it('returns equal entries, as new objects, across many buffers', () => {
      const log = new ChannelLog();
      const written = Array.from({ length: 3000 }, (_, i) => rich(i + 1));
      for (const e of written) log.append(e);
      expect(log.bytes).toBeGreaterThan(256 * 1024); // more than one chunk
      const back = log.all();
      expect(back).toEqual(written);
      expect(back[0]).not.toBe(written[0]);
      expect(log.range(1499, 1502)).toEqual(written.slice(1499, 1502));
      const some = [2, 3, 4, 2000, 2999];
      expect(log.forwarded(some)).toEqual(entryListCodec.encodeForwardedEntryList(some.map((s) => written[s - 1]!)));
      expect(log.storedAtOf(2999)).toBe(written[2998]!.storedAt);
      const presence = log.query({ direction: 'backwards', limit: 1000, kind: 'presence' });
      expect(presence.items).toEqual(written.filter((e) => e.kind === 'presence').reverse());
    });

    it('lets go of the buffers of what has expired, and keeps what is left exact', () => {
      const log = new ChannelLog();
      for (let i = 1; i <= 4000; i++) log.append(rich(i));
      const full = log.bytes;
      log.expire(1_000_000 + 3000.5, 1000, 1_000_000); // keeps stored at ≥ …2000.5: serials 2001..4000
      expect(log.size).toBe(2000);
      expect(log.bytes).toBeLessThan(full * 0.75);
      for (let i = 4001; i <= 9000; i++) log.append(rich(i)); // the slots move down and grow
      expect(log.range(1999)).toBeNull();
      expect(log.range(2000)!.map((e) => e.serial)).toEqual(Array.from({ length: 7000 }, (_, i) => i + 2001));
      expect(log.range(8990, 8992)).toEqual([rich(8991), rich(8992)]);
      log.expire(Number.MAX_SAFE_INTEGER, 0, 0);
      expect(log.size).toBe(0);
      expect(log.bytes).toBe(0);
      log.append(rich(9001));
      expect(log.all()).toEqual([rich(9001)]);
    });

    it('keeps a stored-at time that is not a whole millisecond exactly', () => {
      const log = new ChannelLog();
      log.append(entry(1, 1234.75));
      expect(log.all()[0]!.storedAt).toBe(1234.75);
      expect(log.lastStoredAt).toBe(1234.75);
    });
  });
});
