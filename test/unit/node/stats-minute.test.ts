/**
 * `[meta]stats:minute`: when each minute's statistics are published, by which node, under
 * which id, and what the message holds (against a clock the test moves).
 */
import { describe, expect, it } from 'vitest';
import { PUBLISH_AFTER_MS, statsMessage, StatsMinute } from '../../../src/node/stats-minute.js';
import type { StatsBucket } from '../../../src/node/stats.js';
import type { Message } from '../../../src/protocol/message.js';
import { silentLogger } from '../../../src/log.js';

const MINUTE = 60_000;
/** 2026-12-07 10:00:00 UTC. */
const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);

function harness(o: { at: number; mine?: string[]; fail?: boolean; incomplete?: number }) {
  let now = o.at;
  const published: { key: string; messages: Message[] }[] = [];
  const asked: { appId: string; start: number; end: number }[] = [];
  const warned: string[] = [];
  const log = { ...silentLogger(), warn: (obj: object, msg: string) => void warned.push(`${msg} ${JSON.stringify(obj)}`) } as ReturnType<typeof silentLogger>;
  const s = new StatsMinute({
    region: 'eu',
    apps: () => ['a', 'b'],
    now: () => now,
    mine: (key) => (o.mine ?? ['a:[meta]stats:minute']).includes(key),
    stats: async (appId, start, end): Promise<{ minutes: StatsBucket[]; complete: boolean }> => {
      asked.push({ appId, start, end });
      // The first `incomplete` questions: a node of the region did not answer.
      return { minutes: [{ minute: start, entries: { 'messages.all.all.count': 7, 'connections.all.peak': 2 } }], complete: asked.length > (o.incomplete ?? 0) };
    },
    publish: async (key, messages) => {
      if (o.fail) throw new Error('master moved');
      published.push({ key, messages });
    },
    log,
  });
  /** Moves the clock and ticks, then lets the publish run. */
  const at = async (t: number) => {
    now = t;
    s.tick();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { s, at, published, asked, warned };
}

describe('statsMessage', () => {
  it("is an `update` whose data is the minute's record with the region, under an id of the region and minute", () => {
    const m = statsMessage('a', 'eu', [{ minute: T0, entries: { 'messages.all.all.count': 3 } }, { minute: T0, entries: { 'messages.all.all.count': 4 } }], T0 + 3_000)!;
    expect(m).toMatchObject({ id: 'stats:eu:2026-12-07:10:00', name: 'update', encoding: 'json', timestamp: T0 + 3_000 });
    expect(JSON.parse(m.data as string)).toEqual({
      intervalId: '2026-12-07:10:00',
      unit: 'minute',
      schema: 'https://schemas.ably.com/json/app-stats-0.0.5.json',
      entries: { 'messages.all.all.count': 7 },
      appId: 'a',
      region: 'eu',
    });
  });

  it('is nothing for a minute with no entry', () => {
    expect(statsMessage('a', 'eu', [], T0)).toBeNull();
    expect(statsMessage('a', 'eu', [{ minute: T0, entries: {} }], T0)).toBeNull();
  });
});

describe('StatsMinute', () => {
  it('publishes the minute that ended for the apps whose metachannel this node masters, after its counts are in, and once more under the same id', async () => {
    const h = harness({ at: T0 + 30_000 });
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[0] - 1);
    expect(h.published).toEqual([]);
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[0]);
    expect(h.asked).toEqual([{ appId: 'a', start: T0, end: T0 }]);
    expect(h.published.map((p) => [p.key, p.messages[0]!.id])).toEqual([['a:[meta]stats:minute', 'stats:eu:2026-12-07:10:00']]);
    await h.at(T0 + MINUTE + 10_000);
    expect(h.published).toHaveLength(1);
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[1]);
    expect(h.published.map((p) => p.messages[0]!.id)).toEqual(['stats:eu:2026-12-07:10:00', 'stats:eu:2026-12-07:10:00']);
    await h.at(T0 + MINUTE + 40_000);
    // The next minute.
    await h.at(T0 + 2 * MINUTE + PUBLISH_AFTER_MS[0]);
    expect(h.published.map((p) => p.messages[0]!.id)).toEqual(['stats:eu:2026-12-07:10:00', 'stats:eu:2026-12-07:10:00', 'stats:eu:2026-12-07:10:01']);
  });

  it('publishes nothing for apps whose metachannel another node masters', async () => {
    const h = harness({ at: T0 + 30_000, mine: [] });
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[1]);
    expect(h.asked).toEqual([]);
    expect(h.published).toEqual([]);
  });

  it('started (or made master) late in a minute, publishes the one that ended before once, not every attempt at once', async () => {
    const h = harness({ at: T0 + MINUTE + 10_000 });
    await h.at(T0 + MINUTE + 10_000);
    expect(h.published.map((p) => p.messages[0]!.id)).toEqual(['stats:eu:2026-12-07:10:00']);
    await h.at(T0 + MINUTE + 12_000);
    expect(h.published).toHaveLength(1);
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[1]);
    expect(h.published).toHaveLength(2);
  });

  it('publishes at the next attempt where a node of the region did not answer (its counts missing), and at the last one whatever came', async () => {
    const h = harness({ at: T0 + 30_000, incomplete: 5 });
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[0]);
    expect(h.asked).toHaveLength(1);
    expect(h.published).toEqual([]);
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[1]);
    expect(h.asked).toHaveLength(2);
    expect(h.published.map((p) => p.messages[0]!.id)).toEqual(['stats:eu:2026-12-07:10:00']);
  });

  it('says so where a publish fails, and tries again at the next attempt', async () => {
    const h = harness({ at: T0 + 30_000, fail: true });
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[0]);
    await h.at(T0 + MINUTE + PUBLISH_AFTER_MS[1]);
    expect(h.warned).toHaveLength(2);
    expect(h.warned[0]).toMatch(/statistics not published.*master moved/);
  });
});
