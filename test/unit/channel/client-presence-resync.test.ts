/**
 * When a channel's continuity is lost (its state restarted in a new epoch, 90005, or
 * another region's messages were lost, 90003), each subscriber is sent an ATTACHED without
 * RESUMED. The SDK then empties its presence set unless that ATTACHED says HAS_PRESENCE
 * and a SYNC follows (ably-js RealtimePresence.onAttached, RTP19a); members who stayed
 * say nothing again (their re-entry repeats what the master has), so a subscriber was
 * left with an empty set for good. Found by the chaos presence check (seeds 1220, 1221 with
 * `--pairs`). Here: the channel client passes the set as it stands with each UPDATE, and
 * the attachment sends HAS_PRESENCE and the SYNC only to a client that takes presence.
 */
import { describe, expect, it, vi } from 'vitest';
import { Attachment, type AttachmentOwner } from '../../../src/gateway/attachment.js';
import { AblyError } from '../../../src/errors.js';
import { Action, Flag, PresenceAction, type PresenceActionCode } from '../../../src/protocol/actions.js';
import type { Frame } from '../../../src/protocol/codec.js';
import type { PresenceMessage } from '../../../src/protocol/message.js';
import type { SharedFrame } from '../../../src/protocol/shared-frame.js';
import type { ProtocolMessage } from '../../../src/protocol/types.js';
import { client, entry, ScriptedMaster, subscribed, subscriber, liveSubscriber } from '../../helpers/scripted-master.js';
import type { LogEntry } from '../../../src/channel/entry.js';

function member(clientId: string, connectionId = `conn-${clientId}`): PresenceMessage {
  return { id: `${connectionId}:0:0`, action: PresenceAction.PRESENT, clientId, connectionId, timestamp: 1 };
}

const lost = { code: 90003, statusCode: 400, message: 'messages from region eu were lost' };

describe('a channel client telling its subscribers continuity was lost', () => {
  it('sends the presence set as it stands with the word of another region’s lost messages', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10, [], [member('a'), member('b')]);
    const sub = await liveSubscriber(c);
    c.onBroadcast('E1', [entry('E1', 11)], lost);
    expect(sub.updates).toEqual([90003]);
    expect(sub.presenceAtUpdates).toEqual([['a', 'b']]);
  });

  it('sends the new epoch’s presence set with the word that the channel restarted', async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10, [], [member('a'), member('b')]);
    const sub = await liveSubscriber(c);
    c.onBroadcast('E2', [entry('E2', 2)]);
    (await master.next('sub')).answer(subscribed('E2', 1, [], [member('c')]));
    await vi.waitFor(() => expect(c.position().epoch).toBe('E2'));
    expect(sub.updates).toEqual([90005]);
    expect(sub.presenceAtUpdates).toEqual([['c']]);
    expect(c.members().map((m) => m.clientId)).toEqual(['c']);
  });

  it("joining a new epoch from its first entry, gives the master's set with the word and the messages before its position, not that set's entries again", async () => {
    const master = new ScriptedMaster();
    const c = await client(master, 'E1', 10, [], [member('a')]);
    const sub = subscriber();
    // It takes presence too, and records each member event it is sent.
    const said: string[] = [];
    const wants = sub.wants;
    sub.wants = () => true;
    const send = sub.send;
    sub.send = (frames) => {
      send(frames);
      for (const f of frames) {
        const text = typeof f === 'string' ? f : Buffer.isBuffer(f) ? f.toString() : (f as SharedFrame).payload.toString();
        for (const m of (JSON.parse(text) as ProtocolMessage).presence ?? []) said.push(`${m.action}:${m.clientId}`);
      }
    };
    await c.attach(sub, null, null);
    c.activate(sub);
    expect(wants('presence')).toBe(false);
    expect(said).toEqual([`${PresenceAction.PRESENT}:a`]); // its attach's SYNC
    said.length = 0;
    // The new master (it lost the state) published these before this node subscribed again.
    const enter = (serial: number, id: string, action: PresenceActionCode = PresenceAction.ENTER): LogEntry => ({
      ...entry('E2', serial),
      kind: 'presence',
      presence: { ...member(id), action, id: `conn-${id}:${serial}:0` },
      host: 'n1',
    });
    c.resubscribe();
    (await master.next('sub')).answer(subscribed('E2', 3, [], [member('c'), member('d')]));
    const range = await master.next('range');
    expect(range.req).toMatchObject({ epoch: 'E2', after: 0, upto: 3 });
    range.answer({ kind: 'entries', entries: [enter(1, 'c'), entry('E2', 2), enter(3, 'd')], more: false });
    await vi.waitFor(() => expect(c.position()).toMatchObject({ epoch: 'E2', serial: 3 }));
    expect(sub.events).toEqual(['update 90005', 'E2:2']);
    expect(sub.presenceAtUpdates).toEqual([['c', 'd']]);
    expect(said).toEqual([]);
    // After the position, presence goes as before.
    c.onBroadcast('E2', [enter(4, 'd', PresenceAction.LEAVE)]);
    await vi.waitFor(() => expect(said).toEqual([`${PresenceAction.LEAVE}:d`]));
    expect(c.members().map((m) => m.clientId)).toEqual(['c']);
  });
});

