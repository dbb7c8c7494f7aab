import { describe, expect, it } from 'vitest';
import { Checker, check, type Violation } from '../../../src/chaos/checker.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { cleanRun, del, end, fault, gap, pub, sub, unsub } from './history.js';

function kinds(examples: Violation[]): string[] {
  return examples.map((v) => v.kind);
}

describe('check', () => {
  it('passes a clean history in which every subscriber got every acknowledged message once, in order', () => {
    const r = check(cleanRun());
    expect(r.verdict).toBe('PASS');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.examples).toEqual([]);
    expect(r.totals).toMatchObject({ events: 16, channels: 1, regions: 2, subscribers: 3, deliveries: 9, expected: 9, excused: 0 });
    expect(r.totals.publishes).toEqual({ sent: 3, acked: 3, nacked: 0, unknown: 0 });
    expect(r.byChannel.map((c) => [c.channel, c.region, c.subscribers, c.expected])).toEqual([
      ['ch', 'r1', 2, 6],
      ['ch', 'r2', 1, 3],
    ]);
  });

  it('reports an acknowledged message a subscriber never got, without a gap signal, as lost', () => {
    const r = check(cleanRun(['c:2']));
    expect(r.verdict).toBe('FAIL');
    expect(r.violations.lost).toBe(1);
    expect(r.examples).toEqual([{ kind: 'lost', channel: 'ch', region: 'r2', client: 'c', publisher: 'p1', seq: 2, publishedAt: 200 }]);
    expect(r.byChannel.find((c) => c.region === 'r2')?.lost).toBe(1);
    expect(r.byRegion.find((g) => g.region === 'r2')?.lost).toBe(1);
    expect(r.byRegion.find((g) => g.region === 'r1')?.lost).toBe(0);
  });

  it('reports a hidden gap, a message missing between two delivered ones with no continuity event, as lost', () => {
    const r = check(cleanRun(['a:2']));
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 1, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.examples[0]).toMatchObject({ kind: 'lost', client: 'a', seq: 2 });
  });

  it('does not let a gap signalled before the publish excuse a message missing after it', () => {
    const r = check([gap(150, 'c'), ...cleanRun(['c:2'])]);
    expect(r.violations.lost).toBe(1);
    expect(r.totals.excused).toBe(0);
  });

  it('excuses a missing message when the subscriber was told of a gap after it was published', () => {
    const r = check([...cleanRun(['c:2']), gap(400, 'c')]);
    expect(r.verdict).toBe('PASS');
    expect(r.violations.lost).toBe(0);
    expect(r.totals.excused).toBe(1);
    expect(r.byChannel.find((c) => c.region === 'r2')?.excused).toBe(1);
  });

  it('excuses a message published at the very moment of the gap signal', () => {
    expect(check([...cleanRun(['c:2']), gap(200, 'c')]).violations.lost).toBe(0);
  });

  it('ignores continuity signals after the end line, so teardown excuses nothing', () => {
    const r = check([...cleanRun(['c:2']), gap(1500, 'c')]);
    expect(r.violations.lost).toBe(1);
    expect(r.notes.join('\n')).toMatch(/after the end line were ignored/);
  });

  it('reports the same message delivered twice to one subscriber as a duplicate', () => {
    const r = check([...cleanRun(), del(260, 'b', 'p1', 2, 200)]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 1, order: 0, regionOrder: 0 });
    expect(r.examples).toEqual([{ kind: 'duplicate', channel: 'ch', region: 'r1', client: 'b', publisher: 'p1', seq: 2, deliveries: 2 }]);
    expect(r.totals.deliveries).toBe(10);
  });

  it('counts every extra delivery and reports how many times the message came', () => {
    const r = check([...cleanRun(), del(260, 'b', 'p1', 2, 200), del(270, 'b', 'p1', 2, 200)]);
    expect(r.violations.duplicates).toBe(2);
    expect(r.examples).toEqual([expect.objectContaining({ kind: 'duplicate', deliveries: 3 })]);
  });

  it('reports a message received after a larger seq of the same publisher as out of order', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      pub(100, 'p1', 1),
      pub(200, 'p1', 2),
      pub(300, 'p1', 3),
      del(110, 'a', 'p1', 1, 100),
      del(310, 'a', 'p1', 3, 300),
      del(311, 'a', 'p1', 2, 200),
      end(1000),
    ];
    const r = check(events);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 1, regionOrder: 0 });
    expect(r.examples).toEqual([{ kind: 'order', channel: 'ch', region: 'r1', client: 'a', publisher: 'p1', seq: 2, afterSeq: 3, at: 311 }]);
  });

  it('judges order by the order of deliver lines, not by their times', () => {
    const events: RecordEvent[] = [sub(0, 'a'), pub(100, 'p1', 1), pub(101, 'p1', 2), del(110, 'a', 'p1', 2, 101), del(110, 'a', 'p1', 1, 100), end(500)];
    expect(check(events).violations.order).toBe(1);
  });

  it('reports two subscribers of one region that got two messages in opposite orders', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      sub(0, 'b'),
      pub(100, 'p1', 1),
      pub(100, 'q1', 1),
      del(120, 'a', 'p1', 1, 100),
      del(121, 'a', 'q1', 1, 100),
      del(120, 'b', 'q1', 1, 100),
      del(121, 'b', 'p1', 1, 100),
      end(500),
    ];
    const r = check(events);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 1 });
    expect(r.examples).toEqual([
      { kind: 'regionOrder', channel: 'ch', region: 'r1', clients: ['a', 'b'], first: { publisher: 'p1', seq: 1 }, second: { publisher: 'q1', seq: 1 } },
    ]);
  });

  it('accepts subscribers of different regions that saw different orders', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      sub(0, 'c'),
      pub(100, 'p1', 1),
      pub(100, 'q1', 1),
      del(120, 'a', 'p1', 1, 100),
      del(121, 'a', 'q1', 1, 100),
      del(120, 'c', 'q1', 1, 100),
      del(121, 'c', 'p1', 1, 100),
      end(500),
    ];
    expect(check(events).verdict).toBe('PASS');
  });

  it('compares only the messages both subscribers of a region received', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      sub(0, 'b'),
      pub(100, 'p1', 1),
      pub(100, 'q1', 1),
      pub(100, 'p2', 1),
      del(120, 'a', 'p1', 1, 100),
      del(121, 'a', 'q1', 1, 100),
      del(122, 'a', 'p2', 1, 100),
      del(120, 'b', 'p2', 1, 100),
      del(121, 'b', 'q1', 1, 100),
      gap(400, 'b'),
      end(500),
    ];
    const r = check(events);
    expect(r.violations.regionOrder).toBe(1);
    expect(r.examples[0]).toMatchObject({ first: { publisher: 'q1' }, second: { publisher: 'p2' } });
  });

  it("compares a subscriber's deliveries before and after the channel restarted in a new epoch (90005) apart, and only then", () => {
    // a had p1#1 before the restart; b had nothing before it; after it, b gets q1#1 then
    // p1#1 (the new stream reached back for p1#1), and a q1#1 (its floors skip p1#1).
    const restart = (t: number, client: string, code: number): RecordEvent => ({
      type: 'continuity', t, region: 'r1', client, channel: 'ch', resumed: false, error: { code, message: 'restarted' },
    });
    const events = (code: number): RecordEvent[] => [
      sub(0, 'a'),
      sub(0, 'b'),
      pub(100, 'p1', 1),
      pub(150, 'q1', 1),
      del(110, 'a', 'p1', 1, 100),
      restart(130, 'a', code),
      restart(130, 'b', code),
      del(160, 'a', 'q1', 1, 150),
      del(160, 'b', 'q1', 1, 150),
      del(161, 'b', 'p1', 1, 100),
      end(500),
    ];
    expect(check(events(90005)).violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    // A gap in one stream (90003: messages from another region lost) is not a restart: one order still.
    expect(check(events(90003)).violations.regionOrder).toBe(1);
  });

  it('counts every pair of disagreeing subscribers once, also when several share one order', () => {
    const order1 = (client: string) => [del(120, client, 'p1', 1, 100), del(121, client, 'q1', 1, 100)];
    const order2 = (client: string) => [del(120, client, 'q1', 1, 100), del(121, client, 'p1', 1, 100)];
    const events: RecordEvent[] = [
      ...['a', 'b', 'x', 'y'].map((c) => sub(0, c)),
      pub(100, 'p1', 1),
      pub(100, 'q1', 1),
      ...order1('a'),
      ...order1('b'),
      ...order1('x'),
      ...order2('y'),
      end(500),
    ];
    expect(check(events).violations.regionOrder).toBe(3);
  });

  describe('a subscriber that moves to another region', () => {
    /** `a` (r1) gets p1:1 and q1:1 in r1, moves to r2, and gets p1:2 and q1:2 there in r2's order; `c` is r2's own. */
    function moved(after: RecordEvent[] = []): RecordEvent[] {
      const inR2 = (client: string, t: number) => ({ ...del(t, client, 'q1', 2, 200), region: 'r2' }) as RecordEvent;
      const p1InR2 = (client: string, t: number) => ({ ...del(t, client, 'p1', 2, 200), region: 'r2' }) as RecordEvent;
      return [
        sub(0, 'a'),
        sub(0, 'b'),
        sub(0, 'c'),
        pub(100, 'p1', 1),
        pub(100, 'q1', 1),
        del(110, 'a', 'p1', 1, 100),
        del(111, 'a', 'q1', 1, 100),
        del(110, 'b', 'p1', 1, 100),
        del(111, 'b', 'q1', 1, 100),
        del(150, 'c', 'q1', 1, 100),
        del(151, 'c', 'p1', 1, 100),
        pub(200, 'p1', 2),
        pub(200, 'q1', 2),
        // r1 orders p1:2 before q1:2; r2 (and the moved a, there) the other way round.
        del(210, 'b', 'p1', 2, 200),
        del(211, 'b', 'q1', 2, 200),
        inR2('c', 240),
        p1InR2('c', 241),
        inR2('a', 250),
        p1InR2('a', 251),
        ...after,
        end(500),
      ];
    }

    it("is compared with each region's subscribers over what it received there, and counted where it first subscribed", () => {
      const r = check(moved());
      expect(r.verdict).toBe('PASS');
      expect(r.byChannel.map((c) => [c.region, c.subscribers, c.expected])).toEqual([
        ['r1', 2, 8],
        ['r2', 1, 4],
      ]);
      // a's two deliveries in r2 were of r2's publisher q1 (in-region there) and r1's p1.
      expect(r.byRegion.find((x) => x.region === 'r2')!.latency.inRegion.outsideFaults.count).toBe(3);
    });

    it("is held to r2's order there", () => {
      const swapped = moved().filter((e) => !(e.type === 'deliver' && e.client === 'a' && e.t >= 250));
      swapped.splice(-1, 0, { ...del(250, 'a', 'p1', 2, 200), region: 'r2' }, { ...del(251, 'a', 'q1', 2, 200), region: 'r2' });
      const r = check(swapped);
      expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 1 });
      expect(r.examples[0]).toMatchObject({ region: 'r2', clients: ['a', 'c'] });
    });

    it('is held to every message and to once only across the move', () => {
      const lost = check(moved().filter((e) => !(e.type === 'deliver' && e.client === 'a' && e.publisher === 'q1' && e.seq === 2)));
      expect(lost.violations).toMatchObject({ lost: 1, duplicates: 0 });
      const twice = check(moved([{ ...del(260, 'a', 'p1', 1, 100), region: 'r2' }]));
      expect(twice.violations).toMatchObject({ lost: 0, duplicates: 1, regionOrder: 0 });
    });
  });

  it('expects nothing published before a subscriber attached', () => {
    const events: RecordEvent[] = [pub(100, 'p1', 1), sub(150, 'a'), pub(200, 'p1', 2), del(210, 'a', 'p1', 2, 200), end(500)];
    const r = check(events);
    expect(r.verdict).toBe('PASS');
    expect(r.totals.expected).toBe(1);
  });

  it('does not check a subscriber that unsubscribed before the end for loss', () => {
    expect(check([...cleanRun(['c:2', 'c:3']), unsub(250, 'c')]).verdict).toBe('PASS');
  });

  it('still checks a subscriber that unsubscribed only at teardown, after the end line', () => {
    expect(check([...cleanRun(['c:3']), unsub(1200, 'c')]).violations.lost).toBe(1);
  });

  it('expects only acknowledged messages, and reports deliveries of NACKed or unpublished ones as anomalies', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      { ...pub(100, 'p1', 1, 'nack'), error: { code: 50003, message: 'timeout' } },
      pub(200, 'p1', 2, 'unknown'),
      pub(300, 'p1', 3, 'nack'),
      del(110, 'a', 'p1', 1, 100),
      del(410, 'a', 'p1', 4, 400),
      end(1000),
    ];
    const r = check(events);
    expect(r.verdict).toBe('PASS');
    expect(r.totals.expected).toBe(0);
    expect(r.anomalies).toEqual({
      deliveredButNacked: 1,
      deliveredButNeverPublished: 1,
      examples: [
        { kind: 'deliveredButNacked', channel: 'ch', publisher: 'p1', seq: 1, deliveries: 1, error: { code: 50003, message: 'timeout' } },
        { kind: 'deliveredButNeverPublished', channel: 'ch', publisher: 'p1', seq: 4, deliveries: 1 },
      ],
    });
  });

  it('treats a message with any ACKed attempt as acknowledged', () => {
    const events: RecordEvent[] = [sub(0, 'a'), pub(100, 'p1', 1, 'nack'), pub(150, 'p1', 1, 'ack'), end(500)];
    const r = check(events);
    expect(r.violations.lost).toBe(1);
    expect(r.examples[0]).toMatchObject({ publishedAt: 100 });
    expect(r.totals.publishes).toEqual({ sent: 2, acked: 1, nacked: 1, unknown: 0 });
  });

  it('keeps channels apart: the same publisher and seq on two channels are two messages', () => {
    const events: RecordEvent[] = [
      sub(0, 'a', 'x'),
      sub(0, 'a', 'y'),
      pub(100, 'p1', 1, 'ack', 'x'),
      pub(100, 'p1', 1, 'ack', 'y'),
      del(110, 'a', 'p1', 1, 100, 'x'),
      del(111, 'a', 'p1', 1, 100, 'y'),
      end(500),
    ];
    const r = check(events);
    expect(r.verdict).toBe('PASS');
    expect(r.totals.channels).toBe(2);
    expect(r.totals.expected).toBe(2);
  });

  it('lists the examples grouped by kind, lost before duplicates', () => {
    const r = check([...cleanRun(['c:2']), del(260, 'b', 'p1', 2, 200), del(320, 'a', 'p1', 1, 100)]);
    expect(kinds(r.examples)).toEqual(['lost', 'duplicate', 'duplicate']);
  });

  it('gives the same report whether events come at once or one by one through Checker', () => {
    const events = [...cleanRun(['c:2']), fault(150, 'start'), fault(250, 'end')];
    const c = new Checker();
    for (const e of events) c.add(e);
    expect(c.finish()).toEqual(check(events));
  });
});

