import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RecordFormatError,
  RecordWriter,
  parseRecordLine,
  readRecord,
  readRecordEvents,
  type RecordEvent,
} from '../../../src/chaos/record.js';

const ONE_OF_EACH: RecordEvent[] = [
  { type: 'fault', t: 1000, action: 'partition', target: 'r1-r2', phase: 'start' },
  { type: 'subscribe', t: 1001, region: 'r2', client: 's-r2-0', channel: 'chaos:0' },
  { type: 'subscribe', t: 1001, region: 'r2', client: 's-r2-3', channel: 'chaos:0', filter: { mod: 4, keep: [0, 3] } },
  { type: 'publish', t: 1002, region: 'r1', client: 'p-r1-0', channel: 'chaos:0', publisher: 'p-r1-0', seq: 1, outcome: 'ack', doneAt: 1010 },
  {
    type: 'publish',
    t: 1003,
    region: 'r1',
    client: 'p-r1-0',
    channel: 'chaos:0',
    publisher: 'p-r1-0',
    seq: 2,
    outcome: 'nack',
    doneAt: 1020,
    error: { code: 50003, message: 'timed out "waiting"\nfor ACK' },
  },
  { type: 'publish', t: 1004, region: 'r1', client: 'p-r1-0', channel: 'chaos:0', publisher: 'p-r1-0', seq: 3, outcome: 'unknown' },
  { type: 'deliver', t: 1030, region: 'r2', client: 's-r2-0', channel: 'chaos:0', publisher: 'p-r1-0', seq: 1, sentAt: 1002, channelSerial: 'r1~0~17' },
  { type: 'continuity', t: 1040, region: 'r2', client: 's-r2-0', channel: 'chaos:0', resumed: false, error: { code: 80008, message: 'lost' } },
  { type: 'unsubscribe', t: 1050, region: 'r2', client: 's-r2-0', channel: 'chaos:0' },
  { type: 'connection', t: 1055, region: 'r1', client: 'p-r1-0', connectionId: 'c2', previous: 'c1', error: { code: 80008, message: 'unable to recover' } },
  { type: 'state', t: 1056, region: 'r1', client: 'p-r1-0', state: 'disconnected', error: { code: 80003, message: 'cut off' } },
  { type: 'state', t: 1058, region: 'r1', client: 'p-r1-0', state: 'connected' },
  { type: 'fault', t: 1060, action: 'partition', target: 'r1-r2', phase: 'end' },
  { type: 'presence', t: 1065, region: 'r2', observer: 'rest', channel: 'chaos:0', expected: ['r1-mem0 c9'], seen: ['r1-mem0 c9'], convergedAfterMs: 500 },
  { type: 'token', t: 1066, region: 'r1', client: 'p-r1-0', use: 'request', outcome: 'issued' },
  { type: 'token', t: 1067, region: 'r1', client: 'p-r1-0', use: 'replay', outcome: 'refused', error: { code: 40105, message: 'nonce value replayed' } },
  { type: 'revocation', t: 1068, region: 'r2', clientId: 'probe-0', nodes: ['r1-1', 'r2-1'] },
  { type: 'revoked', t: 1069, region: 'r1', node: 'r1-1', clientId: 'probe-0' },
  { type: 'end', t: 1070 },
];

describe('RecordWriter and readRecord', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-record-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('read back every kind of event exactly as written, in order', async () => {
    const path = join(dir, 'record.jsonl');
    const w = new RecordWriter(path);
    for (const e of ONE_OF_EACH) w.write(e);
    await w.close();
    expect(await readRecordEvents(path)).toEqual(ONE_OF_EACH);
    const text = await readFile(path, 'utf8');
    expect(text.split('\n')).toHaveLength(ONE_OF_EACH.length + 1);
  });

  it('stream a record larger than one read chunk without losing a line at the chunk edges', async () => {
    const path = join(dir, 'big.jsonl');
    const w = new RecordWriter(path);
    const n = 20_000;
    for (let i = 1; i <= n; i++) {
      w.write({ type: 'deliver', t: 1_700_000_000_000 + i, region: 'r1', client: `s-${i % 7}`, channel: 'chaos:é', publisher: 'p-ü', seq: i, sentAt: 1_700_000_000_000 });
    }
    await w.close();
    let count = 0;
    let lastSeq = 0;
    const result = await readRecord(path, (e) => {
      count++;
      if (e.type === 'deliver') {
        expect(e.seq).toBe(lastSeq + 1);
        expect(e.channel).toBe('chaos:é');
        lastSeq = e.seq;
      }
    });
    expect(result).toEqual({ events: n, truncatedTail: false });
    expect(count).toBe(n);
  });

  it('write to any stream, and flush pushes a partial batch through', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const w = new RecordWriter(out);
    w.write({ type: 'end', t: 5 });
    expect(chunks.join('')).toBe('');
    w.flush();
    expect(chunks.join('')).toBe('{"type":"end","t":5}\n');
    await w.close();
  });

  it('refuse to write after close', async () => {
    const w = new RecordWriter(join(dir, 'closed.jsonl'));
    await w.close();
    expect(() => w.write({ type: 'end', t: 1 })).toThrow(/after close/);
  });

  it('skip blank lines and carriage returns', async () => {
    const text = '{"type":"end","t":1}\r\n\n  \n{"type":"end","t":2}\n';
    expect(await readRecordEvents(Readable.from([Buffer.from(text)]))).toEqual([
      { type: 'end', t: 1 },
      { type: 'end', t: 2 },
    ]);
  });

  it('skip a last line cut short by a killed writer and say so', async () => {
    const path = join(dir, 'cut.jsonl');
    await writeFile(path, '{"type":"end","t":1}\n{"type":"deliver","t":2,"reg');
    const seen: RecordEvent[] = [];
    expect(await readRecord(path, (e) => seen.push(e))).toEqual({ events: 1, truncatedTail: true });
    expect(seen).toEqual([{ type: 'end', t: 1 }]);
  });

  it('reject a bad line in the middle, naming its line number', async () => {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, '{"type":"end","t":1}\nnot json\n{"type":"end","t":3}\n');
    await expect(readRecord(path, () => {})).rejects.toThrow(/record line 2: not valid JSON/);
  });
});

