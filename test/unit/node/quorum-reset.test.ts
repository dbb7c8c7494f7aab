/**
 * A node that loses quorum starts a new life (a higher incarnation) and tells its peers at
 * once. It used to wait for its next heartbeat: peers that still heard it went on naming
 * the old life in their requests, and it refused every one of them as meant for an
 * earlier life, for up to a heartbeat interval (half a second in a chaos run, where that
 * node was becoming a channel's master).
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AblyNode, type NodeEvent } from '../../../src/node/node.js';
import { MemoryNetwork, MemoryTransport } from '../../../src/transport/memory.js';
import type { NodeId, NodeMessage } from '../../../src/transport/messages.js';
import { removeTempDir } from '../../helpers/tmp.js';
import { makeTopology } from '../../helpers/topology.js';
import { waitFor } from '../../helpers/wait.js';

let nodes: AblyNode[] = [];
let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
  for (const d of dirs) removeTempDir(d);
  dirs = [];
});

describe('a node that loses quorum', () => {
  it('broadcasts the heartbeat of its new life as it starts it', async () => {
    const { topology, dir } = await makeTopology({ regions: [{ name: 'r1', nodes: 3 }] });
    dirs.push(dir);
    const net = new MemoryNetwork();
    const region = topology.regions[0]!;
    const sent: NodeMessage[] = [];
    nodes = region.nodes.map((node) => {
      const transport = new MemoryTransport(node.name, net);
      if (node.name === 'r1-n1') {
        // What r1-n1 broadcasts, in order.
        const broadcast = transport.broadcast.bind(transport);
        transport.broadcast = (msg: NodeMessage) => {
          sent.push(msg);
          broadcast(msg);
        };
      }
      return new AblyNode({ topology, region: 'r1', node, log: pino({ level: 'silent' }), transport, heartbeatIntervalMs: 20 });
    });
    await Promise.all(nodes.map((n) => n.start()));
    const n1 = nodes[0]!;
    await waitFor(() => (n1.health().ring as string[]).length === 3, { what: 'the region up' });

    const resets: { incarnation: number; sentBefore: number }[] = [];
    n1.on((e: NodeEvent) => {
      if (e.type === 'selfReset') resets.push({ incarnation: e.incarnation, sentBefore: sent.length });
    });
    for (const other of ['r1-n2', 'r1-n3'] as NodeId[]) net.cut('r1-n1', other);
    await waitFor(() => resets.length > 0, { what: 'r1-n1 to lose quorum and start a new life' });
    const [reset] = resets;
    const told = sent.slice(0, reset!.sentBefore).some((msg) => msg.type === 'heartbeat' && msg.incarnation === reset!.incarnation);
    expect(told, 'its heartbeat of the new life went out as the life began').toBe(true);
  });
});