/** An attachment whose connection records what it is sent, decoded (JSON). */
function attachment(modes: number): { att: Attachment; sent: ProtocolMessage[] } {
  const sent: ProtocolMessage[] = [];
  const decode = (f: Frame | SharedFrame) => JSON.parse(typeof f === 'string' ? f : Buffer.isBuffer(f) ? f.toString() : (f as SharedFrame).payload.toString()) as ProtocolMessage;
  const owner: AttachmentOwner = {
    id: 'conn-1',
    format: 'json',
    echo: true,
    sendFrames: (frames) => void sent.push(...frames.map(decode)),
    sendMessage: (pm) => void sent.push(pm),
  };
  const att = new Attachment(owner, 'app:ch', 'ch', {});
  att.state = 'attached';
  att.modes = modes;
  return { att, sent };
}

describe('an attachment told continuity was lost', () => {
  const error = AblyError.of('channelMessagesExpired', 'messages from region eu were lost');

  it('says HAS_PRESENCE and sends the set as a SYNC to a client that takes presence', () => {
    const { att, sent } = attachment(Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE);
    att.discontinuity(error, 'r1~E1~11', [member('a'), member('b')]);
    expect(sent.map((pm) => pm.action)).toEqual([Action.ATTACHED, Action.SYNC]);
    expect(sent[0]!.flags! & Flag.HAS_PRESENCE).toBe(Flag.HAS_PRESENCE);
    expect(sent[0]!.flags! & Flag.RESUMED).toBe(0);
    expect(sent[0]!.error).toMatchObject({ code: error.code });
    // One page: its cursor is empty, so the SDK ends the sync with it.
    expect(sent[1]!.channelSerial).toMatch(/^[^:]+:$/);
    expect(sent[1]!.presence!.map((p) => [p.clientId, p.action])).toEqual([
      ['a', PresenceAction.PRESENT],
      ['b', PresenceAction.PRESENT],
    ]);
  });

  it("says again the params the attach applied (the SDK takes an ATTACHED's as the channel's, RTL4k1)", () => {
    const { att, sent } = attachment(Flag.SUBSCRIBE);
    att.params = { delta: 'vcdiff', other: 'x' };
    att.delta = true;
    att.discontinuity(error, 'r1~E1~11', []);
    expect(sent[0]!.params).toEqual({ delta: 'vcdiff' });
  });

  it('says neither to a client that does not take presence, nor when the set is empty', () => {
    const noPresence = attachment(Flag.SUBSCRIBE);
    noPresence.att.discontinuity(error, 'r1~E1~11', [member('a')]);
    const empty = attachment(Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE);
    empty.att.discontinuity(error, 'r1~E1~11', []);
    for (const { sent } of [noPresence, empty]) {
      expect(sent.map((pm) => pm.action)).toEqual([Action.ATTACHED]);
      expect(sent[0]!.flags! & Flag.HAS_PRESENCE).toBe(0);
    }
  });
});
