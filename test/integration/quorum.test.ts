/**
 * A node that loses quorum takes no clients: those it had are told to reconnect
 * elsewhere (DISCONNECTED 80003), and so is any that connects while it is cut off (a
 * balancer polls health and may still send one its way), rather than being accepted
 * and left without channels until the partition ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Action } from '../../src/protocol/actions.js';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { RawClient } from '../helpers/raw.js';
import { ringOf } from '../helpers/region.js';
import { waitFor } from '../helpers/wait.js';

let d: TestDeployment;

beforeAll(async () => {
  d = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }] });
  await ringOf(d, 3);
});

afterAll(async () => {
  await d?.stop();
});

describe('a node without quorum', () => {
  it('drops its clients and refuses new ones with DISCONNECTED 80003', async () => {
    const port = d.port('r1-n1');
    const before = await RawClient.connect(port);
    try {
      await before.next((m) => m.action === Action.CONNECTED);
      // Paused, not killed: a node whose process is gone no longer counts towards the
      // majority, one that is silent (a partition) does.
      d.sup.pause('r1-n2');
      d.sup.pause('r1-n3');
      await waitFor(async () => (await d.health('r1-n1')).quorum === false, { what: 'r1-n1 to lose quorum', timeoutMs: 15_000 });

      const dropped = await before.next((m) => m.action === Action.DISCONNECTED);
      expect(dropped.error).toMatchObject({ code: 80003, statusCode: 503 });

      const late = await RawClient.connect(port);
      const first = await late.next(() => true);
      expect(first.action).toBe(Action.DISCONNECTED);
      expect(first.error).toMatchObject({ code: 80003, statusCode: 503 });
      expect(await late.waitClosed()).toBe(1000);
      expect(late.received.some((m) => m.action === Action.CONNECTED)).toBe(false);
    } finally {
      before.close();
      d.sup.resume('r1-n2');
      d.sup.resume('r1-n3');
    }
  });
});