describe('check presence', () => {
  const view = (observer: string, seen: string[], convergedAfterMs: number | null, region = 'r1'): RecordEvent => ({
    type: 'presence',
    t: 1000,
    region,
    observer,
    channel: 'ch',
    expected: ['m0 c1', 'm1 c2'],
    seen,
    convergedAfterMs,
  });

  it('has no presence figures when the record has no presence lines', () => {
    expect(check(cleanRun()).presence).toBeNull();
  });

  it('passes when every view showed exactly the members, and gives the slowest view its time', () => {
    const r = check([...cleanRun(), view('rest', ['m0 c1', 'm1 c2'], 0), view('a', ['m0 c1', 'm1 c2'], 4500, 'r2')]);
    expect(r.verdict).toBe('PASS');
    expect(r.presence).toEqual({ views: 2, members: 2, mismatched: 0, convergedAfterMs: 4500, examples: [] });
  });

  it('fails a run in which a view still showed a member gone or missed one at the end, and names them', () => {
    const r = check([...cleanRun(), view('rest', ['m0 c1', 'm1 c2'], 0), view('a', ['m0 c0', 'm0 c1'], null, 'r2')]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.presence).toMatchObject({ views: 2, mismatched: 1, convergedAfterMs: null });
    expect(r.presence!.examples).toEqual([{ region: 'r2', observer: 'a', channel: 'ch', missing: ['m1 c2'], extra: ['m0 c0'] }]);
  });
});

