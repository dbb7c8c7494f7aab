import { describe, expect, it } from 'vitest';
import { MAX_CHANNEL_NAME_LENGTH } from '../../../src/config/defaults.js';
import { parseChannelName, unfilteredChannelName } from '../../../src/protocol/channel-name.js';
import { ablyErrorOf, codeOf } from '../../helpers/errors.js';

describe('parseChannelName', () => {
  it.each(['lobby', 'chat:lobby', 'a:b:c', 'with space', 'émoji-🎉', 'ends:', 'x[y]', 'a*b'])(
    'accepts %j as it is, with no params',
    (name) => {
      expect(parseChannelName(name)).toEqual({ name, params: {}, filter: null, resource: name });
    },
  );

  it('reads params from a [?…] qualifier and strips it from the name', () => {
    expect(parseChannelName('[?rewind=1]chat:lobby')).toMatchObject({ name: 'chat:lobby', params: { rewind: '1' }, filter: null });
  });

  it('reads several params and decodes them', () => {
    expect(parseChannelName('[?rewind=2m&delta=vcdiff&x=a%20b]c')).toMatchObject({
      name: 'c',
      params: { rewind: '2m', delta: 'vcdiff', x: 'a b' },
    });
  });

  it('accepts an empty qualifier', () => {
    expect(parseChannelName('[?]c')).toMatchObject({ name: 'c', params: {} });
  });

  // As ably-js getDerived writes them: `[filter=<base64 of the UTF-8 text>?params]name`.
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

  it('reads a filter qualifier: the expression compiled, the capability resource [filter]name', () => {
    const expr = 'name == `"ice-cream"` && headers.flavor == `"strawberry"` && headers.cost < `50`';
    const parsed = parseChannelName(`[filter=${b64(expr)}]scoops-kiosk`);
    expect(parsed).toMatchObject({ name: 'scoops-kiosk', params: {}, resource: '[filter]scoops-kiosk' });
    expect(parsed.filter?.source).toBe(expr);
    expect(parsed.filter?.matches({ name: 'ice-cream', extras: { headers: { flavor: 'strawberry', cost: 35 } } })).toBe(true);
  });

  it('reads params after a filter, and a filter in the base64url alphabet', () => {
    const parsed = parseChannelName(`[filter=${b64("name == 'é?'")}?delta=vcdiff]c`);
    expect(parsed).toMatchObject({ name: 'c', params: { delta: 'vcdiff' }, resource: '[filter]c' });
    expect(parsed.filter?.source).toBe("name == 'é?'");
    // 2,048 characters of four bytes each in UTF-8 are taken.
    const wide = `name == '${'😀'.repeat(1000)}'`;
    expect(parseChannelName(`[filter=${b64(wide)}]c`).filter?.source).toBe(wide);
    const url = Buffer.from("name == '>>?'").toString('base64url');
    expect(url).toMatch(/[-_]/);
    expect(parseChannelName(`[filter=${url}]c`).filter?.source).toBe("name == '>>?'");
  });

  it.each([
    ['an empty filter', '[filter=]c', /empty filter/],
    ['a filter that is not base64', '[filter=name==x]c', /not base64/],
    ['a filter that is not UTF-8', `[filter=${Buffer.from([0xff, 0xfe]).toString('base64')}]c`, /not UTF-8/],
    ['a filter that does not parse', `[filter=${b64('headers.cost < 50')}]c`, /bare number/],
    ['a filter too long', `[filter=${b64('x'.repeat(3000))}]c`, /filter expression: longer than 2048/],
    ['a filter far too long', `[filter=${b64('x'.repeat(9000))}]c`, /filter in the channel name is longer than 2048/],
  ])('rejects %s with 40010, saying why', (_what, raw, why) => {
    const e = ablyErrorOf(() => parseChannelName(raw));
    expect(e.code).toBe(40010);
    expect(e.message).toMatch(why);
  });

  it('refuses a filtered name where only a channel will do (publish, presence, history)', () => {
    expect(unfilteredChannelName('c', 'publishing').name).toBe('c');
    expect(codeOf(() => unfilteredChannelName(`[filter=${b64('name')}]c`, 'publishing'))).toBe(40010);
  });

  it.each([
    ['the empty string', ''],
    ['a name that is not a string', 42],
    ['null', null],
    ['a leading colon', ':lobby'],
    ['a metachannel other than [meta]channel.lifecycle', '[meta]lobby'],
    ['[meta]channel.lifecycle with more after it', '[meta]channel.lifecycle:x'],
    ['a qualifier of another kind', '[queue]lobby'],
    ['a newline', 'a\nb'],
    ['a carriage return', 'a\rb'],
    ['a NUL', 'a\u0000b'],
    ['a qualifier and no name', '[?rewind=1]'],
    ['an unterminated qualifier', '[?rewind=1lobby'],
    ['a qualifier followed by a leading colon', '[?rewind=1]:lobby'],
    ['a qualifier followed by another qualifier', '[?rewind=1][meta]lobby'],
    ['a name one character too long', 'x'.repeat(MAX_CHANNEL_NAME_LENGTH + 1)],
  ])('rejects %s with 40010', (_what, raw) => {
    expect(codeOf(() => parseChannelName(raw))).toBe(40010);
  });

  it('takes [meta]channel.lifecycle whole, as its name and its resource', () => {
    expect(parseChannelName('[meta]channel.lifecycle')).toEqual({ name: '[meta]channel.lifecycle', params: {}, filter: null, resource: '[meta]channel.lifecycle' });
  });

  it('accepts a name of exactly the maximum length', () => {
    const name = 'x'.repeat(MAX_CHANNEL_NAME_LENGTH);
    expect(parseChannelName(name).name).toBe(name);
  });

  it('applies the length cap to the name, not the qualifier', () => {
    const name = 'x'.repeat(10);
    expect(parseChannelName(`[?rewind=1]${name}`, 10).name).toBe(name);
    expect(codeOf(() => parseChannelName(`${name}y`, 10))).toBe(40010);
  });
});
