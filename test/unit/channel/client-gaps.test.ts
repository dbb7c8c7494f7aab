/**
 * A node's channel client that catches up from history across a point where the master
 * told subscribers that another region's messages were lost (src/channel/gaps.ts): the
 * broadcast that said so never reached this node (paused, cut off, subscribing again),
 * and its serials run on without a hole. Found by chaos seed 1158 with `--pairs`: a
 * subscriber on a paused node lost four messages of another region and was never told,
 * while the subscribers on the other nodes were.
 */
import { describe, expect, it, vi } from 'vitest';
import { client, entry, ScriptedMaster, subscriber, liveSubscriber } from '../../helpers/scripted-master.js';

const lost = { code: 90003, statusCode: 400, message: 'messages from region eu were lost' };

describe('a channel client catching up across lost messages', () => {
  /**
   * A client at E1@10 with a live subscriber gets 13: 11 and 12 never came (the broadcast
   * of 12 carried the word of the loss), so it reads them from history, answered with
   * `gaps`; resolves with what the subscriber saw, in order.
   */
  async function catchUp(gaps?: { serial: number; error: typeof lost }[]): Promise<string[]> {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    const sub = await liveSubscriber(c);
    c.onBroadcast('E1', [entry('E1', 13)]);
    const range = await master.next('range');
    expect(range.req).toMatchObject({ after: 10, upto: 12 });
    range.answer({ kind: 'entries', entries: [entry('E1', 11), entry('E1', 12)], more: false, ...(gaps ? { gaps } : {}) });
    await vi.waitFor(() => expect(c.position().serial).toBe(13));
    return sub.events;
  }

  it('tells its subscribers at the point the broadcast it missed did, between the entries before and after it', async () => {
    expect(await catchUp([{ serial: 12, error: lost }])).toEqual(['E1:11', 'update 90003', 'E1:12', 'E1:13']);
  });

  it('says nothing when history crosses no such point', async () => {
    expect(await catchUp()).toEqual(['E1:11', 'E1:12', 'E1:13']);
  });

  it('tells once of a loss said with no entry and said again with the first entry after it; a node that missed the first word hears the second', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    const sub = await liveSubscriber(c);
    c.onBroadcast('E1', [], lost);
    c.onBroadcast('E1', [entry('E1', 11)], lost);
    expect(sub.events).toEqual(['update 90003', 'E1:11']);
    // Another node, subscribed again at 10 after the first word went by.
    const late = await client(new ScriptedMaster(), 'E1', 10);
    const other = await liveSubscriber(late);
    late.onBroadcast('E1', [entry('E1', 11)], lost);
    expect(other.events).toEqual(['update 90003', 'E1:11']);
  });

  it('tells once of a word that comes twice (from the replica and from the master), also late, after later entries and words', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    const sub = await liveSubscriber(c);
    const again = { ...lost, message: 'messages from region ap were lost' };
    c.onBroadcast('E1', [], lost, 11);
    c.onBroadcast('E1', [entry('E1', 11)], lost);
    c.onBroadcast('E1', [entry('E1', 12)], again);
    // Second copies, late: the word with no entry (it goes before 11), and 11 with its word.
    c.onBroadcast('E1', [], lost, 11);
    c.onBroadcast('E1', [entry('E1', 11)], lost);
    expect(sub.events).toEqual(['update 90003', 'E1:11', 'update 90003', 'E1:12']);
    // A word with no entry from an older build (no point given) still goes just after what the node has.
    c.onBroadcast('E1', [], again);
    expect(sub.events).toEqual(['update 90003', 'E1:11', 'update 90003', 'E1:12', 'update 90003']);
  });

  it('says a word with no entry for a point ahead of it (what comes before has not come) only with the first entry after it', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    const sub = await liveSubscriber(c);
    c.onBroadcast('E1', [], lost, 12); // 11's broadcast is late
    c.onBroadcast('E1', [entry('E1', 12)], lost);
    const range = await master.next('range');
    expect(range.req).toMatchObject({ after: 10, upto: 11 });
    range.answer({ kind: 'entries', entries: [entry('E1', 11)], more: false });
    await vi.waitFor(() => expect(c.position().serial).toBe(12));
    expect(sub.events).toEqual(['E1:11', 'update 90003', 'E1:12']);
  });

  it('does not say a client resumed at the point just before such a word, while no entry has followed it', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    c.onBroadcast('E1', [], lost);
    const sub = subscriber();
    expect(await c.attach(sub, { epoch: 'E1', serial: 10, seen: [] }, null)).toMatchObject({ resumed: false, error: { code: 90003 } });
    // Before it, or with nothing said: resumed.
    const quiet = await client(new ScriptedMaster(), 'E1', 10);
    expect(await quiet.attach(subscriber(), { epoch: 'E1', serial: 10, seen: [] }, null)).toMatchObject({ resumed: true });
  });

  it('does not say a client resumed across such a point, and still gives it what followed', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10);
    const sub = subscriber();
    const attaching = c.attach(sub, { epoch: 'E1', serial: 5, seen: [] }, null);
    const range = await master.next('range');
    expect(range.req).toMatchObject({ after: 5, upto: 10 });
    range.answer({ kind: 'entries', entries: [6, 7, 8, 9, 10].map((s) => entry('E1', s)), more: false, gaps: [{ serial: 8, error: lost }] });
    expect(await attaching).toMatchObject({ resumed: false, error: { code: 90003 } });
    c.activate(sub);
    expect(sub.got).toEqual(['E1:6', 'E1:7', 'E1:8', 'E1:9', 'E1:10']);
    // The same resume across no such point resumes.
    const other = subscriber();
    const again = c.attach(other, { epoch: 'E1', serial: 5, seen: [] }, null);
    (await master.next('range')).answer({ kind: 'entries', entries: [6, 7, 8, 9, 10].map((s) => entry('E1', s)), more: false });
    expect(await again).toMatchObject({ resumed: true });
  });
});
