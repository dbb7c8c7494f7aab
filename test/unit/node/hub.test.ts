/**
 * The hub's part in the replica's broadcasts (src/channel/replication.ts): a channel
 * client that has had broadcasts from a node other than its master (the channel's
 * replica) asks the master again when that node dies, restarts or leaves, since what the
 * replica had not yet sent it went with it and the master counts it as told.
 */
import { describe, expect, it } from 'vitest';
import { Hub, type HubDeps } from '../../../src/node/hub.js';
import { silentLogger } from '../../../src/log.js';
import { entry, KEY, ScriptedMaster, subscribed, subscriber } from '../../helpers/scripted-master.js';

async function hubWithClient(deps: Partial<HubDeps> = {}) {
  const master = new ScriptedMaster();
  const hub = new Hub({ router: master.router(), requestTimeoutMs: 1000, log: silentLogger(), unsub: () => undefined, ownerOf: () => 'm', audit: async () => null, ...deps });
  const c = hub.client(KEY, 'ch');
  const sub = subscriber();
  const attaching = c.attach(sub, null, null);
  (await master.next('sub')).answer(subscribed('E1', 10));
  await attaching;
  c.activate(sub);
  return { master, hub, sub, c };
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

describe('the hub, after it unsubscribed from a master or got broadcasts no client here wants', () => {
  // Audits asked only masters some client pointed at: a subscribe a master handled after
  // the unsub that followed it (sent twice, router.ts) left the node subscribed.
  it('audits that master for 10 s after an unsub, and a stray broadcast\'s master and sender for 2 s, with an empty digest', async () => {
    let now = 1_000_000;
    const audited: [string, number][] = [];
    const unsubs: string[] = [];
    const { hub, sub, c } = await hubWithClient({
      unsub: (m) => void unsubs.push(m),
      audit: async (m, d) => {
        audited.push([m, d.count]);
        return null;
      },
      now: () => now,
    });
    const auditRound = async () => {
      audited.length = 0;
      await hub.audit();
      return audited.map(([m, n]) => `${m}:${n}`).sort();
    };
    expect(await auditRound()).toEqual(['m:1']);
    if (c.detach(sub)) hub.release(KEY, c);
    expect(unsubs).toEqual(['m']);
    expect(await auditRound()).toEqual(['m:0']);
    now += 10_000;
    expect(await auditRound()).toEqual(['m:0']);
    now += 1;
    expect(await auditRound()).toEqual([]);
    hub.onBroadcast('r', { type: 'broadcast', channel: 'app:other', epoch: 'E1', entries: [entry('E1', 11)] });
    expect(await auditRound()).toEqual(['m:0', 'r:0']);
    now += 2001;
    expect(await auditRound()).toEqual([]);
  });
});
