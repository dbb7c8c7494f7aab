import { describe, expect, it } from 'vitest';
import { AblyError } from '../../../src/errors.js';
import {
  Capability,
  OPERATIONS,
  covers,
  intersect,
  parseCapability,
  type Operation,
} from '../../../src/auth/capability.js';
import { ablyErrorOf } from '../../helpers/errors.js';


function cap(raw: Record<string, string[]>): Capability {
  return parseCapability(raw);
}

describe('parseCapability', () => {
  it('accepts a capability given as JSON text', () => {
    const c = parseCapability('{"chat:*":["publish","subscribe"]}');
    expect(c.allows('chat:lobby', 'publish')).toBe(true);
    expect(c.allows('chat:lobby', 'subscribe')).toBe(true);
    expect(c.allows('chat:lobby', 'presence')).toBe(false);
  });

  it('accepts a capability given as an object', () => {
    const c = parseCapability({ foo: ['history'] });
    expect(c.raw).toEqual({ foo: ['history'] });
    expect(c.allows('foo', 'history')).toBe(true);
  });

  it.each([
    ['text that is not JSON', '{"chat:*":['],
    ['JSON text of an array', '[["publish"]]'],
    ['JSON text of a string', '"publish"'],
    ['JSON text of null', 'null'],
    ['null', null],
    ['a number', 42],
    ['an array', [['publish']]],
    ['undefined', undefined],
  ])('rejects %s with 40005', (_what, input) => {
    expect(ablyErrorOf(() => parseCapability(input)).code).toBe(40005);
  });

  it('rejects an unknown operation with 40005', () => {
    const e = ablyErrorOf(() => parseCapability({ chat: ['publish', 'shout'] }));
    expect(e.code).toBe(40005);
    expect(e.message).toContain('shout');
  });

  it('rejects a non-string operation with 40005', () => {
    expect(ablyErrorOf(() => parseCapability({ chat: [1] })).code).toBe(40005);
  });

  it('rejects an empty operation list with 40005', () => {
    expect(ablyErrorOf(() => parseCapability({ chat: [] })).code).toBe(40005);
  });

  it('rejects operations that are not an array with 40005', () => {
    expect(ablyErrorOf(() => parseCapability({ chat: 'publish' })).code).toBe(40005);
    expect(ablyErrorOf(() => parseCapability({ chat: { publish: true } })).code).toBe(40005);
  });

  it('rejects an empty resource name with 40005', () => {
    expect(ablyErrorOf(() => parseCapability({ '': ['publish'] })).code).toBe(40005);
  });

  it('accepts every operation Ably defines', () => {
    const c = parseCapability({ x: [...OPERATIONS] });
    for (const op of OPERATIONS) expect(c.allows('x', op)).toBe(true);
  });
});

