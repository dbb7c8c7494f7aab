/**
 * The ids a channel client delivered last (recent-ids.ts): what a claim of a channel
 * whose state was lost gathers, so that a repeat is answered, not ordered again.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { LogEntry, MessageEntry } from '../../../src/channel/entry.js';
import { RecentIds } from '../../../src/channel/recent-ids.js';
import type { Message } from '../../../src/protocol/message.js';
import { seeded } from '../../../src/rng.js';

/** An entry of the stream of epoch `e`; `region`: where it was first accepted (its origin's epoch is that region's stream's). */
function entry(serial: number, message: Partial<Message> & { id: string }, region = 'eu'): MessageEntry {
  const origin = { region, epoch: region === 'eu' ? 'e' : `${region}-stream`, seq: serial };
  return { kind: 'message', serial, channelSerial: `eu@e-${serial}`, storedAt: 0, origin, message: { timestamp: 0, ...message } };
}

const presence = (serial: number): LogEntry =>
  ({ kind: 'presence', serial, channelSerial: `p${serial}`, storedAt: 0, origin: { region: 'eu', epoch: 'e', seq: serial }, host: 'n1', presence: { id: `c:${serial}:0`, action: 2, clientId: 'x', connectionId: 'c', timestamp: 0 } }) as LogEntry;

describe('RecentIds', () => {
  it("gives this region's message ids with the serial each was ordered under (an operation's where it is one), as dedup keys", () => {
    const recent = new RecentIds(() => 0);
    recent.note(
      [
        entry(1, { id: 'c1:0:0', connectionId: 'c1', serial: 'm1' }),
        presence(2),
        entry(3, { id: 'c1:1:0', connectionId: 'c1', serial: 'm3', version: { serial: 'v3', timestamp: 0 } }),
        // A client's own id naming another connection is kept apart (dedupKey).
        entry(4, { id: 'connection9:5:0', connectionId: 'c1', serial: 'm4' }),
        entry(5, { id: 'rest-id:0' }),
        // Another region's message comes again from there after a loss, and must be taken then.
        entry(6, { id: 'us-conn:0:0', connectionId: 'us-conn', serial: 'u6' }, 'us'),
      ],
      'e',
    );
    expect(recent.of()).toEqual([
      { key: 'c1:0:0', serial: 'm1', age: 0 },
      { key: 'c1:1:0', serial: 'v3', age: 0 },
      { key: '\u0001connection9:5:0', serial: 'm4', age: 0 },
      { key: 'rest-id:0', serial: 'eu@e-5', age: 0 },
    ]);
  });

  it('keeps those delivered within the span of the newest, at most `capacity`, oldest first, each with its age', () => {
    const clock = new ManualClock(0);
    const recent = new RecentIds(() => clock.now(), 4, 1_000, 5_000);
    for (let i = 0; i < 6; i++) {
      recent.note([entry(i, { id: `id${i}` })], 'e');
      clock.advance(100);
    }
    // The last four, delivered at 200 to 500; now is 600.
    expect(recent.size).toBe(4);
    expect(recent.of()).toEqual([2, 3, 4, 5].map((i) => ({ key: `id${i}`, serial: `eu@e-${i}`, age: 600 - i * 100 })));
    // The stream stopped (its master lost): still there long after, as the claim may come late.
    clock.set(4_000);
    expect(recent.of().map((r) => r.key)).toEqual(['id2', 'id3', 'id4', 'id5']);
    // A delivery 0.95 s after id5 leaves only those within a second of it.
    clock.set(1_450);
    recent.note([entry(6, { id: 'id6' })], 'e');
    expect(recent.of().map((r) => r.key)).toEqual(['id5', 'id6']);
    // Once the newest is older than the dedup window, everything goes (the hub's audit asks each second).
    clock.set(1_450 + 5_000);
    recent.expire();
    expect(recent.size).toBe(2);
    clock.set(1_450 + 5_001);
    recent.expire();
    expect(recent.size).toBe(0);
    expect(recent.of()).toEqual([]);
  });

  it('gives what a plain list of those kept would, for any batches (a model check)', () => {
    const rand = seeded(7).int;
    const clock = new ManualClock(0);
    const recent = new RecentIds(() => clock.now(), 16, 500, 2_000);
    const model: { id: string; at: number }[] = [];
    for (let step = 0; step < 3_000; step++) {
      const batch = Array.from({ length: rand(6) }, (_, k) => entry(k, { id: `s${step}-${k}` }, rand(4) ? 'eu' : 'us'));
      recent.note(batch, 'e');
      const mine = batch.filter((e) => e.origin.region === 'eu');
      for (const e of mine) model.push({ id: e.message.id, at: clock.now() });
      if (mine.length) model.splice(0, model.length - model.filter((m) => m.at >= clock.now() - 500).slice(-16).length);
      clock.advance(rand(10) ? rand(40) : rand(3_000));
      if (rand(20) === 0) {
        recent.expire();
        if ((model[model.length - 1]?.at ?? -Infinity) < clock.now() - 2_000) model.length = 0;
      }
      const given = recent.of().map((r) => r.key);
      expect(given).toEqual(model.filter((m) => m.at > clock.now() - 2_000).map((m) => m.id));
    }
  });
});
