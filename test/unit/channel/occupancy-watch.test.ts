import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChannelClient } from '../../../src/channel/client.js';
import { OccupancyWatch } from '../../../src/channel/occupancy-watch.js';
import { noAttachments, type OccupancyWanted } from '../../../src/channel/occupancy.js';
import type { LocalSubscriber } from '../../../src/channel/subscriber.js';
import type { NodeId, Occupancy, OccupancyReport } from '../../../src/transport/messages.js';

/** A live attachment that keeps the data of each occupancy event it is sent. */
function sub(occupancy: OccupancyWanted | null): LocalSubscriber & { got: unknown[] } {
  const got: unknown[] = [];
  return {
    connectionId: `c${Math.random()}`,
    format: 'json',
    channelName: 'ch',
    echo: true,
    publishes: true,
    enters: true,
    occupancy,
    wants: () => true,
    send(frames) {
      for (const f of frames) got.push(JSON.parse(JSON.parse(String(f)).messages[0].data).metrics);
    },
    discontinuity() {},
    got,
  };
}

/** The parts of a channel client the watch reads, and what a test changes of them. */
interface Fake {
  subs: LocalSubscriber[];
  master: NodeId | null;
  members: number;
}

function client(subs: LocalSubscriber[], master: NodeId | null = 'm'): { f: Fake; c: ChannelClient } {
  const f: Fake = { subs, master, members: 0 };
  const c = {
    key: 'app:ch',
    live: () => f.subs[Symbol.iterator](),
    get presenceSize() {
      return f.members;
    },
    get subscribedAt() {
      return f.master;
    },
    sentApart: () => undefined,
  };
  return { f, c: c as unknown as ChannelClient };
}

const totals = (connections: number): Occupancy => ({ ...noAttachments(), connections });

describe('OccupancyWatch', () => {
  let reports: { to: NodeId; r: OccupancyReport }[];
  let watch: OccupancyWatch;
  beforeEach(() => {
    vi.useFakeTimers();
    reports = [];
    watch = new OccupancyWatch({ send: (to, r) => void reports.push({ to, r }), intervalMs: 1000, now: () => 5, idPrefix: 'n1.x' });
  });
  afterEach(() => {
    watch.stop();
    vi.useRealTimers();
  });

  it('reports the attachments by mode, says a watcher is fresh until it has had an event, and sends each watcher only what changed for it', () => {
    const all = sub({ category: null });
    const conns = sub({ category: 'connections' });
    const { f, c } = client([all, conns, sub(null)]);
    watch.changed(c, all);
    expect(reports.at(-1)!.r).toMatchObject({ counts: { connections: 3, publishers: 3, presenceConnections: 3 }, watchers: 2, fresh: true });
    watch.totals(c, 'm', totals(3));
    expect(all.got).toEqual([expect.objectContaining({ connections: 3, presenceMembers: 0 })]);
    expect(conns.got).toEqual([{ connections: 3 }]);
    vi.advanceTimersByTime(200);
    watch.changed(c, conns);
    expect(reports.at(-1)!.r.fresh).toBe(false);
    // The presence set changes: the full watcher is told, the connections watcher is not.
    f.members = 1;
    watch.presence(c);
    expect(all.got.length).toBe(2);
    expect(conns.got.length).toBe(1);
  });

  it('takes totals only from the master its client is subscribed at', () => {
    const w = sub({ category: null });
    const { c } = client([w]);
    watch.changed(c, w);
    watch.totals(c, 'old-master', totals(9));
    expect(w.got).toEqual([]);
    watch.totals(c, 'm', totals(1));
    expect(w.got.length).toBe(1);
  });

  it('asks the master for the totals again when it subscribes again, and again for an attachment that attaches again', () => {
    const w = sub({ category: null });
    const { f, c } = client([w]);
    watch.changed(c, w);
    watch.totals(c, 'm', totals(1));
    watch.subscribed(c, 'm');
    expect(reports.at(-1)).toMatchObject({ to: 'm', r: { fresh: true, moved: true } });
    // Until then, its presence changes wait for the totals.
    f.members = 1;
    watch.presence(c);
    expect(w.got.length).toBe(1);
    watch.totals(c, 'm', totals(1));
    expect(w.got.length).toBe(2);
    watch.attaching(c, w);
    vi.advanceTimersByTime(200);
    watch.changed(c, w);
    expect(reports.at(-1)!.r.fresh).toBe(true);
    watch.totals(c, 'm', totals(1));
    expect(w.got.length).toBe(3);
  });

  it('reports a burst of plain attaches (even the first) once, an interval after it began', () => {
    const { f, c } = client([sub(null)]);
    watch.changed(c, f.subs[0]);
    f.subs = [...f.subs, sub(null), sub(null)];
    watch.changed(c, f.subs[1]);
    watch.changed(c, f.subs[2]);
    vi.advanceTimersByTime(99);
    expect(reports).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reports.map((x) => x.r.counts.connections)).toEqual([3]);
  });

  it('forgets a client that closed or has no attachment left, and reports none once', () => {
    const { f, c } = client([sub(null)]);
    watch.changed(c);
    vi.advanceTimersByTime(100);
    f.subs = [];
    vi.advanceTimersByTime(200);
    watch.changed(c);
    vi.advanceTimersByTime(100);
    expect(reports.at(-1)!.r.counts.connections).toBe(0);
    // One report of none, after the one of its attachment.
    expect(reports.map((x) => x.r.counts.connections)).toEqual([1, 0]);
    const n = reports.length;
    watch.subscribed(c, 'm');
    watch.closed(c);
    vi.advanceTimersByTime(5000);
    expect(reports.length).toBe(n);
  });
});
