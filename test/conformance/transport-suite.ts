/**
 * The RegionTransport contract, as one suite every implementation must pass
 * (memory, mesh, NATS). Each implementation provides a factory for a region of n nodes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeMessage } from '../../src/transport/messages.js';
import type { RegionTransport, TransportEvent } from '../../src/transport/transport.js';
import { waitFor } from '../helpers/wait.js';

export interface TransportRegion {
  transports: RegionTransport[];
  /** Stops node i's transport as if the process died. */
  kill(i: number): Promise<void>;
  /** Starts node i again (a new transport object for the same node id). */
  restart(i: number): Promise<RegionTransport>;
  close(): Promise<void>;
}

export type TransportFactory = (n: number) => Promise<TransportRegion>;

function unsub(channel: string): NodeMessage {
  return { type: 'unsub', channel };
}

function collect(t: RegionTransport): { from: string; msg: NodeMessage }[] {
  const got: { from: string; msg: NodeMessage }[] = [];
  t.onMessage((from, msg) => got.push({ from, msg }));
  return got;
}

export function transportConformance(name: string, make: TransportFactory): void {
  describe(`RegionTransport conformance: ${name}`, () => {
    let region: TransportRegion | null = null;
    afterEach(async () => {
      await region?.close();
      region = null;
    });

    async function linked(r: TransportRegion): Promise<void> {
      // Traffic flows both ways between every pair once links are up.
      const ts = r.transports;
      const seen = ts.map(() => new Set<string>());
      ts.forEach((t, i) => t.onMessage((from, msg) => msg.type === 'unsub' && msg.channel === '__ping' && seen[i]!.add(from)));
      await waitFor(
        () => {
          for (const t of ts) t.broadcast(unsub('__ping'));
          return seen.every((s, i) => s.size === ts.length - 1 && !s.has(ts[i]!.self));
        },
        { what: 'every pair linked', intervalMs: 50 },
      );
    }

    it('delivers messages from one node to another in order, each once', async () => {
      region = await make(2);
      await linked(region);
      const [a, b] = region.transports as [RegionTransport, RegionTransport];
      const got = collect(b);
      for (let i = 0; i < 2000; i++) a.send(b.self, unsub(`c${i}`));
      await waitFor(() => got.filter((g) => g.msg.type === 'unsub' && g.msg.channel.startsWith('c')).length === 2000);
      const chans = got.filter((g) => g.msg.type === 'unsub' && (g.msg as { channel: string }).channel.startsWith('c'));
      expect(chans.map((g) => (g.msg as { channel: string }).channel)).toEqual(Array.from({ length: 2000 }, (_, i) => `c${i}`));
      expect(new Set(chans.map((g) => g.from))).toEqual(new Set([a.self]));
    });

    it('delivers to itself asynchronously and in order', async () => {
      region = await make(1);
      const [a] = region.transports as [RegionTransport];
      const got = collect(a);
      a.send(a.self, unsub('s1'));
      expect(got).toHaveLength(0); // never inside send()
      a.send(a.self, unsub('s2'));
      await waitFor(() => got.length === 2);
      expect(got.map((g) => (g.msg as { channel: string }).channel)).toEqual(['s1', 's2']);
      expect(got[0]!.from).toBe(a.self);
    });

    it('broadcasts to every other node and not to itself', async () => {
      region = await make(3);
      await linked(region);
      const gots = region.transports.map(collect);
      region.transports[0]!.broadcast(unsub('bcast'));
      await waitFor(() => gots[1]!.some((g) => (g.msg as { channel: string }).channel === 'bcast') && gots[2]!.some((g) => (g.msg as { channel: string }).channel === 'bcast'));
      await new Promise((r) => setTimeout(r, 50));
      expect(gots[0]!.some((g) => (g.msg as { channel: string }).channel === 'bcast')).toBe(false);
    });

    it('carries every kind of message intact, large ones too', async () => {
      region = await make(2);
      await linked(region);
      const [a, b] = region.transports as [RegionTransport, RegionTransport];
      const got = collect(b);
      const big = 'x'.repeat(2 * 1024 * 1024);
      const msg: NodeMessage = {
        type: 'broadcast',
        channel: 'app:big',
        epoch: 'e1',
        entries: [
          {
            kind: 'message',
            serial: 1,
            channelSerial: 'r~e1~1',
            storedAt: 1,
            origin: { region: 'r', epoch: 'e1', seq: 1 },
            message: { id: 'm1', timestamp: 5, data: big, extras: { headers: { a: 1 } } },
          },
          {
            kind: 'message',
            serial: 2,
            channelSerial: 'r~e1~2',
            storedAt: 2,
            origin: { region: 'r', epoch: 'e1', seq: 2 },
            message: { id: 'm2', timestamp: 6, data: new Uint8Array([0, 255, 7]) },
          },
        ],
      };
      a.send(b.self, msg);
      a.send(b.self, { type: 'reply', rid: 9, body: { kind: 'error', error: { code: 40160, statusCode: 401, message: 'no' } } });
      await waitFor(() => got.length >= 2);
      const m = got.find((g) => g.msg.type === 'broadcast')!.msg as Extract<NodeMessage, { type: 'broadcast' }>;
      expect(m.entries[0]!.kind === 'message' && m.entries[0]!.message.data).toBe(big);
      const bin = m.entries[1]!.kind === 'message' ? m.entries[1]!.message.data : null;
      expect(Buffer.from(bin as Uint8Array)).toEqual(Buffer.from([0, 255, 7]));
      expect(got.find((g) => g.msg.type === 'reply')!.msg).toEqual({
        type: 'reply',
        rid: 9,
        body: { kind: 'error', error: { code: 40160, statusCode: 401, message: 'no' } },
      });
    });

    it('drops sends to a node it cannot reach without throwing, and reports the node gone', async () => {
      region = await make(2);
      await linked(region);
      const [a, b] = region.transports as [RegionTransport, RegionTransport];
      const events: TransportEvent[] = [];
      a.onEvent((e) => events.push(e));
      const dead = b.self;
      await region.kill(1);
      await waitFor(() => events.some((e) => (e.type === 'peerGone' || e.type === 'linkDown') && e.peer === dead), {
        what: 'the dead peer noticed',
      });
      expect(() => a.send(dead, unsub('into-the-void'))).not.toThrow();
      expect(() => a.send('no-such-node', unsub('nowhere'))).not.toThrow();
    });

    it('links up again with a node that restarts', async () => {
      region = await make(2);
      await linked(region);
      const a = region.transports[0]!;
      await region.kill(1);
      const b2 = await region.restart(1);
      const got = collect(b2);
      await waitFor(
        () => {
          a.send(b2.self, unsub('again'));
          return got.some((g) => (g.msg as { channel: string }).channel === 'again');
        },
        { what: 'traffic to the restarted node', intervalMs: 100 },
      );
    });
  });
}
