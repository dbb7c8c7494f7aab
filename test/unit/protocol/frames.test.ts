import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import { Action } from '../../../src/protocol/actions.js';
import { decodeFrame } from '../../../src/protocol/codec.js';
import { entryFrames, FRAME_BUDGET_BYTES } from '../../../src/protocol/frames.js';
import type { ProtocolMessage, WireFormat } from '../../../src/protocol/types.js';
import { MessageAction } from '../../../src/protocol/message.js';

const NOW = 1_700_000_000_000;

/** An entry's serials and origin (both kinds). */
function at(serial: number) {
  return { serial, channelSerial: `ep:${serial}`, storedAt: NOW, origin: { region: 'eu', epoch: 'e1', seq: serial } };
}

function msg(serial: number, data: string | Uint8Array): LogEntry {
  return { kind: 'message', ...at(serial), message: { id: `c:${serial}:0`, name: 'n', connectionId: 'c', data, timestamp: NOW } };
}

function presence(serial: number): LogEntry {
  return {
    kind: 'presence',
    ...at(serial),
    host: 'n1',
    presence: { id: `c:${serial}:0`, action: 2, clientId: 'alice', connectionId: 'c', data: 'hi', timestamp: NOW },
  };
}

function decoded(entries: LogEntry[], format: WireFormat): { pms: ProtocolMessage[]; sizes: number[] } {
  const frames = entryFrames('ch', entries, format);
  return {
    pms: frames.map((f) => decodeFrame(f, format)),
    sizes: frames.map((f) => (typeof f === 'string' ? Buffer.byteLength(f) : f.length)),
  };
}

describe('entryFrames', () => {
  for (const format of ['json', 'msgpack'] as const) {
    it(`cuts a big batch into frames of about ${FRAME_BUDGET_BYTES / 1024} KB, in order, each with its last message's channelSerial (${format})`, () => {
      const entries = Array.from({ length: 1000 }, (_, i) => msg(i + 1, `${i}|${'x'.repeat(200)}`));
      const { pms, sizes } = decoded(entries, format);
      expect(pms.length).toBeGreaterThan(2);
      expect(Math.max(...sizes)).toBeLessThan(FRAME_BUDGET_BYTES + 1024);
      expect(pms.flatMap((pm) => pm.messages!.map((m) => m.id))).toEqual(entries.map((e) => (e.kind === 'message' ? e.message.id : '')));
      for (const pm of pms) {
        expect(pm.action).toBe(Action.MESSAGE);
        expect(pm.channelSerial).toBe(`ep:${pm.messages!.at(-1)!.id!.split(':')[1]}`);
      }
    });
  }

  it('sends a message larger than a frame alone, and keeps small batches in one frame', () => {
    const big = 'b'.repeat(FRAME_BUDGET_BYTES * 2);
    const { pms } = decoded([msg(1, 'a'), msg(2, big), msg(3, 'c')], 'json');
    expect(pms.map((pm) => pm.messages!.map((m) => m.data))).toEqual([['a', big], ['c']]);
    expect(decoded([msg(1, 'a'), msg(2, 'b'), msg(3, 'c')], 'json').pms).toHaveLength(1);
    // Binary data counts as its base64 size in JSON.
    const bin = Array.from({ length: 40 }, (_, i) => msg(i + 1, new Uint8Array(3000).fill(i)));
    expect(decoded(bin, 'json').pms.length).toBeGreaterThan(1);
  });

  it('keeps messages and presence events in separate frames, in serial order', () => {
    const { pms } = decoded([msg(1, 'a'), msg(2, 'b'), presence(3), presence(4), msg(5, 'c')], 'json');
    expect(pms.map((pm) => [pm.action, pm.channelSerial])).toEqual([
      [Action.MESSAGE, 'ep:2'],
      [Action.PRESENCE, 'ep:4'],
      [Action.MESSAGE, 'ep:5'],
    ]);
  });

  it('sends no raw bytes in JSON: binary data as base64, and bytes in extras through the guard', () => {
    const withBytes = msg(1, Buffer.from([1, 2, 3]));
    const [frame] = entryFrames('ch', [withBytes], 'json');
    expect(frame).not.toContain('"type":"Buffer"');
    expect(decodeFrame(frame!, 'json').messages![0]).toMatchObject({ data: 'AQID', encoding: 'base64' });
    const extras = msg(3, 'x');
    if (extras.kind === 'message') extras.message.extras = { raw: Buffer.from([4, 5]) };
    const [guarded] = entryFrames('ch', [msg(2, 'plain'), extras], 'json');
    expect(decodeFrame(guarded!, 'json').messages![1]!.extras).toEqual({ raw: 'BAU=' });
  });

  describe('connectionId on the ProtocolMessage (TM2c)', () => {
    const from = (serial: number, connectionId: string | undefined): LogEntry => {
      const e = msg(serial, 'x');
      if (e.kind === 'message') {
        if (connectionId === undefined) delete e.message.connectionId;
        else e.message.connectionId = connectionId;
      }
      return e;
    };
    /** What an SDK makes of a frame: a message without a connectionId takes the ProtocolMessage's. */
    const seen = (pm: ProtocolMessage) => pm.messages!.map((m) => m.connectionId ?? pm.connectionId);

    for (const format of ['json', 'msgpack'] as const) {
      it(`puts the first message's on the frame and leaves it out of those that share it, keeping others' (${format})`, () => {
        const { pms } = decoded([from(1, 'a'), from(2, 'b'), from(3, 'a')], format);
        expect(pms).toHaveLength(1);
        expect(pms[0]!.connectionId).toBe('a');
        expect(pms[0]!.messages!.map((m) => m.connectionId)).toEqual([undefined, 'b', undefined]);
        expect(seen(pms[0]!)).toEqual(['a', 'b', 'a']);
      });

      it(`puts none on a frame with a summary, which an SDK would otherwise give the publisher's (${format})`, () => {
        const summary = from(2, 'a');
        if (summary.kind === 'message') Object.assign(summary.message, { serial: 'M', action: MessageAction.ANNOTATION, annotation: { action: 0, type: 't:total.v1', serial: 'A' }, summary: { 't:total.v1': { total: 1 } } });
        const { pms } = decoded([from(1, 'a'), summary], format);
        expect(pms[0]!.connectionId).toBeUndefined();
        expect(pms[0]!.messages!.map((m) => [m.action, m.connectionId])).toEqual([
          [undefined, 'a'],
          [MessageAction.SUMMARY, undefined],
        ]);
      });

      it(`puts none on a frame where a message has none, which an SDK would otherwise give the publisher's (${format})`, () => {
        const { pms } = decoded([from(1, 'a'), from(2, undefined), from(3, 'a')], format);
        expect(pms[0]!.connectionId).toBeUndefined();
        expect(seen(pms[0]!)).toEqual(['a', undefined, 'a']);
      });
    }
  });
});
