/**
 * Message serials (Ably's `Message.serial`) across two regions, with the real SDK: every
 * message gets one serial from the master of the region that first accepted it, and
 * that serial is what the publisher's ACK (or REST response) gives, what every
 * subscriber in either region is sent in either wire format, what history holds in
 * either region, and what `getMessage` finds the message by in either region. A
 * repeated publish is answered with the original's serial. Updates, deletes and
 * appends are refused with 93002 and change nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseMessageSerial } from '../../src/protocol/message-serial.js';
import { regionsDeployment } from '../helpers/deployment.js';
import type { InboundMessage } from 'ably';
import { closeAll, realtime, rest, type Realtime } from '../helpers/sdk.js';
import { KEY } from '../helpers/topology.js';
import { rejectionOf } from '../helpers/errors.js';
import { waitFor } from '../helpers/wait.js';

type Msg = InboundMessage;

const deployment = regionsDeployment([
  { name: 'r1', nodes: 2 },
  { name: 'r2', nodes: 1 },
]);

/** Subscribes on `c` and collects what it is sent, by message id. */
async function collect(c: Realtime, channel: string): Promise<Map<string, Msg>> {
  const got = new Map<string, Msg>();
  await c.channels.get(channel).subscribe((m) => {
    got.set(m.id!, m);
  });
  return got;
}


