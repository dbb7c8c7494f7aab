/**
 * What a connection's credentials allow as they change, and what one client's credentials
 * must not let it do to another's messages (faults a review of auth found, fifty-third
 * session): message ids of the service's form naming another connection, a JWT living
 * past a timer's range, and an in-band AUTH that identifies a connection, widens its
 * capability or takes presence away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action, PresenceAction } from '../../src/protocol/actions.js';
import type { ProtocolMessage } from '../../src/protocol/types.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { signJwt } from '../helpers/jwt.js';
import { RawClient } from '../helpers/raw.js';
import { Ably, closeAll, common, connected, rest } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;
let port: number;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 2 }] });
  port = d.port('r1-n1');
});
afterAll(async () => {
  await d?.stop();
});

const jwt = (clientId: string | null, capability: Record<string, string[]>, extra: Record<string, unknown> = {}) =>
  signJwt({ 'x-ably-capability': JSON.stringify(capability), ...(clientId === null ? {} : { 'x-ably-clientId': clientId }), ...extra });

/** An SDK client on the token `token()` gives at each call (its authCallback). */
function onTokens(at: number, token: () => string) {
  return new Ably.Realtime({ ...common, port: at, useBinaryProtocol: false, authCallback: (_p: unknown, cb: (e: null, t: string) => void) => cb(null, token()) } as any);
}

/** A raw connection on a token, once CONNECTED. */
async function rawOn(at: number, token: string, params: Record<string, string> = {}): Promise<{ c: RawClient; connected: ProtocolMessage }> {
  const c = await RawClient.connect(at, { key: '', access_token: token, ...params });
  return { c, connected: await c.next((m) => m.action === Action.CONNECTED || m.action === Action.ERROR) };
}

