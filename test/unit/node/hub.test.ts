/**
 * The hub's part in the replica's broadcasts (src/channel/replication.ts): a channel
 * client that has had broadcasts from a node other than its master (the channel's
 * replica) asks the master again when that node dies, restarts or leaves, since what the
 * replica had not yet sent it went with it and the master counts it as told.
 */
import { describe, expect, it } from 'vitest';
import { Hub } from '../../../src/node/hub.js';
import { silentLogger } from '../../../src/log.js';
import { entry, KEY, ScriptedMaster, subscribed, subscriber } from '../../helpers/scripted-master.js';

async function hubWithClient() {
  const master = new ScriptedMaster();
  const hub = new Hub({ router: master.router(), requestTimeoutMs: 1000, log: silentLogger(), unsub: () => undefined, ownerOf: () => 'm', audit: async () => null });
  const c = hub.client(KEY, 'ch');
  const sub = subscriber();
  const attaching = c.attach(sub, null, null);
  (await master.next('sub')).answer(subscribed('E1', 10));
  await attaching;
  c.activate(sub);
  return { master, hub, sub };
}

describe('the hub, when a node that sent a channel broadcasts goes', () => {
  it('has the channel ask its master again, with where it is, if that node was not its master', async () => {
    const { master, hub, sub } = await hubWithClient();
    hub.onBroadcast('r', { type: 'broadcast', channel: KEY, epoch: 'E1', entries: [entry('E1', 11)] });
    expect(sub.got).toEqual(['E1:11']);
    hub.onPeerDown('other'); // sent nothing: nothing to ask
    expect(master.asked).toEqual([]);
    hub.onPeerDown('r');
    const again = await master.next('sub');
    expect(again.req).toMatchObject({ type: 'sub', seen: { epoch: 'E1', serial: 11 } });
    // The master had published 12 as well (the replica's copy of it never came): it is filled.
    again.answer(subscribed('E1', 12));
    const range = await master.next('range');
    expect(range.req).toMatchObject({ after: 11, upto: 12 });
    range.answer({ kind: 'entries', entries: [entry('E1', 12)], more: false });
    await expect.poll(() => sub.got).toEqual(['E1:11', 'E1:12']);
    // Subscribed again at the same master: what it heard still counts (the replica may have
    // sent it more meanwhile); at another master it would not.
    hub.onPeerDown('r');
    expect((await master.next('sub')).req).toMatchObject({ type: 'sub', seen: { epoch: 'E1', serial: 12 } });
  });
});