describe('check latency', () => {
  it('computes in-region and cross-region p50 and p99 outside fault windows', () => {
    const r = check(cleanRun());
    expect(r.latency.inRegion.outsideFaults).toEqual({ count: 6, p50Ms: 10, p99Ms: 10, maxMs: 10 });
    expect(r.latency.crossRegion.outsideFaults).toEqual({ count: 3, p50Ms: 50, p99Ms: 50, maxMs: 50 });
    expect(r.latency.inRegion.insideFaults.count).toBe(0);
    expect(r.latency.inRegion.insideFaults.p50Ms).toBeNull();
  });

  it('uses nearest-rank percentiles', () => {
    const events: RecordEvent[] = [sub(0, 'a')];
    const lags = [40, 10, 30, 20];
    lags.forEach((lag, i) => {
      const t = 100 * (i + 1);
      events.push(pub(t, 'p1', i + 1), del(t + lag, 'a', 'p1', i + 1, t));
    });
    events.push(end(1000));
    expect(check(events).latency.inRegion.outsideFaults).toEqual({ count: 4, p50Ms: 20, p99Ms: 40, maxMs: 40 });
  });

  it('puts a delivery whose publish-to-deliver interval overlaps a fault window inside faults', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      sub(0, 'c'),
      fault(1000, 'start'),
      fault(2000, 'end'),
      // Before the window, in it, and straddling its start.
      pub(500, 'p1', 1),
      del(505, 'a', 'p1', 1, 500),
      del(530, 'c', 'p1', 1, 500),
      pub(1500, 'p1', 2),
      del(1520, 'a', 'p1', 2, 1500),
      del(2300, 'c', 'p1', 2, 1500),
      pub(990, 'p1', 3),
      del(1010, 'a', 'p1', 3, 990),
      del(1100, 'c', 'p1', 3, 990),
      end(3000),
    ];
    const r = check(events);
    expect(r.latency.inRegion.outsideFaults).toMatchObject({ count: 1, p50Ms: 5 });
    expect(r.latency.inRegion.insideFaults).toMatchObject({ count: 2, p50Ms: 20, p99Ms: 20 });
    expect(r.latency.crossRegion.outsideFaults).toMatchObject({ count: 1, p50Ms: 30 });
    expect(r.latency.crossRegion.insideFaults).toMatchObject({ count: 2, p50Ms: 110, p99Ms: 800 });
    expect(r.byRegion.find((g) => g.region === 'r2')?.latency.crossRegion.insideFaults.maxMs).toBe(800);
  });

  it('measures latency from the sentAt the delivery carries', () => {
    const events: RecordEvent[] = [sub(0, 'a'), pub(100, 'p1', 1), del(150, 'a', 'p1', 1, 120), end(500)];
    expect(check(events).latency.inRegion.outsideFaults.p50Ms).toBe(30);
  });
});