describe('Capability', () => {
  describe('wildcard resources', () => {
    const star = cap({ '*': ['subscribe'] });

    it('lets "*" match a plain channel', () => {
      expect(star.allows('lobby', 'subscribe')).toBe(true);
    });

    it('lets "*" match a channel of several segments', () => {
      expect(star.allows('a:b:c', 'subscribe')).toBe(true);
    });

    it('does not let "*" match a [meta] resource', () => {
      expect(star.allows('[meta]x', 'subscribe')).toBe(false);
    });

    it('lets "ns:*" match one or more segments after the namespace', () => {
      const c = cap({ 'ns:*': ['publish'] });
      expect(c.allows('ns:a', 'publish')).toBe(true);
      expect(c.allows('ns:a:b', 'publish')).toBe(true);
    });

    it('does not let "ns:*" match the bare namespace', () => {
      const c = cap({ 'ns:*': ['publish'] });
      expect(c.allows('ns', 'publish')).toBe(false);
    });

    it('does not let "ns:*" match another namespace that starts the same', () => {
      const c = cap({ 'ns:*': ['publish'] });
      expect(c.allows('nsx:a', 'publish')).toBe(false);
      expect(c.allows('other:ns:a', 'publish')).toBe(false);
    });

    it('lets a middle "*" match exactly one segment', () => {
      const c = cap({ 'foo:*:baz': ['publish'] });
      expect(c.allows('foo:bar:baz', 'publish')).toBe(true);
      expect(c.allows('foo:bar:bam:baz', 'publish')).toBe(false);
      expect(c.allows('foo:baz', 'publish')).toBe(false);
      expect(c.allows('foo:bar:baz:qux', 'publish')).toBe(false);
    });

    it('treats "foo*" as a literal name, not a prefix', () => {
      const c = cap({ 'foo*': ['publish'] });
      expect(c.allows('foobar', 'publish')).toBe(false);
      expect(c.allows('foo', 'publish')).toBe(false);
      expect(c.allows('foo*', 'publish')).toBe(true);
    });

    it('lets "[*]*" match every resource, qualified ones included', () => {
      const c = cap({ '[*]*': ['subscribe'] });
      expect(c.allows('lobby', 'subscribe')).toBe(true);
      expect(c.allows('a:b:c', 'subscribe')).toBe(true);
      expect(c.allows('[meta]x', 'subscribe')).toBe(true);
      expect(c.allows('[meta]connections:lifecycle', 'subscribe')).toBe(true);
    });

    it('matches a filtered name ([filter]name) by [filter], [*] and [*]* resources only (Ably docs)', () => {
      expect(cap({ '[filter]scoops': ['subscribe'] }).allows('[filter]scoops', 'subscribe')).toBe(true);
      expect(cap({ '[filter]*': ['subscribe'] }).allows('[filter]a:b', 'subscribe')).toBe(true);
      expect(cap({ '[*]scoops': ['subscribe'] }).allows('[filter]scoops', 'subscribe')).toBe(true);
      expect(cap({ '[*]*': ['subscribe'] }).allows('[filter]scoops', 'subscribe')).toBe(true);
      expect(cap({ '*': ['subscribe'] }).allows('[filter]scoops', 'subscribe')).toBe(false);
      expect(cap({ scoops: ['subscribe'] }).allows('[filter]scoops', 'subscribe')).toBe(false);
      expect(cap({ '[filter]scoops': ['subscribe'] }).allows('scoops', 'subscribe')).toBe(false);
      expect(cap({ '[*]scoops': ['subscribe'] }).allows('scoops', 'subscribe')).toBe(true);
      expect(cap({ '[*]scoops': ['subscribe'] }).allows('[filter]other', 'subscribe')).toBe(false);
    });

    it('lets "[meta]*" match [meta] resources but not plain channels', () => {
      const c = cap({ '[meta]*': ['subscribe'] });
      expect(c.allows('[meta]x', 'subscribe')).toBe(true);
      expect(c.allows('x', 'subscribe')).toBe(false);
    });

    it('matches an exact name only to itself', () => {
      const c = cap({ lobby: ['publish'] });
      expect(c.allows('lobby', 'publish')).toBe(true);
      expect(c.allows('lobby:x', 'publish')).toBe(false);
      expect(c.allows('lobb', 'publish')).toBe(false);
    });
  });

  describe('operations', () => {
    it('treats "*" as every operation', () => {
      const c = cap({ chat: ['*'] });
      expect([...c.opsFor('chat')].sort()).toEqual([...OPERATIONS].sort());
    });

    it('grants only the listed operations', () => {
      const c = cap({ chat: ['publish'] });
      expect([...c.opsFor('chat')]).toEqual(['publish']);
      expect(c.allows('chat', 'subscribe')).toBe(false);
    });

    it('unions the operations of every matching resource', () => {
      const c = cap({ '*': ['subscribe'], 'chat:*': ['publish'], 'chat:vip': ['presence'] });
      expect([...c.opsFor('chat:vip')].sort()).toEqual(['presence', 'publish', 'subscribe']);
      expect([...c.opsFor('chat:lobby')].sort()).toEqual(['publish', 'subscribe']);
      expect([...c.opsFor('news')]).toEqual(['subscribe']);
    });

    it('grants nothing on a channel no resource matches', () => {
      const c = cap({ chat: ['*'] });
      expect(c.opsFor('other').size).toBe(0);
    });

    it('gives the same answer when asked again (cached)', () => {
      const c = cap({ 'ns:*': ['publish'] });
      const first = [...c.opsFor('ns:a')];
      expect([...c.opsFor('ns:a')]).toEqual(first);
      expect(c.allows('ns', 'publish')).toBe(false);
      expect(c.allows('ns', 'publish')).toBe(false);
    });

    it('stays correct after its cache has filled and been cleared', () => {
      const c = cap({ 'ns:*': ['publish'] });
      for (let i = 0; i < 1500; i++) c.opsFor(`other:${i}`);
      expect(c.allows('ns:a', 'publish')).toBe(true);
      expect(c.allows('other:3', 'publish')).toBe(false);
    });
  });

  describe('require', () => {
    it('returns quietly when the operation is allowed', () => {
      const c = cap({ chat: ['publish'] });
      expect(() => c.require('chat', 'publish')).not.toThrow();
    });

    it('throws 40160 naming the operation and channel when it is not', () => {
      const c = cap({ chat: ['subscribe'] });
      const e = ablyErrorOf(() => c.require('chat', 'publish'));
      expect(e.code).toBe(40160);
      expect(e.statusCode).toBe(401);
      expect(e.message).toContain('publish');
      expect(e.message).toContain('chat');
    });
  });

  describe('toJSON', () => {
    it('sorts resources and operations', () => {
      const c = cap({ zed: ['subscribe', 'publish'], alpha: ['presence', 'history'] });
      expect(c.toJSON()).toBe('{"alpha":["history","presence"],"zed":["publish","subscribe"]}');
    });
  });
});

