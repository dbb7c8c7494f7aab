import { describe, expect, it } from 'vitest';
import { AUDIT_MISSES_TO_DROP, LocalInterest, RemoteInterest } from '../../../src/bridge/interest.js';

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