describe('credentials and what they allow', () => {
  it("keeps a message id of the form the service gives another connection's messages apart from that connection's: its messages all arrive, and a received message can be published again elsewhere", async () => {
    const cap = { chat: ['publish', 'subscribe'], out: ['publish', 'subscribe'] };
    const victim = onTokens(port, () => jwt('alice', cap));
    const mallory = onTokens(d.port('r1-n2'), () => jwt('mallory', cap));
    try {
      await Promise.all([connected(victim), connected(mallory)]);
      const got: string[] = [];
      const received: unknown[] = [];
      await mallory.channels.get('chat').subscribe((m) => {
        got.push(String(m.data));
        received.push(m);
      });
      await victim.channels.get('chat').publish('n', 'victim-0');
      await waitFor(() => got.length === 1);
      const victimConn = victim.connection.id!;
      // The ids the service will give the victim's next messages: connectionId:msgSerial:index.
      // Taken first, they had the victim's messages dropped as duplicates, acknowledged all the same.
      await mallory.channels.get('chat').publish([1, 2, 3].map((s) => ({ id: `${victimConn}:${s}:0`, name: 'n', data: `mallory-${s}` })) as any);
      await rest(port).channels.get('chat').publish({ id: `${victimConn}:4:0`, name: 'n', data: 'rest-4' });
      for (let s = 1; s <= 4; s++) await victim.channels.get('chat').publish('n', `victim-${s}`);
      await waitFor(() => got.filter((g) => g.startsWith('victim')).length === 5, { what: "the victim's five messages" });
      expect(got.filter((g) => g.startsWith('victim'))).toEqual(['victim-0', 'victim-1', 'victim-2', 'victim-3', 'victim-4']);
      expect(got.filter((g) => !g.startsWith('victim'))).toEqual(['mallory-1', 'mallory-2', 'mallory-3', 'rest-4']);
      // Sent again, such an id is a duplicate of its own kind (idempotent publishing still holds for it).
      await mallory.channels.get('chat').publish({ id: `${victimConn}:1:0`, name: 'n', data: 'mallory-1-again' });
      await rest(port).channels.get('chat').publish({ id: `${victimConn}:4:0`, name: 'n', data: 'rest-4-again' });
      await victim.channels.get('chat').publish('n', 'victim-5');
      await waitFor(() => got.includes('victim-5'));
      expect(got.filter((g) => g.endsWith('again'))).toEqual([]);
      // A received message, its id kept, published again on another channel (forwarding, archiving).
      const forwarded: string[] = [];
      await victim.channels.get('out').subscribe((m) => void forwarded.push(`${m.id}|${String(m.data)}`));
      const first = received[0] as { id: string; name: string; data: unknown };
      await mallory.channels.get('out').publish({ id: first.id, name: first.name, data: first.data });
      await waitFor(() => forwarded.length === 1, { what: 'the message published again on out' });
      expect(forwarded).toEqual([`${victimConn}:0:0|victim-0`]);
    } finally {
      closeAll(victim, mallory);
    }
  });

  it('keeps a connection on a JWT that lives longer than a timer can wait (30 days): no 40142 at once', async () => {
    const token = jwt('longlived', { '*': ['*'] }, { exp: Math.floor(Date.now() / 1000) + 30 * 86400 });
    const { c } = await rawOn(port, token);
    try {
      // The answer to a HEARTBEAT comes after anything the connection was sent at once.
      c.send({ action: Action.HEARTBEAT, id: 'probe' } as ProtocolMessage);
      await c.next((m) => m.action === Action.HEARTBEAT && m.id === 'probe');
      expect(c.received.filter((m) => m.action === Action.DISCONNECTED)).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('refuses a JWT whose x-ably-capability is not a JSON string (40144), rather than granting the key\'s whole capability', async () => {
    const { c, connected: answer } = await rawOn(port, signJwt({ 'x-ably-capability': { chat: ['subscribe'] }, 'x-ably-clientId': 'x' }));
    c.close();
    expect(answer).toMatchObject({ action: Action.ERROR, error: { code: 40144 } });
  });

  it("names '*' in CONNECTED for a token of any clientId (RSA7b4): the SDK's auth.clientId is '*'", async () => {
    const wild = jwt('*', { '*': ['*'] });
    const { c, connected: answer } = await rawOn(port, wild);
    c.close();
    expect(answer.connectionDetails?.clientId).toBe('*');
    const client = onTokens(port, () => wild);
    // A key's connection with no clientId is unidentified, not '*' (RSA12a): its SDK would put '*' in the token requests it makes.
    const onKey = new Ably.Realtime({ ...common, port, key: KEY, useBinaryProtocol: false } as any);
    try {
      await Promise.all([connected(client), connected(onKey)]);
      expect(client.auth.clientId).toBe('*');
      expect(onKey.auth.clientId).toBeUndefined();
      expect((await onKey.auth.createTokenRequest()).clientId).toBeUndefined();
    } finally {
      closeAll(client, onKey);
    }
  });

  it('resumes on another node a connection an AUTH identified (none → alice), its first transport still open', async () => {
    const { c, connected: first } = await rawOn(port, jwt(null, { '*': ['*'] }));
    const alice = jwt('alice', { '*': ['*'] });
    try {
      c.send({ action: Action.AUTH, auth: { accessToken: alice } } as ProtocolMessage);
      // The AUTH's answer: a second CONNECTED, naming alice.
      await c.next((m) => m.action === Action.CONNECTED && m.connectionDetails?.clientId === 'alice');
      const { c: c2, connected: resumed } = await rawOn(d.port('r1-n2'), alice, { resume: first.connectionDetails!.connectionKey! });
      c2.close();
      expect(resumed.connectionId).toBe(first.connectionId);
      expect(resumed.error).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it("grants an attached channel what a wider token allows (RTC8a1): presence enter, and messages once it may subscribe", async () => {
    let cap: Record<string, string[]> = { up: ['subscribe'], up2: ['publish'] };
    const client = onTokens(port, () => jwt('upper', cap));
    try {
      await connected(client);
      const up = client.channels.get('up');
      const up2 = client.channels.get('up2');
      await Promise.all([up.attach(), up2.attach()]);
      const before = await up.presence.enter('early').then(() => null, (e: { code: number }) => e.code);
      expect(before).toBe(40160);
      cap = { up: ['subscribe', 'presence'], up2: ['publish', 'subscribe'] };
      await client.auth.authorize();
      await up.presence.enter('now');
      const members = await rest(port).channels.get('up').presence.get();
      expect(members.items.map((m) => m.clientId)).toEqual(['upper']);
      const got: unknown[] = [];
      await up2.subscribe((m) => void got.push(m.data));
      await rest(port).channels.get('up2').publish('x', 'hello');
      await waitFor(() => got.length === 1, { what: 'the message on the channel attached before it could subscribe' });
    } finally {
      closeAll(client);
    }
  });

  it("makes the connection's members leave a channel a narrower token takes presence away from; their own LEAVE is taken", async () => {
    const { c } = await rawOn(port, jwt('dg-user', { dg: ['publish', 'subscribe', 'presence'] }));
    try {
      c.send({ action: Action.ATTACH, channel: 'dg' });
      await c.next((m) => m.action === Action.ATTACHED && m.channel === 'dg');
      c.send({ action: Action.PRESENCE, channel: 'dg', msgSerial: 0, presence: [{ action: PresenceAction.ENTER, data: 'here' }] } as ProtocolMessage);
      await c.next((m) => m.action === Action.ACK && m.msgSerial === 0);
      const members = async () => (await rest(port).channels.get('dg').presence.get()).items.map((m) => m.clientId);
      expect(await members()).toEqual(['dg-user']);
      c.send({ action: Action.AUTH, auth: { accessToken: jwt('dg-user', { dg: ['publish'] }) } } as ProtocolMessage);
      await waitFor(async () => (await members()).length === 0, { what: 'the member gone with its presence capability' });
      c.send({ action: Action.PRESENCE, channel: 'dg', msgSerial: 1, presence: [{ action: PresenceAction.LEAVE }] } as ProtocolMessage);
      expect(await c.next((m) => (m.action === Action.ACK || m.action === Action.NACK) && m.msgSerial === 1)).toMatchObject({ action: Action.ACK });
      // An enter still needs the capability.
      c.send({ action: Action.PRESENCE, channel: 'dg', msgSerial: 2, presence: [{ action: PresenceAction.ENTER }] } as ProtocolMessage);
      expect(await c.next((m) => (m.action === Action.ACK || m.action === Action.NACK) && m.msgSerial === 2)).toMatchObject({ action: Action.NACK, error: { code: 40160 } });
    } finally {
      c.close();
    }
  });
});
