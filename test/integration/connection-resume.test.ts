/**
 * Connection-level resume and recover across the nodes of a region, with the ably SDK:
 * the same connectionId comes back on another node, publishes resent by the SDK are not
 * duplicated, and what was published meanwhile is delivered once.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionKeyFor } from '../../src/gateway/connection-key.js';
import { Action } from '../../src/protocol/actions.js';
import { FaultProxy } from '../../src/proxy/fault-proxy.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { RawClient } from '../helpers/raw.js';
import { Ably, closeAll, connected, realtime } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
});

afterAll(async () => {
  await d?.stop();
});

const data = (m: { data?: unknown }) => m.data as string;

describe('connection resume', () => {
  it('resumes on another node with the same connectionId, losing and duplicating nothing either way', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n1') });
    await proxy.listen();
    const client = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    const other = realtime(d.port('r1-n2'));
    const watcher = realtime(d.port('r1-n3'));
    try {
      const channel = 'resume-anywhere';
      const fromOther: string[] = [];
      const seenByWatcher: string[] = [];
      await client.channels.get(channel).subscribe((m) => void (data(m).startsWith('o') && fromOther.push(data(m))));
      await watcher.channels.get(channel).subscribe((m) => void seenByWatcher.push(data(m)));
      await connected(other);
      const id = client.connection.id;
      for (let i = 0; i < 3; i++) await client.channels.get(channel).publish('c', `c${i}`);
      await other.channels.get(channel).publish('o', 'o0');
      await waitFor(() => fromOther.includes('o0'));

      // ACKs stop coming back: the client's next publishes reach the server unanswered.
      proxy.set('down', { blackhole: true });
      const pending = [3, 4, 5].map((i) => client.channels.get(channel).publish('c', `c${i}`));
      await waitFor(() => seenByWatcher.includes('c5'), { what: 'the server to have the unanswered publishes' });
      // The transport dies; the client comes back through the region to another node.
      proxy.resetConnections();
      proxy.heal();
      proxy.setTarget({ host: '127.0.0.1', port: d.port('r1-n2') });
      for (let i = 1; i < 4; i++) await other.channels.get(channel).publish('o', `o${i}`);
      await Promise.all(pending); // resent after the resume, ACKed
      await waitFor(() => client.connection.state === 'connected');
      expect(client.connection.id).toBe(id);
      for (let i = 6; i < 8; i++) await client.channels.get(channel).publish('c', `c${i}`);
      await other.channels.get(channel).publish('o', 'o4');
      await waitFor(() => seenByWatcher.includes('c7') && fromOther.includes('o4'), { what: 'everything' });

      const cs = seenByWatcher.filter((x) => x.startsWith('c'));
      expect(cs).toEqual(Array.from({ length: 8 }, (_, i) => `c${i}`));
      expect(fromOther).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
      // The region holds the connection's record twice (its ring owner and replica).
      const records = await Promise.all(['r1-n1', 'r1-n2', 'r1-n3'].map(async (n) => (await d.health(n)).connectionRecords as number));
      expect(records.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    } finally {
      closeAll(client, other, watcher);
      await proxy.close();
    }
  });

  it('keeps the connectionId when the node the client was on is killed', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n3') });
    await proxy.listen();
    const client = realtime(proxy.port, { disconnectedRetryTimeout: 200 });
    try {
      await connected(client);
      const id = client.connection.id;
      // Watched as events: the drop and the resume can both happen between two polls.
      let dropped = false;
      client.connection.on((change: { current: string }) => {
        if (change.current !== 'connected') dropped = true;
      });
      proxy.setTarget({ host: '127.0.0.1', port: d.port('r1-n1') });
      await d.sup.kill('r1-n3');
      await waitFor(() => dropped, { what: 'the connection to drop' });
      await waitFor(() => client.connection.state === 'connected', { timeoutMs: 15_000 });
      expect(client.connection.id).toBe(id);
      expect(client.connection.errorReason).toBeFalsy();
    } finally {
      closeAll(client);
      await proxy.close();
      await d.sup.restart('r1-n3');
    }
  });

  it('continues a connection from a recovery key in a new SDK instance, without gap or duplicate', async () => {
    const proxy = new FaultProxy({ host: '127.0.0.1', port: d.port('r1-n1') });
    await proxy.listen();
    const first = realtime(proxy.port, { disconnectedRetryTimeout: 60_000 });
    const publisher = realtime(d.port('r1-n3'));
    let second: InstanceType<typeof Ably.Realtime> | undefined;
    try {
      const channel = 'recover-me';
      const got1: string[] = [];
      await first.channels.get(channel).subscribe((m) => void got1.push(data(m)));
      for (let i = 0; i < 3; i++) await publisher.channels.get(channel).publish('p', `p${i}`);
      await waitFor(() => got1.length === 3);
      const recoveryKey = first.connection.createRecoveryKey()!;
      const id = first.connection.id;
      // The page "reloads": the old instance vanishes without closing.
      proxy.set('both', { reset: true });
      for (let i = 3; i < 6; i++) await publisher.channels.get(channel).publish('p', `p${i}`);
      second = realtime(d.port('r1-n2'), { recover: recoveryKey });
      const got2: string[] = [];
      await second.channels.get(channel).subscribe((m) => void got2.push(data(m)));
      expect(second.connection.id).toBe(id);
      for (let i = 6; i < 8; i++) await publisher.channels.get(channel).publish('p', `p${i}`);
      await waitFor(() => got2.includes('p7'));
      expect([...got1, ...got2]).toEqual(Array.from({ length: 8 }, (_, i) => `p${i}`));
    } finally {
      closeAll(first, publisher, second);
      await proxy.close();
    }
  });

  it('gives a new connectionId with 80008 for a connection the region no longer holds, and 80018 for a forged key', async () => {
    const secret = createHmac('sha256', 'test-cluster-secret').update('connection-keys:r1').digest('base64url');
    const gone = await RawClient.connect(d.port('r1-n2'), { resume: connectionKeyFor(secret, 'neverexisted') });
    const c1 = await gone.next((m) => m.action === Action.CONNECTED);
    expect(c1.connectionId).not.toBe('neverexisted');
    expect(c1.error?.code).toBe(80008);
    const forged = await RawClient.connect(d.port('r1-n2'), { resume: 'someid!forgedmac' });
    const c2 = await forged.next((m) => m.action === Action.CONNECTED);
    expect(c2.error?.code).toBe(80018);
    gone.close();
    forged.close();
    expect(KEY).toContain(':');
  });
});