describe('check availability', () => {
  it('gives, per region and fault window, the share of publishes sent in the window that were ACKed', () => {
    const events: RecordEvent[] = [
      fault(1000, 'start'),
      fault(2000, 'end'),
      pub(500, 'p1', 1, 'nack'),
      pub(1000, 'p1', 2),
      pub(1200, 'p1', 3),
      pub(1400, 'p1', 4, 'nack'),
      pub(2000, 'p1', 5),
      pub(1100, 'q1', 1),
      pub(1900, 'q1', 2, 'unknown'),
      pub(2500, 'q1', 3),
      end(3000),
    ];
    const r = check(events);
    expect(r.faults).toHaveLength(1);
    expect(r.faults[0]?.availability).toEqual([
      { region: 'r1', sent: 4, acked: 3, nacked: 1, unknown: 0, share: 0.75 },
      { region: 'r2', sent: 2, acked: 1, nacked: 0, unknown: 1, share: 0.5 },
    ]);
    expect(r.availability.outsideFaults).toEqual([
      { region: 'r1', sent: 1, acked: 0, nacked: 1, unknown: 0, share: 0 },
      { region: 'r2', sent: 1, acked: 1, nacked: 0, unknown: 0, share: 1 },
    ]);
  });

  it("notes each publisher connection replaced after a failed resume (its resends go under new ids)", () => {
    const events: RecordEvent[] = [
      pub(1000, 'p1', 1),
      { type: 'connection', t: 3500, region: 'r1', client: 'p1', connectionId: 'c2', previous: 'c1', error: { code: 80008, message: 'unable to recover' } },
      end(9000),
    ];
    expect(check(events).notes.join('\n')).toMatch(/publisher connection\(s\) replaced, their resume having failed: p1 at \+2\.5 s \(80008\)/);
    expect(check(events.filter((e) => e.type !== 'connection')).notes.join('\n')).not.toMatch(/replaced/);
  });

  it('pairs fault starts and ends by action and target, and closes a window left open at the end', () => {
    const events: RecordEvent[] = [
      fault(100, 'start', 'kill', 'n1'),
      fault(200, 'start', 'partition', 'r1-r2'),
      fault(300, 'end', 'kill', 'n1'),
      fault(400, 'end', 'kill', 'n9'),
      end(900),
    ];
    const r = check(events);
    expect(r.faults.map((f) => [f.action, f.target, f.start, f.end, f.open])).toEqual([
      ['kill', 'n1', 100, 300, false],
      ['partition', 'r1-r2', 200, 900, true],
    ]);
    expect(r.notes.join('\n')).toMatch(/fault end without a start ignored: kill n9/);
  });
});

