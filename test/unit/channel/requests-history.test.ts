/**
 * A history read at the master (requests.ts) with a cursor or untilAttach point: of the
 * master's epoch it pages on; of an earlier epoch (the channel's state lost and started
 * again) it is answered 90005, as a reply. Before, such a cursor was answered with an
 * empty last page; and an error thrown at the master escaped the request's handler
 * (`return atMaster(...)` without await), an unhandled rejection that stopped the node.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { liveMaster, makeRegion, msg, startAll, stopAll, type TestNode } from '../../helpers/registry-region.js';

let nodes: TestNode[] = [];

afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});

describe('a history read at the master', () => {
  it('pages on from a cursor of its epoch, and answers one of another epoch with 90005 rather than an empty last page', async () => {
    nodes = makeRegion(['a']).nodes;
    await startAll(nodes);
    const a = nodes[0]!;
    const key = 'app:cursor';
    for (const s of [1, 2, 3]) await a.publisher.send('src', key, { type: 'publish', messages: [msg(s)] });
    const epoch = liveMaster(a, key)!.epoch;
    const read = (q: { epoch: string; cursor?: number; untilSerial?: number }) =>
      a.registry.handle(a.id, { type: 'history', rid: 0, channel: key, query: { direction: 'backwards', limit: 10, kind: 'message', ...q } });

    const ours = await read({ epoch, cursor: 3 });
    expect(ours.kind === 'entries' ? ours.entries.map((e) => e.serial) : ours).toEqual([2, 1]);

    for (const q of [{ epoch: 'earlier', cursor: 3 }, { epoch: 'earlier', untilSerial: 2 }]) {
      const lost = await read(q);
      expect(lost).toMatchObject({ kind: 'error', error: { code: 90005, statusCode: 404 } });
      expect(lost.kind === 'error' ? lost.error.message : '').toMatch(/history was lost and started again \(epoch \w+\) since this cursor or attach point \(epoch earlier\)/);
    }
  });
});
