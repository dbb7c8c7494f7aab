import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../../../src/channel/entry.js';
import type { ChannelSnapshot } from '../../../src/channel/state.js';
import * as pb from '../../../src/gen/node.pb.js';
import { entryListCodec } from '../../../src/transport/entry-codec.js';
import { SnapshotDedup } from '../../../src/transport/dedup-list.js';
import { SnapshotEntries } from '../../../src/transport/entry-lists.js';
import { compareSnapshotsByContent } from '../../helpers/snapshot-entries.js';
import { decodeNodeMessage, encodeNodeMessage, encodeNodeMessageChunks } from '../../../src/transport/node-codec.js';
import type { NodeMessage, ReplyBody } from '../../../src/transport/messages.js';
import type { Message } from '../../../src/protocol/message.js';

const NOW = 1_700_000_000_123;

compareSnapshotsByContent();

/**
 * Encodes and decodes; the bytes must be a Uint8Array as a transport would carry them,
 * and the mesh's pieces (encodeNodeMessageChunks) must add up to the same bytes.
 */
function roundTrip(msg: NodeMessage): NodeMessage {
  const bytes = encodeNodeMessage(msg);
  expect(bytes).toBeInstanceOf(Uint8Array);
  expect(Buffer.concat(encodeNodeMessageChunks(msg)).equals(Buffer.from(bytes))).toBe(true);
  return decodeNodeMessage(Uint8Array.from(bytes));
}

const textMessage: Message = {
  id: 'conn:7:0',
  name: 'greeting',
  clientId: 'alice',
  connectionId: 'conn',
  data: 'hello',
  encoding: 'utf-8',
  extras: { headers: { k: 'v' }, ref: { type: 'x', timeserial: 'y' } },
  timestamp: NOW - 5,
};
const binaryMessage: Message = { id: 'bin', data: Buffer.from([0, 1, 2, 253, 254, 255]), timestamp: NOW };
const bareMessage: Message = { id: 'bare', timestamp: NOW };

const messageEntry: LogEntry = {
  kind: 'message',
  serial: 41,
  channelSerial: 'eu~ep1~15|eu~ep1~3|us~ep9~38',
  storedAt: NOW,
  origin: { region: 'us', epoch: 'ep9', seq: 38 },
  message: textMessage,
};

const binaryEntry: LogEntry = {
  kind: 'message',
  serial: 42,
  channelSerial: 'eu~ep1~16',
  storedAt: NOW + 1,
  origin: { region: 'eu', epoch: 'ep1', seq: 4 },
  message: binaryMessage,
};

const bareEntry: LogEntry = {
  kind: 'message',
  serial: 43,
  channelSerial: 'eu~ep1~17',
  storedAt: NOW + 2,
  origin: { region: 'eu', epoch: 'ep1', seq: 5 },
  message: bareMessage,
};

const presenceEntry: LogEntry = {
  kind: 'presence',
  serial: 44,
  channelSerial: 'eu~ep1~18',
  storedAt: NOW + 3,
  origin: { region: 'eu', epoch: 'ep1', seq: 6 },
  host: 'n2',
  presence: {
    id: 'conn:8:0',
    action: 2,
    clientId: 'bob',
    connectionId: 'conn2',
    data: Buffer.from('binary presence'),
    encoding: 'utf-8',
    extras: { status: 'away' },
    timestamp: NOW,
  },
};

const barePresenceEntry: LogEntry = {
  kind: 'presence',
  serial: 45,
  channelSerial: 'eu~ep1~19',
  storedAt: NOW + 4,
  origin: { region: 'eu', epoch: 'ep1', seq: 7 },
  host: 'n1',
  presence: { id: 'p', action: 3, clientId: 'bob', connectionId: 'conn2', timestamp: NOW },
};

const entries = [messageEntry, binaryEntry, bareEntry, presenceEntry, barePresenceEntry];