describe('check convergence', () => {
  it('measures from the end of a fault until the last held-back message arrived', () => {
    const events: RecordEvent[] = [
      sub(0, 'a'),
      sub(0, 'c'),
      fault(1000, 'start'),
      fault(2000, 'end'),
      pub(1500, 'p1', 1),
      del(1510, 'a', 'p1', 1, 1500),
      del(2300, 'c', 'p1', 1, 1500),
      pub(1600, 'p1', 2),
      del(1610, 'a', 'p1', 2, 1600),
      del(2250, 'c', 'p1', 2, 1600),
      // Published after the heal: not part of this window's convergence.
      pub(2100, 'p1', 3),
      del(2110, 'a', 'p1', 3, 2100),
      del(2900, 'c', 'p1', 3, 2100),
      end(3000),
    ];
    const r = check(events);
    expect(r.faults[0]).toMatchObject({ convergenceMs: 300, unconverged: 0 });
  });

  it('is zero when everything published before the end had already arrived by then', () => {
    const r = check([...cleanRun(), fault(150, 'start'), fault(500, 'end')]);
    expect(r.faults[0]).toMatchObject({ convergenceMs: 0, unconverged: 0 });
  });

  it('never converges while an expected message published before the end is missing, but later windows are not blamed for earlier ones excused', () => {
    const events: RecordEvent[] = [
      ...cleanRun(['c:2', 'a:3']),
      gap(250, 'c'),
      fault(150, 'start', 'partition'),
      fault(260, 'end', 'partition'),
      fault(270, 'start', 'kill', 'n1'),
      fault(350, 'end', 'kill', 'n1'),
    ];
    const r = check(events);
    expect(r.faults.map((f) => [f.action, f.convergenceMs, f.unconverged])).toEqual([
      ['partition', 0, 0],
      ['kill', null, 1],
    ]);
    expect(r.totals.excused).toBe(1);
    expect(r.violations.lost).toBe(1);
  });
});