describe('covers', () => {
  it.each([
    ['[*]*', 'anything'],
    ['[*]*', '[meta]x'],
    ['[*]*', '[*]*'],
    ['*', 'a'],
    ['*', 'a:b:c'],
    ['*', '*'],
    ['*', 'ns:*'],
    ['ns:*', 'ns:a'],
    ['ns:*', 'ns:a:b'],
    ['ns:*', 'ns:*'],
    ['ns:*', 'ns:a:*'],
    ['ns:*', 'ns:*:x'],
    ['foo:*:baz', 'foo:bar:baz'],
    ['foo:*:baz', 'foo:*:baz'],
    ['a', 'a'],
    ['[meta]*', '[meta]x'],
    ['[*]ns:*', '[filter]ns:a'],
    ['[*]ns:*', 'ns:a'],
    ['[*]a', '[*]a'],
  ])('%s covers %s', (outer, inner) => {
    expect(covers(outer, inner)).toBe(true);
  });

  it.each([
    ['a', '[*]*'],
    ['*', '[*]*'],
    ['*', '[meta]x'],
    ['[meta]*', 'x'],
    ['ns:*', 'ns'],
    ['ns:*', 'other:a'],
    ['ns:a:*', 'ns:*'],
    ['a', '*'],
    ['a', 'b'],
    ['a:b', 'a:*'],
    ['foo:*:baz', 'foo:bar:bam:baz'],
    ['foo:bar:baz', 'foo:*:baz'],
    ['foo:*:baz', 'foo:*'],
    ['foo*', 'foobar'],
    ['[filter]a', '[*]a'],
    ['a', '[filter]a'],
    ['[*]ns:*', '[filter]other'],
  ])('%s does not cover %s', (outer, inner) => {
    expect(covers(outer, inner)).toBe(false);
  });

  it('agrees with matching: whatever a covered pattern allows, the covering one allows too', () => {
    const names = ['a', 'a:b', 'a:b:c', 'ns', 'ns:a', 'ns:a:b', 'foo:bar:baz', '[meta]x', 'x:y', '[filter]a', '[filter]ns:a'];
    const patterns = ['*', 'a', 'a:*', 'a:b', 'ns:*', 'ns:a:*', 'foo:*:baz', '[meta]*', '*:y', '[*]*', '[*]a', '[*]ns:*', '[filter]*', '[filter]ns:a'];
    for (const outer of patterns) {
      for (const inner of patterns) {
        if (!covers(outer, inner)) continue;
        const o = cap({ [outer]: ['publish'] });
        const i = cap({ [inner]: ['publish'] });
        for (const n of names) {
          if (i.allows(n, 'publish')) expect(o.allows(n, 'publish'), `${outer} ⊇ ${inner} at ${n}`).toBe(true);
        }
      }
    }
  });
});

