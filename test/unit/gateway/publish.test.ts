import { describe, expect, it } from 'vitest';
import { validateTopology, type Limits } from '../../../src/config/topology.js';
import { buildMessages, type BuildOptions } from '../../../src/gateway/publish.js';
import { codeOf } from '../../helpers/errors.js';

const limits: Limits = validateTopology({
  deployment: 't',
  apps: [{ id: 'a', keys: [{ id: 'k', secret: 'secret123' }] }],
  regions: [{ name: 'r', nodes: [{ name: 'n', port: 1000, meshPort: 1001 }] }],
}).limits;

const NOW = 1_700_000_000_000;

function opts(o: Partial<BuildOptions> = {}): BuildOptions {
  return { limits, clientId: null, idBase: 'conn1:5', connectionId: 'conn1', now: NOW, ...o };
}

describe('buildMessages', () => {
  it('gives messages without an id the id base and their index', () => {
    const out = buildMessages([{ name: 'a' }, { name: 'b', id: 'mine' }, { name: 'c' }], opts());
    expect(out.map((m) => m.id)).toEqual(['conn1:5:0', 'mine', 'conn1:5:2']);
  });

  it('stamps the connection id and the current time', () => {
    const [m] = buildMessages([{ name: 'a', data: 'x' }], opts());
    expect(m).toStrictEqual({ id: 'conn1:5:0', name: 'a', data: 'x', connectionId: 'conn1', timestamp: NOW });
  });

  it('keeps a timestamp the client gave', () => {
    expect(buildMessages([{ timestamp: 123 }], opts())[0]!.timestamp).toBe(123);
  });

  it('sets no connection id on REST publishes that have none', () => {
    const [m] = buildMessages([{ name: 'a' }], opts({ connectionId: undefined }));
    expect(m).not.toHaveProperty('connectionId');
  });

  it("refuses delta mode's fields from a publisher: extras.delta (40030) and a vcdiff encoding (40013)", () => {
    expect(codeOf(() => buildMessages([{ data: 'x', extras: { delta: { from: 'a:0:0', format: 'vcdiff' } } }], opts()))).toBe(40030);
    expect(codeOf(() => buildMessages([{ data: 'AQID', encoding: 'utf-8/vcdiff/base64' }], opts()))).toBe(40013);
    // As the SDK reads a step (unanchored): these are vcdiff to it too.
    for (const encoding of ['vcdiff+x', 'utf-8/ vcdiff', '.vcdiff', 'vcdiff ']) expect(codeOf(() => buildMessages([{ data: 'x', encoding }], opts()))).toBe(40013);
    // Other extras, and encodings that only look alike, are a publisher's to use.
    expect(buildMessages([{ data: 'x', encoding: 'vcdiff-like', extras: { deltas: 1 } }], opts())).toHaveLength(1);
  });

  it('normalizes data and keeps extras', () => {
    const [m] = buildMessages([{ data: 'AQID', encoding: 'base64', extras: { headers: { a: 'b' } } }], opts());
    expect([...(m!.data as Uint8Array)]).toEqual([1, 2, 3]);
    expect(m).not.toHaveProperty('encoding');
    expect(m!.extras).toEqual({ headers: { a: 'b' } });
  });

  it('throws 40031 when a message has no id and there is no id base', () => {
    expect(codeOf(() => buildMessages([{ name: 'a' }], opts({ idBase: null })))).toBe(40031);
    expect(buildMessages([{ id: 'x' }], opts({ idBase: null }))[0]!.id).toBe('x');
  });

  describe('client ids', () => {
    it('lets a wildcard publisher name any clientId and stamps none', () => {
      const out = buildMessages([{ clientId: 'alice' }, { clientId: 'bob' }, { name: 'anon' }], opts({ clientId: '*' }));
      expect(out.map((m) => m.clientId)).toEqual(['alice', 'bob', undefined]);
      expect(out[2]).not.toHaveProperty('clientId');
    });

    it('lets an identified publisher name its own clientId', () => {
      expect(buildMessages([{ clientId: 'alice' }], opts({ clientId: 'alice' }))[0]!.clientId).toBe('alice');
    });

    it('stamps an identified publisher\'s clientId on messages that name none', () => {
      expect(buildMessages([{ name: 'x' }], opts({ clientId: 'alice' }))[0]!.clientId).toBe('alice');
    });

    it('refuses a clientId other than an identified publisher\'s with 40012', () => {
      expect(codeOf(() => buildMessages([{ clientId: 'mallory' }], opts({ clientId: 'alice' })))).toBe(40012);
    });

    it('refuses any clientId from an anonymous publisher with 40012', () => {
      expect(codeOf(() => buildMessages([{ clientId: 'alice' }], opts({ clientId: null })))).toBe(40012);
    });

    it('leaves an anonymous publisher\'s messages without a clientId', () => {
      expect(buildMessages([{ name: 'x' }], opts({ clientId: null }))[0]).not.toHaveProperty('clientId');
    });

    it('refuses the clientId "*" on a message, whoever publishes it, with 40012', () => {
      for (const clientId of ['*', 'alice', null]) {
        expect(codeOf(() => buildMessages([{ clientId: '*' }], opts({ clientId })))).toBe(40012);
      }
    });

    it('refuses the whole batch when one message has a bad clientId', () => {
      expect(codeOf(() => buildMessages([{ clientId: 'alice' }, { clientId: 'eve' }], opts({ clientId: 'alice' })))).toBe(40012);
    });
  });

  describe('size', () => {
    it('accepts a message of exactly maxMessageSize', () => {
      expect(buildMessages([{ data: 'x'.repeat(limits.maxMessageSize) }], opts())).toHaveLength(1);
    });

    it('refuses a message over maxMessageSize with 40009', () => {
      expect(codeOf(() => buildMessages([{ data: 'x'.repeat(limits.maxMessageSize + 1) }], opts()))).toBe(40009);
    });

    it('counts name, clientId and extras towards the size', () => {
      const data = 'x'.repeat(limits.maxMessageSize - 4);
      expect(buildMessages([{ name: 'ab', clientId: 'cd', data }], opts({ clientId: '*' }))).toHaveLength(1);
      expect(codeOf(() => buildMessages([{ name: 'abc', clientId: 'cd', data }], opts({ clientId: '*' })))).toBe(40009);
    });

    it('counts binary data by its bytes, not its base64 text', () => {
      const bytes = Buffer.alloc(limits.maxMessageSize);
      expect(buildMessages([{ data: bytes.toString('base64'), encoding: 'base64' }], opts())).toHaveLength(1);
    });

    it('refuses a batch whose total is over maxMessageSize with 40009', () => {
      const half = 'x'.repeat(limits.maxMessageSize / 2 + 1);
      expect(codeOf(() => buildMessages([{ data: half }, { data: half }], opts()))).toBe(40009);
    });

    it('keeps to the limits it is given', () => {
      const small = { ...limits, maxMessageSize: 10 };
      expect(codeOf(() => buildMessages([{ data: 'x'.repeat(11) }], opts({ limits: small })))).toBe(40009);
      expect(buildMessages([{ data: 'x'.repeat(10) }], opts({ limits: small }))).toHaveLength(1);
    });
  });

  describe('shape', () => {
    it.each([
      ['an empty array', []],
      ['an object', { name: 'a' }],
      ['a string', 'hello'],
      ['null', null],
      ['undefined', undefined],
    ])('refuses %s with 40000', (_what, raw) => {
      expect(codeOf(() => buildMessages(raw, opts()))).toBe(40000);
    });

    it('refuses a batch with a message that is not an object with 40000', () => {
      expect(codeOf(() => buildMessages([{ name: 'ok' }, 5], opts()))).toBe(40000);
    });

    it('passes field errors through (bad base64 → 40013)', () => {
      expect(codeOf(() => buildMessages([{ data: '!!', encoding: 'base64' }], opts()))).toBe(40013);
    });
  });
});