describe('check timeline', () => {
  it('buckets first deliveries per second per subscriber region with their p50 latency', () => {
    const events: RecordEvent[] = [
      sub(1000, 'a'),
      sub(1000, 'c'),
      pub(1100, 'p1', 1),
      del(1110, 'a', 'p1', 1, 1100),
      del(1150, 'c', 'p1', 1, 1100),
      pub(1200, 'p1', 2),
      del(1230, 'a', 'p1', 2, 1200),
      del(1230, 'a', 'p1', 2, 1200),
      pub(3100, 'p1', 3),
      del(3120, 'a', 'p1', 3, 3100),
      del(3150, 'c', 'p1', 3, 3100),
      end(3500),
    ];
    const r = check(events);
    expect(r.timeline).toEqual({
      start: 1000,
      bucketMs: 1000,
      buckets: 3,
      series: [
        { region: 'r1', deliveriesPerS: [2, 0, 1], p50Ms: [10, null, 20] },
        { region: 'r2', deliveriesPerS: [1, 0, 1], p50Ms: [50, null, 50] },
      ],
    });
  });

  it('widens the buckets of a long run so that it has about 1800 of them', () => {
    const r = check([sub(0, 'a'), end(3 * 3600 * 1000)]);
    expect(r.timeline.bucketMs).toBe(6000);
    expect(r.timeline.buckets).toBeLessThanOrEqual(1801);
  });
});