const snapshot: ChannelSnapshot = {
  key: 'app:chat',
  epoch: 'ep1',
  term: 3,
  base: 40,
  localSeq: 7,
  origins: [{ region: 'us', epoch: 'ep9', seq: 38 }],
  lastStoredAt: NOW + 4,
  entries: SnapshotEntries.of(entries),
  dedup: SnapshotDedup.of([
    { id: 'conn:7:0', channelSerial: 'eu~ep1~15', at: NOW },
    { id: 'bin', channelSerial: 'eu~ep1~16', at: NOW + 1 },
  ]),
  wasMaster: true,
  subscribers: ['n2', 'n3'],
  interestSince: NOW - 5000,
  reach: [{ region: 'ap', epoch: 'ap1', seq: 12 }],
  remoteInterest: [{ region: 'us', since: NOW - 90_000 }],
  lifecycle: { region: NOW - 5000, global: NOW - 90_000, regionEnded: NOW - 200_000, globalEnded: 0, untold: 5 },
  presence: [
    { message: { id: 'conn:8:0', action: 2, clientId: 'bob', connectionId: 'conn2', timestamp: NOW }, host: 'n2', leaveAt: null, since: NOW - 60_000 },
    { message: { id: 'conn:9:0', action: 4, clientId: 'eve', connectionId: 'conn3', data: 'x', timestamp: NOW }, host: 'n3', leaveAt: NOW + 15000, since: 0 },
  ],
};

