/**
 * A connection's state is kept for `limits.connectionStateTtlMs` after its transport goes,
 * also where its node died with it: the record its holders keep (src/node/connection-
 * directory.ts) is written by its host when the transport goes, and a killed host writes
 * nothing. Before the fifty-eighth session such records were kept for ever, and a client
 * could resume the connection hours later. Real node processes, raw sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action } from '../../src/protocol/actions.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { RawClient } from '../helpers/raw.js';
import { waitFor } from '../helpers/wait.js';

const TTL_MS = 2000;

describe('a connection whose node was killed', () => {
  let d: TestDeployment;
  beforeAll(async () => {
    d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }], limits: { connectionStateTtlMs: TTL_MS } });
  });
  afterAll(async () => {
    await d?.stop();
  });

  const records = async (nodes: string[]) => (await Promise.all(nodes.map(async (n) => (await d.health(n)).connectionRecords as number))).reduce((a, b) => a + b, 0);

  it('is resumable within its state TTL, and not after it: its records expire', async () => {
    const survivors = ['r1-n1', 'r1-n2'];
    const before = await records(survivors);
    // Two connections on the node to be killed: one resumed within the TTL, one left.
    const early = await RawClient.connect(d.port('r1-n3'));
    const late = await RawClient.connect(d.port('r1-n3'));
    const keyOf = async (c: RawClient) => {
      const m = await c.next((x) => x.action === Action.CONNECTED);
      return { id: m.connectionId!, key: m.connectionDetails!.connectionKey! };
    };
    const [e, l] = [await keyOf(early), await keyOf(late)];
    await waitFor(async () => (await records(survivors)) >= before + 2, { what: 'the records at their holders' });
    const killedAt = Date.now();
    await d.sup.kill('r1-n3');
    early.close();
    late.close();
    try {
      const resumed = await RawClient.connect(d.port('r1-n1'), { resume: e.key });
      const c1 = await resumed.next((m) => m.action === Action.CONNECTED, 10_000);
      expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 8000);
      expect(c1.connectionId).toBe(e.id);
      expect(c1.error).toBeFalsy();
      resumed.close();
      // The other's records go once the holders have seen the node gone and its TTL is past.
      await waitFor(async () => (await records(survivors)) <= before, { what: 'both connections\' records to expire', timeoutMs: 30_000 });
      const again = await RawClient.connect(d.port('r1-n2'), { resume: l.key });
      const c2 = await again.next((m) => m.action === Action.CONNECTED);
      expect(c2.connectionId).not.toBe(l.id);
      expect(c2.error?.code).toBe(80008);
      again.close();
    } finally {
      await d.sup.restart('r1-n3');
    }
  }, 60_000);
});