describe('message serials', () => {
  it('are the same in the ACK, live in both regions and both formats, in both histories and by getMessage', { timeout: 60_000 }, async () => {
    const d = deployment();
    const channel = 'serials-two-regions';
    const pubR1 = realtime(d.port('r1-n1'));
    const pubR2 = realtime(d.port('r2-n1'), { useBinaryProtocol: false });
    const subR1 = realtime(d.port('r1-n2'), { useBinaryProtocol: false });
    const subR2 = realtime(d.port('r2-n1'));
    try {
      const inR1 = await collect(subR1, channel);
      const inR2 = await collect(subR2, channel);
      const acked = new Map<string, string>();
      for (let i = 0; i < 6; i++) {
        const [c, region] = i % 2 === 0 ? [pubR1, 'r1'] : [pubR2, 'r2'];
        const id = `${region}-m${i}`;
        const r = await c.channels.get(channel).publish({ id, name: 'n', data: `d${i}` });
        expect(r.serials).toHaveLength(1);
        acked.set(id, r.serials[0]!);
      }
      // A batch of three in one ProtocolMessage: a serial each, in order.
      const batch = await pubR1.channels.get(channel).publish([0, 1, 2].map((k) => ({ id: `r1-b${k}`, data: `b${k}` })));
      expect(batch.serials).toHaveLength(3);
      batch.serials.forEach((s, k) => acked.set(`r1-b${k}`, s!));
      expect([...batch.serials]).toEqual([...batch.serials].sort());

      await waitFor(() => inR1.size === acked.size && inR2.size === acked.size, { what: 'every message in both regions', timeoutMs: 10_000 });
      for (const [id, serial] of acked) {
        expect(inR1.get(id)!.serial, id).toBe(serial);
        expect(inR2.get(id)!.serial, id).toBe(serial);
        // Made where the message was first accepted.
        expect(parseMessageSerial(serial)?.region, id).toBe(id.slice(0, 2));
      }
      expect(new Set(acked.values()).size).toBe(acked.size);
      // One region's messages are in serial order.
      for (const region of ['r1', 'r2']) {
        const own = [...inR1.values()].filter((m) => m.id!.startsWith(region)).map((m) => m.serial!);
        expect(own, region).toEqual([...own].sort());
      }

      // On the wire, as the service sends it (the SDK fills in what is absent): each create with its serial and no action.
      const raw = (await (await fetch(`http://127.0.0.1:${d.port('r2-n1')}/channels/${channel}/messages?limit=100`, { headers: { authorization: `Basic ${Buffer.from(KEY).toString('base64')}` } })).json()) as { id: string; serial?: string; action?: number }[];
      expect(new Map(raw.map((m) => [m.id, m.serial]))).toEqual(acked);
      expect(raw.filter((m) => 'action' in m)).toEqual([]);
      for (const node of ['r1-n2', 'r2-n1']) {
        const client = rest(d.port(node));
        const page = await client.channels.get(channel).history({ limit: 100 });
        expect(new Map(page.items.map((m) => [m.id!, m.serial])), node).toEqual(acked);
        for (const id of ['r1-m0', 'r2-m1', 'r1-b2']) {
          const m = await client.channels.get(channel).getMessage(acked.get(id)!);
          expect({ id: m.id, serial: m.serial, data: m.data }, `${node} ${id}`).toEqual({ id, serial: acked.get(id), data: inR1.get(id)!.data });
          const versions = await client.channels.get(channel).getMessageVersions(m);
          expect(versions.items.map((v) => [v.id, v.serial])).toEqual([[id, acked.get(id)]]);
        }
      }
      // The realtime channel's getMessage (REST underneath), given the message itself.
      expect((await subR2.channels.get(channel).getMessage(inR2.get('r2-m3')!)).data).toBe('d3');
    } finally {
      closeAll(pubR1, pubR2, subR1, subR2);
    }
  });

  it("answer a repeated publish with the original's serial, over realtime, over REST and in the other region", { timeout: 30_000 }, async () => {
    const d = deployment();
    const channel = 'serials-repeat';
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r1-n2'));
    const subR2 = realtime(d.port('r2-n1'));
    try {
      const got = await collect(sub, channel);
      const gotR2 = await collect(subR2, channel);
      const first = await pub.channels.get(channel).publish({ id: 'same', data: 'one' });
      const again = await pub.channels.get(channel).publish({ id: 'same', data: 'one' });
      expect(again.serials).toEqual(first.serials);
      await waitFor(() => gotR2.size === 1, { what: 'the message in r2', timeoutMs: 5_000 });
      // A publisher that moved to r2 and sends it again there: r2 has it from r1, under r1's serial.
      const inR2 = await rest(d.port('r2-n1')).channels.get(channel).publish({ id: 'same', data: 'one' });
      expect(inR2.serials).toEqual(first.serials);
      const fresh = await rest(d.port('r1-n2')).channels.get(channel).publish({ id: 'other', data: 'two' });
      await waitFor(() => got.size === 2 && gotR2.size === 2, { what: 'the second message in both regions', timeoutMs: 5_000 });
      expect(got.get('same')!.serial).toBe(first.serials[0]);
      expect(got.get('other')!.serial).toBe(fresh.serials[0]);
      expect(gotR2.get('other')!.serial).toBe(fresh.serials[0]);
    } finally {
      closeAll(pub, sub, subR2);
    }
  });

  it('refuse updates, deletes and appends with 93002, and unknown or malformed serials', { timeout: 30_000 }, async () => {
    const d = deployment();
    const channel = 'serials-refused';
    const pub = realtime(d.port('r1-n1'));
    const sub = realtime(d.port('r1-n2'));
    try {
      const got = await collect(sub, channel);
      const ch = pub.channels.get(channel);
      await ch.publish({ id: 'orig', data: 'x' });
      await waitFor(() => got.size === 1, { what: 'the original', timeoutMs: 5_000 });
      const original = got.get('orig')!;
      for (const op of [() => ch.updateMessage(original), () => ch.deleteMessage(original), () => ch.appendMessage(original)]) {
        expect(await rejectionOf(op())).toMatchObject({ code: 93002, statusCode: 400 });
      }
      const r = rest(d.port('r1-n1')).channels.get(channel);
      expect(await rejectionOf(r.updateMessage(original))).toMatchObject({ code: 93002, statusCode: 400 });
      // The connection and channel carry on, and nothing but the original was sent.
      await ch.publish({ id: 'after', data: 'y' });
      await waitFor(() => got.size === 2, { what: 'the next message', timeoutMs: 5_000 });
      expect([...got.keys()]).toEqual(['orig', 'after']);
      expect(pub.connection.state).toBe('connected');

      const unknown = original.serial!.replace(/@r1:/, '@r2:');
      expect(await rejectionOf(r.getMessage(unknown))).toMatchObject({ code: 40400, statusCode: 404 });
      expect(await rejectionOf(r.getMessage('eu~k3j2h1~2s'))).toMatchObject({ code: 40003, statusCode: 400 });
      const badEncoding = await fetch(`http://127.0.0.1:${d.port('r1-n1')}/channels/${channel}/messages/%E0%A4%A`, { headers: { authorization: `Basic ${Buffer.from(KEY).toString('base64')}` } });
      expect(badEncoding.status).toBe(400);
      expect(((await badEncoding.json()) as { error: { code: number } }).error.code).toBe(40003);
      expect(await rejectionOf(rest(d.port('r1-n1')).channels.get('serials-never').getMessage(original.serial!))).toMatchObject({ code: 40400, statusCode: 404 });
    } finally {
      closeAll(pub, sub);
    }
  });
});
