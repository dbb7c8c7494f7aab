/**
 * A presence member whose client stays connected to a node that the region declared down
 * for a while (paused past the down timeout) and took back. The masters were told the
 * node's members would leave (after `limits.presenceLeaveDelayMs`), and nothing told them
 * otherwise: the members left though their clients never went. A node now tells its
 * channels' masters its connections' members are here whenever its ring changes
 * (Connection.presenceHere). Found by the chaos presence check (seed 1220 with `--pairs`).
 */
import { describe, expect, it } from 'vitest';
import { startDeployment, type TestDeployment } from '../helpers/deployment.js';
import { channelMasteredBy } from '../helpers/ring.js';
import { closeAll, connected, realtime, rest } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';

const LEAVE_DELAY_MS = 3000;

describe('a presence member on a node declared down and taken back', () => {
  it('stays in the set while its client stays connected (two members)', { timeout: 90_000 }, async () => {
    const d: TestDeployment = await startDeployment({ regions: [{ name: 'r1', nodes: 3 }], limits: { presenceLeaveDelayMs: LEAVE_DELAY_MS } });
    const nodes = d.nodes('r1');
    const ch = channelMasteredBy(nodes, 'r1-n1', 'back', d.topology.apps[0]!.id);
    const member = realtime(d.port('r1-n3'), { clientId: 'stayer' });
    const other = realtime(d.port('r1-n3'), { clientId: 'other' });
    try {
      await Promise.all([connected(member), connected(other)]);
      const connectionId = member.connection.id;
      await member.channels.get(ch).presence.enter('here');
      await other.channels.get(ch).presence.enter('here');
      const members = async () => (await rest(d.port('r1-n1')).channels.get(ch).presence.get()).items.map((m) => `${m.clientId} ${m.connectionId}`).sort();
      await waitFor(async () => (await members()).length === 2, { what: 'the members entered' });

      d.sup.pause('r1-n3');
      await waitFor(async () => !(await d.health('r1-n1')).ring.includes('r1-n3'), { what: 'r1-n3 declared down', timeoutMs: 20_000 });
      d.sup.resume('r1-n3');
      await waitFor(async () => (await d.health('r1-n1')).ring.includes('r1-n3'), { what: 'r1-n3 back in the ring', timeoutMs: 20_000 });
      const back = Date.now();
      // Past the leave delay from when the node was declared down, the member is still there
      // (as long as its client is: it may have been moved to another node meanwhile, which
      // says so itself).
      await waitFor(() => Date.now() - back > LEAVE_DELAY_MS + 2000, { what: 'the leave delay to pass', timeoutMs: LEAVE_DELAY_MS + 5000 });
      await Promise.all([connected(member), connected(other)]);
      expect(await members()).toEqual([`other ${other.connection.id}`, `stayer ${member.connection.id}`]);
      console.log(`[presence] member's connection ${member.connection.id === connectionId ? 'kept' : 'replaced'} across the pause`);
    } finally {
      closeAll(member, other);
      await d.stop();
    }
  });
});