describe('parseRecordLine', () => {
  it('names the missing or mistyped field', () => {
    expect(() => parseRecordLine('{"type":"deliver","t":1,"region":"r1","client":"c","channel":"x","publisher":"p","seq":"1","sentAt":0}', 4)).toThrow(
      'record line 4: deliver.seq must be a number',
    );
    expect(() => parseRecordLine('{"type":"publish","t":1,"region":"r1","client":"c","channel":"x","publisher":"p","seq":1,"outcome":"ok"}', 1)).toThrow(
      /publish.outcome must be one of ack, nack, unknown/,
    );
    expect(() => parseRecordLine('{"type":"fault","t":1,"action":"kill","target":"n1","phase":"begin"}', 1)).toThrow(/fault.phase/);
    expect(() => parseRecordLine('{"type":"continuity","t":1,"region":"r1","client":"c","channel":"x","resumed":true}', 1)).toThrow(/resumed must be false/);
    expect(() => parseRecordLine('{"type":"publish","t":1,"region":"r1","client":"c","channel":"x","publisher":"p","seq":1,"outcome":"nack","error":"boom"}', 1)).toThrow(
      /publish.error must be/,
    );
    expect(() => parseRecordLine('{"type":"connection","t":1,"region":"r1","client":"p","connectionId":"c2"}', 5)).toThrow('record line 5: connection.previous must be a string');
    expect(() => parseRecordLine('{"type":"state","t":1,"region":"r1","client":"p"}', 8)).toThrow('record line 8: state.state must be a string');
    expect(() => parseRecordLine('{"type":"presence","t":1,"region":"r1","observer":"rest","channel":"x","expected":["m c"],"seen":"m c","convergedAfterMs":null}', 6)).toThrow(
      'record line 6: presence.seen must be an array of strings',
    );
    expect(() => parseRecordLine('{"type":"presence","t":1,"region":"r1","observer":"rest","channel":"x","expected":[],"seen":[]}', 7)).toThrow(
      'record line 7: presence.convergedAfterMs must be a number',
    );
    expect(() => parseRecordLine('{"type":"token","t":1,"region":"r1","client":"p","use":"again","outcome":"issued"}', 3)).toThrow(
      'record line 3: token.use must be one of request, replay',
    );
    expect(() => parseRecordLine('{"type":"token","t":1,"region":"r1","client":"p","use":"replay","outcome":"taken"}', 4)).toThrow(
      'record line 4: token.outcome must be one of issued, refused, failed',
    );
    expect(() => parseRecordLine('{"type":"revocation","t":1,"region":"r1","clientId":"p","nodes":"r1-1"}', 5)).toThrow(
      'record line 5: revocation.nodes must be an array of strings',
    );
    expect(() => parseRecordLine('{"type":"revoked","t":1,"region":"r1","clientId":"p"}', 6)).toThrow('record line 6: revoked.node must be a string');
    expect(() => parseRecordLine('{"type":"subscribe","t":1,"region":"r1","client":"c","channel":"x","filter":{"mod":0,"keep":[0]}}', 7)).toThrow(
      'record line 7: subscribe.filter must be {mod: a positive integer, keep: integers}',
    );
    expect(() => parseRecordLine('{"t":1}', 9)).toThrow('record line 9: unknown type undefined');
    expect(() => parseRecordLine('{"type":"end"}', 2)).toThrow('record line 2: end.t must be a number');
    expect(() => parseRecordLine('[1]', 3)).toThrow(RecordFormatError);
  });

  it('keeps fields it does not know', () => {
    expect(parseRecordLine('{"type":"end","t":1,"note":"drained"}', 1)).toEqual({ type: 'end', t: 1, note: 'drained' });
  });
});