describe('intersect', () => {
  it('cuts a token\'s operations down to the key\'s on the same resource', () => {
    const out = intersect(cap({ 'chat:*': ['publish', 'subscribe'] }), cap({ 'chat:*': ['subscribe'] }));
    expect(out.raw).toEqual({ 'chat:*': ['subscribe'] });
  });

  it('keeps a narrower requested resource that the key\'s wildcard covers', () => {
    const out = intersect(cap({ 'chat:lobby': ['publish'] }), cap({ '*': ['*'] }));
    expect(out.raw).toEqual({ 'chat:lobby': ['publish'] });
  });

  it('narrows a wide requested resource to the key\'s narrower one', () => {
    const out = intersect(cap({ '*': ['*'] }), cap({ 'chat:*': ['publish', 'subscribe'] }));
    expect(out.raw).toEqual({ 'chat:*': ['publish', 'subscribe'] });
    expect(out.allows('chat:a', 'publish')).toBe(true);
    expect(out.allows('news', 'subscribe')).toBe(false);
  });

  it('lets "[*]*" requested be cut down to the key\'s "*"', () => {
    const out = intersect(cap({ '[*]*': ['subscribe'] }), cap({ '*': ['*'] }));
    expect(out.raw).toEqual({ '*': ['subscribe'] });
    expect(out.allows('[meta]x', 'subscribe')).toBe(false);
  });

  it('meets a [*] qualifier on one side with a named one on the other', () => {
    expect(intersect(cap({ '[filter]ns:a': ['subscribe'] }), cap({ '[*]ns:*': ['*'] })).raw).toEqual({ '[filter]ns:a': ['subscribe'] });
    expect(intersect(cap({ '[*]ns:*': ['subscribe'] }), cap({ '[filter]ns:a': ['*'] })).raw).toEqual({ '[filter]ns:a': ['subscribe'] });
    // Neither name covered by the other's qualifier and name: `[*]ns:a` against `[filter]ns:*`.
    const out = intersect(cap({ '[*]ns:a': ['subscribe'] }), cap({ '[filter]ns:*': ['*'] }));
    expect(out.raw).toEqual({ '[filter]ns:a': ['subscribe'] });
    expect(out.allows('ns:a', 'subscribe')).toBe(false);
    expect(ablyErrorOf(() => intersect(cap({ '[filter]a': ['subscribe'] }), cap({ a: ['*'] }))).code).toBe(40160);
  });

  it('merges the operations several key resources grant on one requested resource', () => {
    const out = intersect(cap({ 'chat:a': ['*'] }), cap({ 'chat:*': ['publish'], '*': ['subscribe'] }));
    expect(out.raw).toEqual({ 'chat:a': ['publish', 'subscribe'] });
  });

  it('never grants more than the key allows on any channel', () => {
    const key = cap({ 'chat:*': ['publish'], 'news': ['subscribe'] });
    const out = intersect(cap({ '*': ['publish', 'subscribe', 'presence'] }), key);
    for (const ch of ['chat:a', 'chat:a:b', 'news', 'other', 'chat']) {
      for (const op of ['publish', 'subscribe', 'presence'] as Operation[]) {
        if (out.allows(ch, op)) expect(key.allows(ch, op), `${op} on ${ch}`).toBe(true);
      }
    }
  });

  it('throws 40160 when the resources do not overlap', () => {
    const e = ablyErrorOf(() => intersect(cap({ a: ['publish'] }), cap({ b: ['publish'] })));
    expect(e.code).toBe(40160);
  });

  it('throws 40160 when the operations do not overlap', () => {
    const e = ablyErrorOf(() => intersect(cap({ a: ['history'] }), cap({ a: ['publish'] })));
    expect(e.code).toBe(40160);
  });

  it('throws 40160 when the requested resource is qualified and the key\'s is not', () => {
    const e = ablyErrorOf(() => intersect(cap({ '[meta]x': ['subscribe'] }), cap({ '*': ['*'] })));
    expect(e.code).toBe(40160);
  });
});