describe('encodeNodeMessage / decodeNodeMessage', () => {
  it('round-trips a heartbeat with members in every state, the region time and a revocations digest', () => {
    const msg: NodeMessage = {
      type: 'heartbeat',
      node: 'n1',
      incarnation: NOW,
      address: { host: '10.0.0.1', port: 8001, meshPort: 9001 },
      members: [
        { node: 'n1', incarnation: NOW, state: 'up', address: { host: '10.0.0.1', port: 8001, meshPort: 9001 } },
        { node: 'n2', incarnation: 5, state: 'suspect', address: { host: '10.0.0.2', port: 8002, meshPort: 9002 } },
        { node: 'n3', incarnation: 0, state: 'down', address: { host: '10.0.0.3', port: 8003, meshPort: 9003 } },
        { node: 'n4', incarnation: 9, state: 'left', address: { host: '10.0.0.4', port: 8004, meshPort: 9004 } },
      ],
      leaving: false,
      quorum: true,
      now: NOW + 6000,
      revocations: 0xfedcba98,
    };
    expect(roundTrip(msg)).toStrictEqual(msg);
  });

  it('round-trips token revocations (revocation-sync.ts)', () => {
    const msg: NodeMessage = {
      type: 'revocations',
      entries: [
        { origin: 'r1', keyName: 'app.rev', target: 'clientId:bob', issuedBefore: NOW, appliesAt: NOW, originIssuedBefore: NOW, times: {}, guesses: {} },
        { origin: 'r2', keyName: 'app.rev', target: 'channel:rooms:*', issuedBefore: NOW - 60_000, appliesAt: NOW + 30_000, originIssuedBefore: NOW - 54_000, times: { r3: NOW - 61_000 }, guesses: { r4: NOW - 58_000 } },
      ],
    };
    expect(roundTrip(msg)).toStrictEqual(msg);
    expect(roundTrip({ type: 'revocations', entries: [] })).toStrictEqual({ type: 'revocations', entries: [] });
  });

  it('round-trips a leaving heartbeat without quorum (and without a time, as builds before the region clock send it)', () => {
    const msg: NodeMessage = {
      type: 'heartbeat',
      node: 'n1',
      incarnation: 3,
      address: { host: 'h', port: 1, meshPort: 2 },
      members: [],
      leaving: true,
      quorum: false,
    };
    expect(roundTrip(msg)).toStrictEqual(msg);
  });

  describe('requests', () => {
    it('round-trips sub', () => {
      const msg: NodeMessage = { type: 'sub', rid: 1, channel: 'app:chat' };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it("round-trips a TokenRequest nonce's keeping", () => {
      const msg: NodeMessage = { type: 'nonce', rid: 9, key: 'app.root:0123456789abcdef', forMs: 120_000 };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips sub with what it saw and where it reaches back to, and reach', () => {
      const reach = [
        { region: 'us', epoch: 'usep', seq: 9 },
        { region: 'ap', epoch: 'apep', seq: 2 ** 40 },
      ];
      for (const msg of [
        { type: 'sub', rid: 1, channel: 'app:chat', seen: { epoch: 'e', serial: 4 }, reach },
        { type: 'reach', rid: 2, channel: 'app:chat', origins: reach },
      ] as NodeMessage[]) {
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips the life of the node a request is for, and leaves it out where it names none', () => {
      const msg: NodeMessage = { type: 'sub', rid: 1, channel: 'app:chat', toIncarnation: 1796402285692 };
      expect(roundTrip(msg)).toStrictEqual(msg);
      expect(roundTrip({ type: 'sub', rid: 1, channel: 'app:chat', toIncarnation: 0 })).toStrictEqual({ type: 'sub', rid: 1, channel: 'app:chat' });
    });

    it('round-trips a hold, a leave at once and a stay, with and without the connection\'s version', () => {
      for (const msg of [
        { type: 'hold', rid: 3, channel: 'app:chat', connectionId: 'c1', leaveInMs: 15_000 },
        { type: 'hold', rid: 4, channel: 'app:chat', connectionId: 'c1', leaveInMs: 0, atOnce: true, since: NOW - 5_000 },
        { type: 'hold', rid: 5, channel: 'app:chat', connectionId: 'c1', leaveInMs: null, since: NOW },
      ] as NodeMessage[]) {
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips publish with text, binary and bare messages', () => {
      const msg: NodeMessage = {
        type: 'publish',
        rid: 2,
        channel: 'app:chat',
        messages: [textMessage, binaryMessage, bareMessage],
      };
      const back = roundTrip(msg);
      expect(back).toStrictEqual(msg);
      if (back.type !== 'publish') throw new Error('wrong type');
      expect(Buffer.isBuffer(back.messages[1]!.data)).toBe(true);
      expect(back.messages[2]).toStrictEqual({ id: 'bare', timestamp: NOW });
    });

    it('round-trips publish with the id of the publish it must follow', () => {
      const msg: NodeMessage = { type: 'publish', rid: 12, channel: 'app:chat', messages: [bareMessage], after: 'conn:6:0' };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips range', () => {
      const msg: NodeMessage = { type: 'range', rid: 3, channel: 'app:chat', epoch: 'ep1', after: 10, upto: 2 ** 40 };
      expect(roundTrip(msg)).toStrictEqual(msg);
      const capped: NodeMessage = { ...msg, maxBytes: 16 * 1024 * 1024 };
      expect(roundTrip(capped)).toStrictEqual(capped);
    });

    it('round-trips vectorRange, with and without the region the client comes from', () => {
      const origins = [
        { region: 'us', epoch: 'usep', seq: 9 },
        { region: 'ap', epoch: 'apep', seq: 2 ** 40 },
      ];
      const msg: NodeMessage = { type: 'vectorRange', rid: 3, channel: 'app:chat', origins, upto: 12, from: 'us' };
      expect(roundTrip(msg)).toStrictEqual(msg);
      const { from: _, ...without } = msg;
      expect(roundTrip(without)).toStrictEqual(without);
      const capped: NodeMessage = { ...msg, maxBytes: 16 * 1024 * 1024 };
      expect(roundTrip(capped)).toStrictEqual(capped);
    });

    it('round-trips history with every query field', () => {
      const msg: NodeMessage = {
        type: 'history',
        rid: 4,
        channel: 'app:chat',
        query: {
          start: NOW - 60_000,
          end: NOW,
          direction: 'forwards',
          limit: 100,
          cursor: 17,
          untilSerial: 40,
          epoch: 'ep1',
          kind: 'presence',
        },
      };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips history with a minimal query, setting no absent field', () => {
      const msg: NodeMessage = {
        type: 'history',
        rid: 5,
        channel: 'app:chat',
        query: { direction: 'backwards', limit: 1, kind: 'message' },
      };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips history with zero bounds and cursor, keeping them distinct from absent', () => {
      const msg: NodeMessage = {
        type: 'history',
        rid: 6,
        channel: 'app:chat',
        query: { start: 0, end: 0, cursor: 0, untilSerial: 0, direction: 'backwards', limit: 10, kind: 'message' },
      };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips replicate with message and presence entries', () => {
      const msg: NodeMessage = {
        type: 'replicate',
        rid: 7,
        channel: 'app:chat',
        epoch: 'ep1',
        entries,
        holds: [
          { connectionId: 'conn2', host: null, leaveAt: NOW + 15000 },
          { connectionId: 'conn3', host: 'n1', leaveAt: null, since: NOW - 1000, after: 12 },
        ],
      };
      expect(roundTrip(msg)).toStrictEqual(msg);
      // Asked to send the batch on to other regions (replication.ts).
      const forward: NodeMessage = { ...msg, forward: true };
      expect(roundTrip(forward)).toStrictEqual(forward);
    });

    it.each(['replica', 'handoff'] as const)('round-trips sync as %s with a whole snapshot', (role) => {
      const msg: NodeMessage = { type: 'sync', rid: 8, channel: 'app:chat', snapshot, role };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it("sends a snapshot's entries as one LogEntryList, and still reads them sent one by one (an older node)", () => {
      const msg: NodeMessage = { type: 'sync', rid: 8, channel: 'app:chat', snapshot, role: 'replica' };
      const env = pb.Envelope.decode(encodeNodeMessage(msg));
      const body = env.msg?.$case === 'request' ? env.msg.request.body : undefined;
      const sent = body?.$case === 'sync' ? body.sync.snapshot! : null;
      expect(sent?.entries).toEqual([]);
      expect(entryListCodec.decodeLogEntryList(sent!.entryList)).toStrictEqual(entries);
      // As a node before entry_list sent it: the entries as repeated LogEntry messages.
      sent!.entries = pb.LogEntryList.decode(sent!.entryList).entries;
      sent!.entryList = Buffer.alloc(0);
      expect(decodeNodeMessage(pb.Envelope.encode(env).finish())).toStrictEqual(msg);
    });

    it('round-trips sync with an empty snapshot', () => {
      const empty: ChannelSnapshot = {
        key: 'app:x',
        epoch: 'e',
        term: 0,
        base: 0,
        localSeq: 0,
        origins: [],
        lastStoredAt: NOW,
        entries: SnapshotEntries.none,
        dedup: SnapshotDedup.none,
        wasMaster: false,
        subscribers: [],
        presence: [],
      };
      const msg: NodeMessage = { type: 'sync', rid: 9, channel: 'app:x', snapshot: empty, role: 'replica' };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it.each([true, false])('round-trips claim with probe %s', (probe) => {
      const msg: NodeMessage = { type: 'claim', rid: 10, channel: 'app:chat', probe };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips the nodes a claim asks (and leaves them out when none were said)', () => {
      const msg: NodeMessage = { type: 'claim', rid: 10, channel: 'app:chat', probe: false, asked: ['n2', 'n3'] };
      expect(roundTrip(msg)).toStrictEqual(msg);
      expect(roundTrip({ type: 'claim', rid: 10, channel: 'app:chat', probe: false, asked: [] })).toStrictEqual({ type: 'claim', rid: 10, channel: 'app:chat', probe: false });
    });

    it('round-trips a probe that asks for the ids a node delivered last', () => {
      const msg: NodeMessage = { type: 'claim', rid: 10, channel: 'app:chat', probe: true, recent: true };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips status', () => {
      const msg: NodeMessage = { type: 'status', rid: 11, channel: 'app:chat' };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it("round-trips replicate with positions in other regions' streams", () => {
      const msg: NodeMessage = { type: 'replicate', rid: 15, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], origins: [{ region: 'us', epoch: 'us1', seq: 57 }] };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips replicate with what streams must reach back to, also when that became nothing', () => {
      for (const reach of [[{ region: 'us', epoch: 'us1', seq: 4 }], []]) {
        const msg: NodeMessage = { type: 'replicate', rid: 17, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], reach };
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips replicate and sync with where lost messages were signalled', () => {
      const gaps = [
        { serial: 12, error: { code: 90003, statusCode: 400, message: 'messages from region us were lost' } },
        { serial: 40, error: { code: 90003, statusCode: 400, message: 'again' } },
      ];
      const msg: NodeMessage = { type: 'replicate', rid: 18, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], gaps };
      expect(roundTrip(msg)).toStrictEqual(msg);
      const sync: NodeMessage = { type: 'sync', rid: 19, channel: 'app:chat', snapshot: { ...snapshot, gaps }, role: 'handoff' };
      expect(roundTrip(sync)).toStrictEqual(sync);
    });

    it('round-trips replicate with the nodes the replica broadcasts to, and what it says first', () => {
      const discontinuity = { code: 90003, statusCode: 400, message: 'messages from region us were lost' };
      for (const extra of [{ broadcastTo: ['n2', 'n3'] }, { broadcastTo: ['n3'], discontinuity }]) {
        const msg: NodeMessage = { type: 'replicate', rid: 20, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], ...extra };
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips replicate with the interest start, and with its end (0)', () => {
      for (const interestSince of [1_796_000_000_123, 0]) {
        const msg: NodeMessage = { type: 'replicate', rid: 16, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], interestSince };
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips replicate with the lifecycle events announced, and with none (all 0: not absent)', () => {
      for (const lifecycle of [
        { region: 1_796_000_000_123, global: 1_795_000_000_000, regionEnded: 1_790_000_000_000, globalEnded: 1_789_000_000_000, untold: 15 },
        { region: 0, global: 0, regionEnded: 0, globalEnded: 0, untold: 0 },
      ]) {
        const msg: NodeMessage = { type: 'replicate', rid: 19, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], lifecycle };
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it("round-trips replicate with other regions' interest, and with none (sent whole: empty is not absent)", () => {
      for (const remoteInterest of [[{ region: 'us', since: 1_796_000_000_123 }, { region: 'ap', since: 5 }], []]) {
        const msg: NodeMessage = { type: 'replicate', rid: 18, channel: 'app:chat', epoch: 'ep1', entries: [], holds: [], remoteInterest };
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips remoteInterest, with the regions the master keeps and without', () => {
      for (const msg of [
        { type: 'remoteInterest', channel: 'app:chat', regions: [{ region: 'us', since: 1_796_000_000_123 }] },
        { type: 'remoteInterest', channel: 'app:chat', regions: [], keep: ['us', 'ap'] },
      ] as NodeMessage[]) {
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips replayWanted, after a seq or (a start) since a time, and originHeads', () => {
      for (const msg of [
        { type: 'replayWanted', channel: 'app:chat', region: 'us', epoch: 'ep1', afterSeq: 40 },
        { type: 'replayWanted', channel: 'app:chat', region: 'us', epoch: '', afterSeq: 0, since: 1_796_000_000_123 },
        { type: 'originHeads', region: 'us', heads: [{ channel: 'app:a', epoch: 'ep1', seq: 7 }, { channel: 'app:b', epoch: 'ep2', seq: 1 }] },
        { type: 'originHeads', region: 'us', heads: [] },
      ] as NodeMessage[]) {
        expect(roundTrip(msg)).toStrictEqual(msg);
      }
    });

    it('round-trips replayLocal, after a seq or (a start) since a time', () => {
      const after: NodeMessage = { type: 'replayLocal', rid: 13, channel: 'app:chat', epoch: 'ep1', afterSeq: 40 };
      expect(roundTrip(after)).toStrictEqual(after);
      const since: NodeMessage = { type: 'replayLocal', rid: 14, channel: 'app:chat', epoch: '', afterSeq: 0, since: 1_796_000_000_123 };
      expect(roundTrip(since)).toStrictEqual(since);
    });

    it.each([
      [{ count: 2, xor: 0xdeadbeef, sum: 0xffffffff }],
      [{ count: 0, xor: 0, sum: 0 }],
    ])('round-trips subAudit with %j', (digest) => {
      const msg: NodeMessage = { type: 'subAudit', rid: 12, ...digest };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });

    it('round-trips interestList, for the audit and for a page of channel names', () => {
      const audit: NodeMessage = { type: 'interestList', rid: 15, all: true };
      expect(roundTrip(audit)).toStrictEqual(audit);
      const first: NodeMessage = { type: 'interestList', rid: 16, all: true, names: { appId: 'app', prefix: '', limit: 101 } };
      expect(roundTrip(first)).toStrictEqual(first);
      const next: NodeMessage = { type: 'interestList', rid: 17, all: true, names: { appId: 'app', prefix: 'ch-', after: 'ch-b', limit: 6 } };
      expect(roundTrip(next)).toStrictEqual(next);
    });
  });

  describe('replies', () => {
    const bodies: [string, ReplyBody][] = [
      [
        'subscribed',
        {
          kind: 'subscribed',
          epoch: 'ep1',
          serial: 45,
          channelSerial: 'eu~ep1~19',
          presence: [{ id: 'c:1:0', action: 2, clientId: 'bob', connectionId: 'c', timestamp: NOW }],
        },
      ],
      ['subscribed with its term', { kind: 'subscribed', epoch: 'ep1', serial: 45, channelSerial: 'eu~ep1~19', presence: [], term: NOW + 3 }],
      ['members', { kind: 'members', members: [{ id: 'c:1:0', action: 1, clientId: 'bob', connectionId: 'c', data: 'd', timestamp: NOW }] }],
      ['published', { kind: 'published', serials: ['01764000000000-11@eu:ep1', '01764000000000-12@eu:ep1'], epoch: 'ep1' }],
      ['published with no serials', { kind: 'published', serials: [], epoch: 'ep1' }],
      ['entries', { kind: 'entries', entries, more: true }],
      ['entries with none', { kind: 'entries', entries: [], more: false }],
      ['entries, crossing where lost messages were signalled', { kind: 'entries', entries, more: false, gaps: [{ serial: 45, error: { code: 90003, statusCode: 400, message: 'lost' } }] }],
      [
        'entries, crossing where an origin named lost messages',
        { kind: 'entries', entries, more: false, gaps: [{ serial: 45, error: { code: 90003, statusCode: 400, message: 'lost' }, origin: { region: 'us', epoch: 'usep', seq: 2 ** 40 } }] },
      ],
      ['vector', { kind: 'vector', entries, gap: null }],
      ['vector with a gap', { kind: 'vector', entries: [], gap: 'us' }],
      ['vector crossing a loss', { kind: 'vector', entries, gap: null, lost: { code: 90003, statusCode: 400, message: 'lost' } }],
      ['ok', { kind: 'ok' }],
      ['ok, forwarded', { kind: 'ok', forwarded: true }],
      ['ok, broadcast', { kind: 'ok', broadcast: true }],
      ['ok, forwarded and broadcast', { kind: 'ok', forwarded: true, broadcast: true }],
      [
        'interest, a channel another region wants (with its head) and one no region wants',
        {
          kind: 'interest',
          mastered: [
            { channel: 'app:chat', on: true, since: NOW, remote: [{ region: 'us', since: NOW - 5 }], head: { epoch: 'ep1', seq: 42 } },
            { channel: 'app:quiet', on: false, since: 0, remote: [] },
          ],
        },
      ],
      ['snapshot', { kind: 'snapshot', snapshot }],
      ['no snapshot', { kind: 'snapshot', snapshot: null }],
      [
        'no snapshot, with the ids a node delivered last (a claim asked: recent-ids.ts)',
        { kind: 'snapshot', snapshot: null, seen: { epoch: 'e', serial: 4 }, recent: [{ key: 'c1:0:0', serial: '01@e~1:0' }, { key: '\u0001c2:3:0', serial: 's' }] },
      ],
      [
        'status',
        {
          kind: 'status',
          status: {
            channel: 'app:chat',
            master: 'n1',
            replica: 'n2',
            epoch: 'ep1',
            serial: 45,
            channelSerial: 'eu~ep1~19',
            retained: 5,
            subscriberNodes: ['n1', 'n3'],
            remoteInterest: [{ region: 'us', since: 1_700_000_000_000 }],
            presenceHosts: [
              { host: 'n1', members: 3, leaving: 0 },
              { host: 'n3', members: 2, leaving: 2 },
            ],
          },
        },
      ],
      [
        'status without a replica',
        {
          kind: 'status',
          status: {
            channel: 'app:chat',
            master: 'n1',
            replica: null,
            epoch: 'ep1',
            serial: 0,
            channelSerial: 'eu~ep1~0',
            retained: 0,
            subscriberNodes: [],
            remoteInterest: [],
            presenceHosts: [],
          },
        },
      ],
      ['no status', { kind: 'status', status: null }],
      ['error', { kind: 'error', error: { code: 40160, statusCode: 401, message: 'not permitted' } }],
      ['redirect', { kind: 'redirect', owner: 'n3' }],
      ['redirect to nobody', { kind: 'redirect', owner: null }],
      ['retry', { kind: 'retry', reason: 'publish arrived before conn:6:0' }],
      ['subAudit that differs', { kind: 'subAudit', match: false, channels: ['app:chat'] }],
      ['subAudit that differs with nothing subscribed', { kind: 'subAudit', match: false, channels: [] }],
      ['subAudit that matches', { kind: 'subAudit', match: true, channels: [] }],
      ['channelNames', { kind: 'channelNames', names: ['ch-a', 'ch-b'] }],
      ['no channelNames', { kind: 'channelNames', names: [] }],
      ['ingested', { kind: 'ingested', seq: 12, replayAfter: null }],
      ['ingested, wanting a replay', { kind: 'ingested', seq: 12, replayAfter: 9 }],
      ['ingested, wanting a start', { kind: 'ingested', seq: 0, replayAfter: null, startSince: 1_796_000_000_123 }],
    ];

    it.each(bodies)('round-trips %s', (_what, body) => {
      const msg: NodeMessage = { type: 'reply', rid: 77, body };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });
  });

  describe('one-way messages', () => {
    it('round-trips a broadcast with message and presence entries, binary data and extras', () => {
      const msg: NodeMessage = { type: 'broadcast', channel: 'app:chat', epoch: 'ep1', entries };
      const back = roundTrip(msg);
      expect(back).toStrictEqual(msg);
      if (back.type !== 'broadcast') throw new Error('wrong type');
      const bin = back.entries[1]!;
      const pres = back.entries[3]!;
      expect(bin.kind === 'message' && Buffer.isBuffer(bin.message.data)).toBe(true);
      expect(pres.kind === 'presence' && Buffer.from(pres.presence.data as Uint8Array).toString()).toBe('binary presence');
    });

    it('round-trips a broadcast of many large entries, whose entry list the mesh sends by reference', () => {
      const big = Array.from({ length: 300 }, (_, i): LogEntry => ({ ...binaryEntry, serial: i + 1, message: { id: `big${i}`, data: Buffer.alloc(700, i), timestamp: NOW } }));
      const msg: NodeMessage = { type: 'broadcast', channel: 'app:chat', epoch: 'ep1', entries: big };
      expect(roundTrip(msg)).toStrictEqual(msg);
      const chunks = encodeNodeMessageChunks(msg);
      // The envelope's own bytes, then the entry list (over 200 KB) as a piece of its own.
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...chunks.map((c) => c.byteLength))).toBeGreaterThan(200_000);
      expect(chunks[0]!.byteLength).toBeLessThan(64);
    });

    it("reads an entry list as a view into the frame (no copy), and binary data as a copy that does not keep the frame", () => {
      const frame = Uint8Array.from(encodeNodeMessage({ type: 'broadcast', channel: 'app:chat', epoch: 'ep1', entries }));
      const env = pb.Envelope.decode(frame);
      if (env.msg?.$case !== 'broadcast') throw new Error('wrong type');
      expect(env.msg.broadcast.entries.buffer).toBe(frame.buffer);
      const back = decodeNodeMessage(frame);
      if (back.type !== 'broadcast' || back.entries[1]!.kind !== 'message') throw new Error('wrong type');
      expect((back.entries[1].message.data as Buffer).buffer).not.toBe(frame.buffer);
      // A publish's binary data (the generated codec's field, not an entry list's) is copied out too.
      const pubFrame = Uint8Array.from(encodeNodeMessage({ type: 'publish', rid: 2, channel: 'app:chat', messages: [binaryMessage] }));
      const pub = decodeNodeMessage(pubFrame);
      if (pub.type !== 'publish') throw new Error('wrong type');
      expect(Buffer.from(pub.messages[0]!.data as Buffer).equals(binaryMessage.data as Buffer)).toBe(true);
      expect((pub.messages[0]!.data as Buffer).buffer).not.toBe(pubFrame.buffer);
    });

    it('carries only the viewed bytes of binary data that is a window on a larger buffer', () => {
      const whole = Buffer.from([9, 9, 1, 2, 3, 9, 9]);
      const entry: LogEntry = { ...binaryEntry, message: { id: 'w', data: whole.subarray(2, 5), timestamp: 1 } };
      const back = roundTrip({ type: 'broadcast', channel: 'c', epoch: 'e', entries: [entry] });
      if (back.type !== 'broadcast' || back.entries[0]!.kind !== 'message') throw new Error('wrong type');
      expect([...(back.entries[0].message.data as Uint8Array)]).toEqual([1, 2, 3]);
    });

    it('round-trips an empty string as data, distinct from no data', () => {
      const entry: LogEntry = { ...bareEntry, message: { id: 'e', data: '', timestamp: 1 } };
      const back = roundTrip({ type: 'broadcast', channel: 'c', epoch: 'e', entries: [entry] });
      if (back.type !== 'broadcast' || back.entries[0]!.kind !== 'message') throw new Error('wrong type');
      expect(back.entries[0].message.data).toBe('');
    });

    it('round-trips unsub', () => {
      const msg: NodeMessage = { type: 'unsub', channel: 'app:chat' };
      expect(roundTrip(msg)).toStrictEqual(msg);
    });
  });

  it('rejects bytes that hold no message', () => {
    expect(() => decodeNodeMessage(new Uint8Array(0))).toThrow();
  });
});
