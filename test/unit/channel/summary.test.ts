import { describe, expect, it } from 'vitest';
import { MAX_SUMMARY_CLIENTS, MAX_SUMMARY_LISTED, MAX_SUMMARY_LISTED_CHARS, summarize, SummaryFold } from '../../../src/channel/summary.js';
import { MessageAction, type Message } from '../../../src/protocol/message.js';

let n = 0;
/** An annotation as stored: its own serial in the order made (`n`). */
function a(type: string, clientId: string | undefined, name?: string, more: { del?: boolean; count?: number } = {}): Message {
  const serial = `0170000000${String(1000 + n++).padStart(4, '0')}-11@eu:e`;
  const m: Message = { id: `a:${n}`, timestamp: n, serial: 'M', action: MessageAction.ANNOTATION, annotation: { action: more.del ? 1 : 0, type, serial } };
  if (more.count !== undefined) m.annotation!.count = more.count;
  if (clientId !== undefined) m.clientId = clientId;
  if (name !== undefined) m.name = name;
  return m;
}

const listed = (ids: string[], clipped = false) => ({ total: ids.length, clientIds: ids, clipped });

/** Shuffled deterministically (a seeded swap): the order annotations arrive in. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('a fold summarized after each annotation', () => {
  // The sorted clients are kept, and a new client put in its place (re-sorting them all at
  // each new one took 8 ms at 33,000): each summary lists the first clients in order.
  it('lists the first clients by clientId after each new one, whatever order they came in', () => {
    const fold = new SummaryFold();
    const ids = shuffled(Array.from({ length: 300 }, (_, i) => `c${String(i).padStart(3, '0')}`), 7);
    const had: string[] = [];
    for (const id of ids) {
      fold.add(a('f:flag.v1', id));
      had.push(id);
      const want = [...had].sort().slice(0, MAX_SUMMARY_CLIENTS);
      expect(fold.summary()['f:flag.v1']).toEqual({ total: had.length, clientIds: want, clipped: had.length > MAX_SUMMARY_CLIENTS });
    }
  });
});

describe('summarize', () => {
  it('total.v1 counts creates less deletes, never below 0, whoever sends them', () => {
    expect(summarize([a('v:total.v1', 'x'), a('v:total.v1', undefined), a('v:total.v1', 'x')])).toEqual({ 'v:total.v1': { total: 3 } });
    expect(summarize([a('v:total.v1', 'x', undefined, { del: true }), a('v:total.v1', 'x'), a('v:total.v1', 'y', undefined, { del: true })])).toEqual({ 'v:total.v1': { total: 0 } });
  });

  it('flag.v1 lists each client once; a delete takes its flag back', () => {
    expect(summarize([a('f:flag.v1', 'x'), a('f:flag.v1', 'y'), a('f:flag.v1', 'x'), a('f:flag.v1', 'y', undefined, { del: true })])).toEqual({ 'f:flag.v1': listed(['x']) });
  });

  it('distinct.v1 lists each client once per name; a delete takes it from that name, or from every name where it names none', () => {
    const s = summarize([a('r:distinct.v1', 'x', 'up'), a('r:distinct.v1', 'x', 'heart'), a('r:distinct.v1', 'y', 'up'), a('r:distinct.v1', 'y', 'up'), a('r:distinct.v1', 'x', 'up', { del: true })]);
    expect(s).toEqual({ 'r:distinct.v1': { heart: listed(['x']), up: listed(['y']) } });
    expect(summarize([a('r:distinct.v1', 'x', 'up'), a('r:distinct.v1', 'x', 'heart'), a('r:distinct.v1', 'x', undefined, { del: true })])).toEqual({ 'r:distinct.v1': {} });
  });

  it('unique.v1 keeps a client under one name: a new one moves it, and a delete of another name leaves it', () => {
    const s = summarize([a('v:unique.v1', 'x', 'a'), a('v:unique.v1', 'y', 'a'), a('v:unique.v1', 'x', 'b'), a('v:unique.v1', 'y', 'b', { del: true })]);
    expect(s).toEqual({ 'v:unique.v1': { a: listed(['y']), b: listed(['x']) } });
    expect(summarize([a('v:unique.v1', 'x', 'a'), a('v:unique.v1', 'x', undefined, { del: true })])).toEqual({ 'v:unique.v1': {} });
  });

  it("multiple.v1 adds counts up per client, the unidentified's apart; a delete takes back all of a client's for that name", () => {
    const s = summarize([a('c:multiple.v1', 'x', 'n', { count: 3 }), a('c:multiple.v1', 'x', 'n'), a('c:multiple.v1', undefined, 'n', { count: 4 }), a('c:multiple.v1', 'y', 'm', { count: 2 }), a('c:multiple.v1', 'y', 'm', { del: true })]);
    expect(s).toEqual({ 'c:multiple.v1': { n: { total: 8, clientIds: { x: 4 }, totalUnidentified: 4, clipped: false, totalClientIds: 1 } } });
  });

  it('comes to the same summary whatever order the annotations arrive in', () => {
    const all = [
      a('v:unique.v1', 'x', 'a'),
      a('r:distinct.v1', 'x', 'up'),
      a('v:unique.v1', 'x', 'b'),
      a('r:distinct.v1', 'y', 'up'),
      a('r:distinct.v1', 'x', 'up', { del: true }),
      a('c:multiple.v1', 'x', 'n', { count: 2 }),
      a('v:unique.v1', 'y', 'a'),
      a('c:multiple.v1', 'x', 'n', { del: true }),
      a('c:multiple.v1', 'x', 'n'),
      a('f:flag.v1', 'y'),
    ];
    const want = summarize(all);
    expect(want).toEqual({
      'v:unique.v1': { b: listed(['x']), a: listed(['y']) },
      'r:distinct.v1': { up: listed(['y']) },
      'c:multiple.v1': { n: { total: 1, clientIds: { x: 1 }, totalUnidentified: 0, clipped: false, totalClientIds: 1 } },
      'f:flag.v1': listed(['y']),
    });
    for (let seed = 1; seed < 30; seed++) expect(JSON.stringify(summarize(shuffled(all, seed))), `seed ${seed}`).toBe(JSON.stringify(want));
  });

  it(`lists at most ${MAX_SUMMARY_CLIENTS} clients an entry and ${MAX_SUMMARY_LISTED} a summary, in order, and says so (clipped); the totals stay whole`, () => {
    const many = Array.from({ length: MAX_SUMMARY_CLIENTS + 5 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    const s = summarize([...many.map((c) => a('f:flag.v1', c)), ...many.map((c) => a('m:multiple.v1', c, 'n', { count: 2 }))]) as Record<string, any>;
    expect(s['f:flag.v1'].total).toBe(many.length);
    expect(s['f:flag.v1'].clientIds).toEqual(many.slice(0, MAX_SUMMARY_CLIENTS));
    expect(s['f:flag.v1'].clipped).toBe(true);
    const m = s['m:multiple.v1'].n;
    expect({ total: m.total, listed: Object.keys(m.clientIds).length, clipped: m.clipped, totalClientIds: m.totalClientIds }).toEqual({ total: 2 * many.length, listed: MAX_SUMMARY_CLIENTS, clipped: true, totalClientIds: many.length });
    // Twelve names of a hundred clients: the first ten list theirs, the rest none.
    const names = Array.from({ length: 12 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const wide = summarize(names.flatMap((n) => many.slice(0, 100).map((c) => a('r:distinct.v1', c, n)))) as Record<string, Record<string, { total: number; clientIds: string[]; clipped: boolean }>>;
    const listedOf = Object.values(wide['r:distinct.v1']!).map((e) => [e.total, e.clientIds.length, e.clipped]);
    expect(listedOf).toEqual(names.map((_, i) => (i < MAX_SUMMARY_LISTED / 100 ? [100, 100, false] : [100, 0, true])));
  });

  it(`lists at most ${MAX_SUMMARY_LISTED_CHARS} characters of clientIds a summary`, () => {
    const long = Array.from({ length: 50 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(998)}`);
    const s = summarize(long.map((c) => a('f:flag.v1', c))) as Record<string, { total: number; clientIds: string[]; clipped: boolean }>;
    expect(s['f:flag.v1']).toEqual({ total: 50, clientIds: long.slice(0, Math.floor(MAX_SUMMARY_LISTED_CHARS / 1000)), clipped: true });
  });

  it('takes any name as a name (an own property, also __proto__)', () => {
    const s = summarize([a('r:distinct.v1', 'x', '__proto__'), a('r:distinct.v1', 'x', 'constructor')]) as Record<string, Record<string, unknown>>;
    expect(Object.keys(s['r:distinct.v1']!)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(s['r:distinct.v1'])).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
