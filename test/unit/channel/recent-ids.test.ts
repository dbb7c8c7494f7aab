/**
 * The ids a node's channel clients delivered last (recent-ids.ts): what a claim of a
 * channel whose state was lost gathers, so that a repeat is answered, not ordered again.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { LogEntry, MessageEntry } from '../../../src/channel/entry.js';
import { RecentIds } from '../../../src/channel/recent-ids.js';
import type { Message } from '../../../src/protocol/message.js';
import { seeded } from '../../../src/rng.js';

function entry(serial: number, message: Partial<Message> & { id: string }): MessageEntry {
  const origin = { region: 'eu', epoch: 'e', seq: serial };
  return { kind: 'message', serial, channelSerial: `eu@e-${serial}`, storedAt: 0, origin, message: { timestamp: 0, ...message } };
}

const presence = (serial: number): LogEntry =>
  ({ kind: 'presence', serial, channelSerial: `p${serial}`, storedAt: 0, origin: { region: 'eu', epoch: 'e', seq: serial }, host: 'n1', presence: { id: `c:${serial}:0`, action: 2, clientId: 'x', connectionId: 'c', timestamp: 0 } }) as LogEntry;

describe('RecentIds', () => {
  it("gives a channel's message ids with the serial each was ordered under (an operation's where it is one), as dedup keys", () => {
    const recent = new RecentIds(() => 0);
    recent.note('app:a', [
      entry(1, { id: 'c1:0:0', connectionId: 'c1', serial: 'm1' }),
      presence(2),
      entry(3, { id: 'c1:1:0', connectionId: 'c1', serial: 'm3', version: { serial: 'v3', timestamp: 0 } }),
      // A client's own id naming another connection is kept apart (dedupKey).
      entry(4, { id: 'connection9:5:0', connectionId: 'c1', serial: 'm4' }),
      entry(5, { id: 'rest-id:0' }),
    ]);
    recent.note('app:b', [entry(1, { id: 'c2:0:0', connectionId: 'c2', serial: 'b1' })]);
    expect(recent.of('app:a')).toEqual([
      { key: 'c1:0:0', serial: 'm1' },
      { key: 'c1:1:0', serial: 'v3' },
      { key: '\u0001connection9:5:0', serial: 'm4' },
      { key: 'rest-id:0', serial: 'eu@e-5' },
    ]);
    expect(recent.of('app:b')).toEqual([{ key: 'c2:0:0', serial: 'b1' }]);
    expect(recent.of('app:none')).toEqual([]);
  });

  it('keeps the last `capacity` of all channels together, oldest first, and only those of the last span', () => {
    const clock = new ManualClock(0);
    const recent = new RecentIds(() => clock.now(), 4, 1_000);
    for (let i = 0; i < 6; i++) {
      recent.note(i % 2 ? 'app:odd' : 'app:even', [entry(i, { id: `id${i}` })]);
      clock.advance(100);
    }
    expect(recent.size).toBe(4);
    expect(recent.of('app:even').map((r) => r.key)).toEqual(['id2', 'id4']);
    expect(recent.of('app:odd').map((r) => r.key)).toEqual(['id3', 'id5']);
    // id2 was delivered at 200, id5 at 500: at 1,250 only those of the last second are given.
    clock.set(1_250);
    expect(recent.of('app:even').map((r) => r.key)).toEqual(['id4']);
    expect(recent.of('app:odd').map((r) => r.key)).toEqual(['id3', 'id5']);
    clock.set(1_600);
    expect(recent.of('app:odd')).toEqual([]);
  });

  it('gives what a plain list of the last `capacity` noted would, for any mix of channels and batches, and forgets channels with none left (a model check)', () => {
    const rand = seeded(7).int;
    const clock = new ManualClock(0);
    const recent = new RecentIds(() => clock.now(), 16, 500);
    const model: { channel: string; id: string; at: number }[] = [];
    for (let step = 0; step < 2_000; step++) {
      const channel = `app:c${rand(step < 1_000 ? 5 : 40)}`;
      const batch = Array.from({ length: rand(4) }, (_, k) => entry(k, { id: `s${step}-${k}` }));
      recent.note(channel, batch);
      for (const e of batch) model.push({ channel, id: (e as MessageEntry).message.id, at: clock.now() });
      clock.advance(rand(40));
      const held = model.slice(-16).filter((m) => m.at >= clock.now() - 500);
      for (let c = 0; c < 40; c++) {
        expect(recent.of(`app:c${c}`).map((r) => r.key)).toEqual(held.filter((m) => m.channel === `app:c${c}`).map((m) => m.id));
      }
      expect(recent.channelCount).toBe(new Set(model.slice(-16).map((m) => m.channel)).size);
    }
  });
});
