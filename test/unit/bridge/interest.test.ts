import { describe, expect, it } from 'vitest';
import { AUDIT_MISSES_TO_DROP, LocalInterest, RemoteInterest, SnapshotParts, snapshotParts } from '../../../src/bridge/interest.js';
import { fromPb, toPb } from '../../../src/bridge/codec.js';

describe('LocalInterest', () => {
  it('versions each change by one and reports nothing for a no-op', () => {
    const l = new LocalInterest();
    expect(l.set('app:a', true, 10)).toEqual({ version: 1, added: [{ channel: 'app:a', since: 10 }], removed: [] });
    expect(l.set('app:a', true, 11)).toBeNull();
    expect(l.set('app:a', false, 0)).toEqual({ version: 2, added: [], removed: ['app:a'] });
    expect(l.snapshot()).toEqual({ version: 2, channels: [] });
  });

  it('an audit adds at once what the masters list and it lacked', () => {
    const l = new LocalInterest();
    const deltas = l.audit(new Map([['app:a', 5]]), false);
    expect(deltas).toEqual([{ version: 1, added: [{ channel: 'app:a', since: 5 }], removed: [] }]);
    expect(l.has('app:a')).toBe(true);
  });

  it('drops a channel only after it is missing from complete audits in a row', () => {
    const l = new LocalInterest();
    l.set('app:a', true, 1);
    for (let i = 1; i < AUDIT_MISSES_TO_DROP; i++) {
      expect(l.audit(new Map(), true)).toEqual([]);
      expect(l.has('app:a')).toBe(true);
    }
    expect(l.audit(new Map(), true)).toEqual([{ version: 2, added: [], removed: ['app:a'] }]);
    expect(l.has('app:a')).toBe(false);
  });

  it('never drops on an incomplete audit, and a report in between resets the count', () => {
    const l = new LocalInterest();
    l.set('app:a', true, 1);
    for (let i = 0; i < 5; i++) expect(l.audit(new Map(), false)).toEqual([]);
    expect(l.has('app:a')).toBe(true);
    for (let i = 1; i < AUDIT_MISSES_TO_DROP; i++) l.audit(new Map(), true);
    l.set('app:a', true, 1); // the master reports it again
    for (let i = 1; i < AUDIT_MISSES_TO_DROP; i++) expect(l.audit(new Map(), true)).toEqual([]);
    expect(l.has('app:a')).toBe(true);
  });
});

describe('RemoteInterest', () => {
  it('asks for a snapshot when a delta does not follow', () => {
    const r = new RemoteInterest();
    expect(r.applySnapshot(3, [{ channel: 'app:a', since: 1 }])).toEqual(['app:a']);
    expect(r.applyDelta({ version: 5, added: [], removed: ['app:a'] })).toBeNull();
    expect(r.applyDelta({ version: 4, added: [{ channel: 'app:b', since: 2 }], removed: ['app:a'] })).toEqual(['app:b', 'app:a']);
    expect(r.channelList()).toEqual(['app:b']);
  });
});

describe('interest snapshots in parts', () => {
  it('go in parts of at most 1,000 channels and about 256 KiB, each but the last saying more, and come together whole', () => {
    const long = 'x'.repeat(2000);
    const channels = Array.from({ length: 2500 }, (_, i) => ({ channel: `app:${i % 2 ? long : ''}${i}`, since: i }));
    const parts = snapshotParts({ version: 7, channels });
    expect(parts.length).toBeGreaterThan(5);
    for (const p of parts) {
      expect(p.channels.length).toBeLessThanOrEqual(1000);
      expect(p.channels.reduce((n, c) => n + c.channel.length + 16, 0)).toBeLessThanOrEqual(256 * 1024);
    }
    expect(parts.map((p) => p.more)).toEqual(parts.map((_, i) => i < parts.length - 1));
    // Through the wire codec, then put together as a link session does.
    const assembled = new SnapshotParts();
    const wholes = parts.map((p) => assembled.add(fromPb(toPb({ type: 'snapshot', ...p }), 'r2') as Parameters<SnapshotParts['add']>[0]));
    expect(wholes.slice(0, -1).every((w) => w === null)).toBe(true);
    expect(wholes.at(-1)).toEqual({ version: 7, channels });
    // No interest at all is one part, saying no more; a part of a new version begins a new snapshot.
    expect(snapshotParts({ version: 1, channels: [] })).toEqual([{ version: 1, channels: [], more: false }]);
    expect(assembled.add({ version: 8, channels: [channels[0]!], more: true })).toBeNull();
    expect(assembled.add({ version: 9, channels: [channels[1]!] })).toEqual({ version: 9, channels: [channels[1]] });
  });
});
