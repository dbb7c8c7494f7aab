/** App statistics per minute: what a publish and a delivery count in. */
import { describe, expect, it } from 'vitest';
import { rollupPage, StatsRecorder } from '../../../src/node/stats.js';

describe('StatsRecorder', () => {
  it('counts publishes by how they came and deliveries per connection reached, in the minute they happen', () => {
    const now = 120_000 + 5_000;
    const r = new StatsRecorder(() => now);
    r.published('app', 'realtime', 3, 300);
    r.published('app', 'rest', 2, 50);
    r.delivered('app', 4, 3, 300);
    expect(r.buckets('app', 0, now)).toEqual([
      {
        minute: 120_000,
        entries: {
          'messages.inbound.realtime.messages.count': 3,
          'messages.inbound.realtime.messages.data': 300,
          'messages.inbound.rest.messages.count': 2,
          'messages.inbound.rest.messages.data': 50,
          'messages.inbound.all.messages.count': 5,
          'messages.outbound.realtime.messages.count': 12,
          'messages.outbound.realtime.messages.data': 1200,
          'messages.outbound.all.messages.count': 12,
          'messages.all.messages.count': 17,
          'messages.all.all.count': 17,
          'messages.all.all.data': 1550,
        },
      },
    ]);
    expect(r.buckets('other', 0, now)).toEqual([]);
  });
});

describe('rollupPage', () => {
  const MIN = 60_000;
  const t0 = Date.UTC(2026, 11, 7, 10, 0);
  // Minutes 0, 1, 2, 3 and 5 counted (4 not), two of them in the same hour's first minutes.
  const minutes = [0, 1, 2, 3, 5].map((i) => ({ minute: t0 + i * MIN, entries: { 'messages.all.all.count': i + 1 } }));
  const o = { unit: 'minute' as const, appId: 'app', now: t0 + 10 * MIN };

  it('pages backwards: the next page ends just before the last interval given, and taken so it gives the rest', () => {
    const p1 = rollupPage(minutes, { ...o, direction: 'backwards', limit: 2 });
    expect(p1.records.map((r) => r.intervalId)).toEqual(['2026-12-07:10:05', '2026-12-07:10:03']);
    expect(p1.next).toBe(t0 + 3 * MIN - 1);
    const p2 = rollupPage(minutes.filter((m) => m.minute <= t0 + 3 * MIN - 1), { ...o, direction: 'backwards', limit: 2 });
    expect(p2.records.map((r) => r.intervalId)).toEqual(['2026-12-07:10:02', '2026-12-07:10:01']);
    const p3 = rollupPage(minutes.filter((m) => m.minute <= t0 + MIN - 1), { ...o, direction: 'backwards', limit: 2 });
    expect(p3.records.map((r) => r.intervalId)).toEqual(['2026-12-07:10:00']);
    expect(p3.next).toBeNull();
  });

  it('pages forwards: the next page starts at the first interval not given; an hour rolls its minutes up', () => {
    const p1 = rollupPage(minutes, { ...o, direction: 'forwards', limit: 3 });
    expect(p1.records.map((r) => r.intervalId)).toEqual(['2026-12-07:10:00', '2026-12-07:10:01', '2026-12-07:10:02']);
    expect(p1.next).toBe(t0 + 3 * MIN);
    const hours = rollupPage(minutes, { ...o, unit: 'hour', direction: 'forwards', limit: 1 });
    expect(hours.records).toHaveLength(1);
    expect(hours.records[0]!.entries['messages.all.all.count']).toBe(1 + 2 + 3 + 4 + 6);
    expect(hours.next).toBeNull();
  });
});
