/**
 * Frames that race each other on one connection, against a region of three real nodes
 * whose channel masters are a hop away (so every answer comes later): an ATTACH right
 * behind a DETACH, a presence ENTER right before a DETACH or before the socket goes, and a
 * connection taken over by a resume on another node that goes before attaching there.
 * Each left an attachment or a presence member behind for good (a review, fifty-second
 * session).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action, PresenceAction } from '../../src/protocol/actions.js';
import type { ProtocolMessage } from '../../src/protocol/types.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { RawClient } from '../helpers/raw.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
const N = ['r1-n1', 'r1-n2', 'r1-n3'];
const LEAVE_DELAY_MS = 2000;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }], limits: { presenceLeaveDelayMs: LEAVE_DELAY_MS } });
});

afterAll(async () => {
  await d?.stop();
});

/** Sends frames in one TCP write, so the node reads them in one turn. */
function together(c: RawClient, ...pms: ProtocolMessage[]): void {
  const socket = (c.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  socket.cork();
  for (const pm of pms) c.send(pm);
  socket.uncork();
}

/** A raw client CONNECTED on `node` (asked again while the node says DISCONNECTED: its region still forming). */
async function connectedRaw(node: string, params: Record<string, string> = {}): Promise<{ c: RawClient; connected: ProtocolMessage }> {
  return waitFor(
    async () => {
      const c = await RawClient.connect(d.port(node), params);
      const first = await c.next((m) => m.action === Action.CONNECTED || m.action === Action.DISCONNECTED || m.action === Action.ERROR);
      if (first.action === Action.CONNECTED) return { c, connected: first };
      c.close();
      return null;
    },
    { what: `a connection to ${node}` },
  );
}

/** Attaches a raw client to a channel, up to its ATTACHED. */
async function attachRaw(c: RawClient, channel: string): Promise<void> {
  c.send({ action: Action.ATTACH, channel });
  await c.next((m) => m.action === Action.ATTACHED && m.channel === channel);
}

/** A PRESENCE entering the connection's clientId. */
const enter = (channel: string, msgSerial: number): ProtocolMessage => ({ action: Action.PRESENCE, channel, msgSerial, presence: [{ action: PresenceAction.ENTER, data: 'x' }] });

async function members(channel: string): Promise<string[]> {
  const page = await rest(d.port('r1-n3')).channels.get(channel).presence.get();
  return page.items.map((m) => m.clientId!);
}

async function occupancy(channel: string): Promise<{ connections: number; subscribers: number }> {
  const res = await fetch(`http://127.0.0.1:${d.port('r1-n1')}/channels/${encodeURIComponent(channel)}`, {
    headers: { authorization: `Basic ${Buffer.from('app.root:rootsecret').toString('base64')}` },
  });
  const body = (await res.json()) as { status?: { occupancy?: { metrics?: { connections: number; subscribers: number } } } };
  return body.status?.occupancy?.metrics ?? { connections: 0, subscribers: 0 };
}

describe('frames racing on one connection', () => {
  it('an ATTACH right behind a DETACH gives one attachment: DETACHED then ATTACHED, each message once, and a later DETACH ends it', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-attach');
    const { c } = await connectedRaw('r1-n1');
    const publisher = realtime(d.port('r1-n3'));
    try {
      await attachRaw(c, channel);
      together(c, { action: Action.DETACH, channel }, { action: Action.ATTACH, channel });
      await waitFor(() => c.received.filter((m) => m.action === Action.ATTACHED).length === 2, { what: 'the second ATTACHED' });
      const order = c.received.filter((m) => m.action === Action.ATTACHED || m.action === Action.DETACHED).map((m) => m.action);
      expect(order).toEqual([Action.ATTACHED, Action.DETACHED, Action.ATTACHED]);
      await publisher.channels.get(channel).publish('once', 'a');
      await publisher.channels.get(channel).publish('twice', 'b');
      await waitFor(() => c.received.some((m) => m.action === Action.MESSAGE && m.messages?.some((x) => x.name === 'twice')), { what: 'the second message' });
      const names = c.received.filter((m) => m.action === Action.MESSAGE).flatMap((m) => (m.messages ?? []).map((x) => x.name));
      expect(names).toEqual(['once', 'twice']);
      c.send({ action: Action.DETACH, channel });
      await waitFor(() => c.received.filter((m) => m.action === Action.DETACHED).length === 2, { what: 'the second DETACHED' });
      await waitFor(async () => (await occupancy(channel)).subscribers === 0, { what: 'no subscriber left on the channel' });
    } finally {
      c.close();
      closeAll(publisher);
    }
  });

  it('SDK clients that attach, detach and attach again without waiting, then close, leave no attachment behind', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-sdk');
    const clients = Array.from({ length: 8 }, () => realtime(d.port('r1-n1')));
    try {
      await Promise.all(
        clients.map(async (client) => {
          const ch = client.channels.get(channel);
          await ch.attach();
          // The SDK sends the ATTACH at once, behind the DETACH (its attach may then fail: "Channel detached").
          void ch.detach().catch(() => undefined);
          await ch.attach().catch(() => undefined);
        }),
      );
      expect((await occupancy(channel)).connections).toBeGreaterThan(0);
      for (const client of clients) client.close();
      await waitFor(async () => (await occupancy(channel)).connections === 0, { what: 'no connection left on the channel', timeoutMs: 10_000 });
    } finally {
      closeAll(...clients);
    }
  });

  it("a presence ENTER right before a DETACH: the member leaves, while the connection stays", async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-enter-detach');
    const { c } = await connectedRaw('r1-n1', { clientId: 'alice' });
    try {
      await attachRaw(c, channel);
      together(c, enter(channel, 0), { action: Action.DETACH, channel });
      await c.next((m) => m.action === Action.ACK);
      await c.next((m) => m.action === Action.DETACHED);
      await waitFor(async () => (await members(channel)).length === 0, { what: 'alice gone from the channel', timeoutMs: 10_000 });
    } finally {
      c.close();
    }
  });

  it("a refused ATTACH of a filtered or qualified name of a channel leaves the members entered on the channel's own name", async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-filter-refused');
    const { c } = await connectedRaw('r1-n1', { clientId: 'erin' });
    try {
      await attachRaw(c, channel);
      c.send(enter(channel, 0));
      await c.next((m) => m.action === Action.ACK);
      const filtered = `[filter=${Buffer.from("name == 'x'").toString('base64')}]${channel}`;
      // A filtered channel takes no rewind (40003), and a rewind that does not parse is refused too.
      c.send({ action: Action.ATTACH, channel: filtered, params: { rewind: '1' } });
      c.send({ action: Action.ATTACH, channel: `[?rewind=never]${channel}` });
      await c.next((m) => m.action === Action.ERROR && m.channel === filtered);
      await c.next((m) => m.action === Action.ERROR && m.channel === `[?rewind=never]${channel}`);
      // Then a DETACH of the refused filtered name: not a detach of the channel either.
      c.send({ action: Action.DETACH, channel: filtered });
      await c.next((m) => m.action === Action.DETACHED && m.channel === filtered);
      c.send({ action: Action.MESSAGE, channel, msgSerial: 1, messages: [{ data: 'after' }] });
      await c.next((m) => m.action === Action.ACK && m.msgSerial === 1);
      expect(await members(channel)).toEqual(['erin']);
    } finally {
      c.close();
    }
  });

  it('a presence ENTER whose socket goes before its ACK: the member leaves after the grace period', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-enter-drop');
    const { c } = await connectedRaw('r1-n1', { clientId: 'bob' });
    await attachRaw(c, channel);
    c.send(enter(channel, 0));
    c.close();
    await waitFor(async () => (await members(channel)).includes('bob'), { what: 'bob entered' });
    await waitFor(async () => (await members(channel)).length === 0, { what: 'bob gone after the grace period', timeoutMs: LEAVE_DELAY_MS + 10_000 });
  });

  it('a connection resumed on another node that goes before attaching there: its members leave after the grace period', async () => {
    const channel = channelMasteredBy(N, 'r1-n2', 'race-takeover');
    const { c: first, connected } = await connectedRaw('r1-n1', { clientId: 'carol' });
    await attachRaw(first, channel);
    first.send(enter(channel, 0));
    await first.next((m) => m.action === Action.ACK);
    const key = connected.connectionDetails!.connectionKey!;
    const { c: second, connected: again } = await connectedRaw('r1-n3', { clientId: 'carol', resume: key });
    expect(again.connectionId).toBe(connected.connectionId);
    await first.waitClosed();
    second.close();
    expect(await members(channel)).toEqual(['carol']);
    await waitFor(async () => (await members(channel)).length === 0, { what: 'carol gone after the grace period', timeoutMs: LEAVE_DELAY_MS + 10_000 });
  });

  it("a resume refused for another clientId's credentials (80019) leaves the connection where it is", async () => {
    const { c: first, connected } = await connectedRaw('r1-n1', { clientId: 'dave' });
    try {
      const key = connected.connectionDetails!.connectionKey!;
      const { c: second, connected: refused } = await connectedRaw('r1-n3', { clientId: 'eve', resume: key });
      second.close();
      expect(refused.error?.code).toBe(80019);
      expect(refused.connectionId).not.toBe(connected.connectionId);
      first.send({ action: Action.MESSAGE, channel: 'race-refused', msgSerial: 0, messages: [{ name: 'still', data: 'here' }] });
      expect((await first.next((m) => m.action === Action.ACK || m.action === Action.NACK)).action).toBe(Action.ACK);
      expect(first.closed).toBeNull();
    } finally {
      first.close();
    }
  });
});
