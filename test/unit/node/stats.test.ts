/** App statistics per minute: what a publish and a delivery count in. */
import { describe, expect, it } from 'vitest';
import { StatsRecorder } from '../../../src/node/stats.js';

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
