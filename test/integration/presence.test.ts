/**
 * Presence across a region of three real nodes with the ably SDK: enter, update, leave
 * and get from different nodes; the member set survives `kill -9` of the channel
 * master; a member whose connection drops leaves after the grace period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { leaveAfterDrop } from '../helpers/presence-drop.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
const N = ['r1-n1', 'r1-n2', 'r1-n3'];
// Long enough that a resume slowed by a loaded machine still comes within it.
const LEAVE_DELAY_MS = 3500;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }], limits: { presenceLeaveDelayMs: LEAVE_DELAY_MS } });
});

afterAll(async () => {
  await d?.stop();
});

type Ev = { action: string; clientId: string; data: unknown };

describe('presence across a region', () => {
  it('shows members entered on two nodes to a subscriber on a third, with enter, update and leave events', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'presence');
    const alice = realtime(d.port('r1-n1'), { clientId: 'alice' });
    const bob = realtime(d.port('r1-n2'), { clientId: 'bob', useBinaryProtocol: false });
    const watcher = realtime(d.port('r1-n3'));
    try {
      const events: Ev[] = [];
      await watcher.channels.get(channel).presence.subscribe((m) => void events.push({ action: m.action, clientId: m.clientId!, data: m.data }));
      await alice.channels.get(channel).presence.enter('hello');
      await bob.channels.get(channel).presence.enter({ mood: 'ok' });
      await waitFor(() => events.length === 2, { what: 'two enters' });
      expect(events).toEqual([
        { action: 'enter', clientId: 'alice', data: 'hello' },
        { action: 'enter', clientId: 'bob', data: { mood: 'ok' } },
      ]);
      await alice.channels.get(channel).presence.update('busy');
      await bob.channels.get(channel).presence.leave();
      await waitFor(() => events.length === 4, { what: 'update and leave' });
      expect(events.slice(2)).toEqual([
        { action: 'update', clientId: 'alice', data: 'busy' },
        { action: 'leave', clientId: 'bob', data: { mood: 'ok' } },
      ]);
      const members = await watcher.channels.get(channel).presence.get();
      expect(members.map((m) => [m.clientId, m.data])).toEqual([['alice', 'busy']]);
      expect(members[0]!.connectionId).toBe(alice.connection.id);

      // REST from any node: the current set, and the history of events.
      const r = rest(d.port('r1-n3'));
      const page = await r.channels.get(channel).presence.get();
      expect(page.items.map((m) => m.clientId)).toEqual(['alice']);
      const hist = await r.channels.get(channel).presence.history({ direction: 'forwards' });
      expect(hist.items.map((m) => `${m.action}:${m.clientId}`)).toEqual(['enter:alice', 'enter:bob', 'update:alice', 'leave:bob']);
    } finally {
      closeAll(alice, bob, watcher);
    }
  });

  it('enforces the presence capability and channel modes', async () => {
    const channel = 'modes';
    const enterer = realtime(d.port('r1-n1'), { clientId: 'm1' });
    const subOnly = realtime(d.port('r1-n2'), { clientId: 'm2' });
    const presenceOnly = realtime(d.port('r1-n3'), { clientId: 'm3' });
    const noPresenceCap = realtime(d.port('r1-n3'), { clientId: 'm4', key: 'app.sub:subsecret1' });
    try {
      // SUBSCRIBE only: may not enter.
      const ch = subOnly.channels.get(channel, { modes: ['SUBSCRIBE'] });
      await ch.attach();
      const e1 = await ch.presence.enter().then(() => null, (e: { code: number }) => e);
      expect(e1?.code).toBe(40160);
      // PRESENCE without PRESENCE_SUBSCRIBE: may enter, sees no presence events.
      const seen: string[] = [];
      const pch = presenceOnly.channels.get(channel, { modes: ['PRESENCE', 'SUBSCRIBE'] });
      await pch.attach();
      pch.presence.subscribe((m) => void seen.push(m.clientId!));
      await pch.presence.enter();
      // A key without the presence capability may not enter at all.
      const e2 = await noPresenceCap.channels.get(channel).presence.enter().then(() => null, (e: { code: number }) => e);
      expect(e2?.code).toBe(40160);
      await enterer.channels.get(channel).presence.enter();
      const watcher = enterer.channels.get(channel);
      await waitFor(async () => (await watcher.presence.get()).length === 2);
      expect(seen).toEqual([]);
    } finally {
      closeAll(enterer, subOnly, presenceOnly, noPresenceCap);
    }
  });

  it('syncs the member set to a client that attaches later, paged', async () => {
    const channel = channelMasteredBy(N, 'r1-n1', 'sync');
    const enterer = realtime(d.port('r1-n2'));
    const late = realtime(d.port('r1-n3'), { useBinaryProtocol: false });
    try {
      const p = enterer.channels.get(channel).presence;
      // A key holder may enter on behalf of many clientIds: 150 members means two SYNC pages.
      await Promise.all(Array.from({ length: 150 }, (_, i) => p.enterClient(`user-${i}`, { i })));
      const members = await late.channels.get(channel).presence.get();
      expect(members).toHaveLength(150);
      expect(new Set(members.map((m) => m.clientId)).size).toBe(150);
    } finally {
      closeAll(enterer, late);
    }
  });

  it('keeps the member set through kill -9 of the channel master', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'survive');
    const alice = realtime(d.port('r1-n1'), { clientId: 'alice' });
    const carol = realtime(d.port('r1-n3'), { clientId: 'carol' });
    const watcher = realtime(d.port('r1-n1'));
    try {
      await alice.channels.get(channel).presence.enter('a');
      await carol.channels.get(channel).presence.enter('c');
      const leaves: string[] = [];
      await watcher.channels.get(channel).presence.subscribe('leave', (m) => void leaves.push(m.clientId!));
      await waitFor(async () => (await watcher.channels.get(channel).presence.get()).length === 2);
      await d.sup.kill('r1-n2');
      const fresh = realtime(d.port('r1-n3'));
      try {
        const after = await fresh.channels.get(channel).presence.get();
        expect(after.map((m) => m.clientId).sort()).toEqual(['alice', 'carol']);
        // And the members' own connections still own them: a leave still works.
        await carol.channels.get(channel).presence.leave();
        await waitFor(async () => (await fresh.channels.get(channel).presence.get()).length === 1);
        // The watcher's leave event comes over its own node, not necessarily before fresh's answer.
        await waitFor(() => leaves.length > 0, { what: 'the watcher sees a leave' });
        expect(leaves).toEqual(['carol']);
      } finally {
        closeAll(fresh);
      }
    } finally {
      closeAll(alice, carol, watcher);
      await d.sup.restart('r1-n2');
    }
  });

  it('keeps a member whose connection drops and resumes within the grace period', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'blip');
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n1') });
    await proxy.listen();
    const erin = realtime(proxy.port, { clientId: 'erin', disconnectedRetryTimeout: 100 });
    const watcher = realtime(d.port('r1-n3'));
    try {
      await erin.channels.get(channel).presence.enter('here');
      const events: string[] = [];
      await watcher.channels.get(channel).presence.subscribe((m) => void events.push(`${m.action}:${m.clientId}`));
      await waitFor(async () => (await watcher.channels.get(channel).presence.get()).length === 1);
      const id = erin.connection.id;
      const states: string[] = [];
      erin.connection.on((sc) => void states.push(sc.current));
      // The transport drops and comes back on another node of the region.
      proxy.setTarget({ host: '127.0.0.1', port: d.port('r1-n3') });
      proxy.resetConnections();
      await waitFor(() => states.includes('disconnected') && states.at(-1) === 'connected', { what: 'a reconnect' });
      expect(erin.connection.id).toBe(id);
      // Past the grace period, the member is still there, under the same connection.
      await new Promise((r) => setTimeout(r, LEAVE_DELAY_MS + 1500));
      const members = await watcher.channels.get(channel).presence.get();
      expect(members.map((m) => [m.clientId, m.connectionId])).toEqual([['erin', id]]);
      expect(events.filter((e) => e.startsWith('leave'))).toEqual([]);
    } finally {
      closeAll(erin, watcher);
      await proxy.close();
    }
  });

  it('removes a member whose connection drops, after the grace period and not before', async () => {
    const channel = channelMasteredBy(N, 'r1-n3', 'drop');
    const left = await leaveAfterDrop({ memberPort: d.port('r1-n1'), watcherPort: d.port('r1-n2'), channel, clientId: 'dave', timeoutMs: LEAVE_DELAY_MS + 5000 });
    expect(left.clientId).toBe('dave');
    expect(left.afterMs).toBeGreaterThanOrEqual(LEAVE_DELAY_MS - 200);
    expect(left.setAfter).toEqual([]);
  });
});