describe('deltas', () => {
  const deltas = (client: string, received: number, decoded: number, reattached = 0): RecordEvent => ({ type: 'deltas', t: 5_000, region: 'r1', client, received, decoded, reattached });

  it('adds up what the subscribers in delta mode decoded, and says none where there were none', () => {
    const r = check([...cleanRun(), deltas('a', 50, 40, 1), deltas('b', 3, 2), deltas('c', 5, 0)]);
    expect(r.verdict).toBe('PASS');
    expect(r.deltas).toEqual({ subscribers: 3, received: 58, decoded: 42, reattached: 1, starved: [] });
    expect(check(cleanRun()).deltas).toBeNull();
  });

  it('fails a run in which a subscriber in delta mode was sent most messages whole (none, or fewer than half as deltas), though others were not', () => {
    const r = check([...cleanRun(), deltas('a', 50, 49), deltas('b', 12, 0), deltas('c', 40, 19), deltas('d', 40, 20)]);
    expect(r.verdict).toBe('FAIL');
    expect(r.deltas!.starved).toEqual(['b', 'c']);
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
  });
});

describe('subscription filters', () => {
  // d (r2) takes seqs 1 and 3 of 1..3 (seq % 2 === 1), and expects only those.
  const filtered = (t: number): RecordEvent => ({ type: 'subscribe', t, region: 'r2', client: 'd', channel: 'ch', filter: { mod: 2, keep: [1] } });

  it('expects of a filtered subscriber only the messages its filter lets through', () => {
    const r = check([filtered(0), del(160, 'd', 'p1', 1, 100), del(360, 'd', 'p1', 3, 300), ...cleanRun()]);
    expect(r.verdict).toBe('PASS');
    expect(r.totals.expected).toBe(11);
    expect(r.filters).toEqual({ subscribers: 1, delivered: 2, leaked: 0, examples: [] });
    expect(check(cleanRun()).filters).toBeNull();
  });

  it('reports a message its filter lets through and it never got as lost', () => {
    const r = check([filtered(0), del(160, 'd', 'p1', 1, 100), ...cleanRun()]);
    expect(r.verdict).toBe('FAIL');
    expect(r.examples).toEqual([expect.objectContaining({ kind: 'lost', client: 'd', seq: 3 })]);
  });

  it('fails a run in which a filtered subscriber was given a message its filter holds back', () => {
    const r = check([filtered(0), del(160, 'd', 'p1', 1, 100), del(260, 'd', 'p1', 2, 200), del(360, 'd', 'p1', 3, 300), ...cleanRun()]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.filters).toEqual({ subscribers: 1, delivered: 3, leaked: 1, examples: ['ch r2/d got p1#2'] });
  });
});
