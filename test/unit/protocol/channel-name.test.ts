import { describe, expect, it } from 'vitest';
import { MAX_CHANNEL_NAME_LENGTH } from '../../../src/config/defaults.js';
import { parseChannelName } from '../../../src/protocol/channel-name.js';
import { codeOf } from '../../helpers/errors.js';

describe('parseChannelName', () => {
  it.each(['lobby', 'chat:lobby', 'a:b:c', 'with space', 'émoji-🎉', 'ends:', 'x[y]', 'a*b'])(
    'accepts %j as it is, with no params',
    (name) => {
      expect(parseChannelName(name)).toEqual({ name, params: {} });
    },
  );

  it('reads params from a [?…] qualifier and strips it from the name', () => {
    expect(parseChannelName('[?rewind=1]chat:lobby')).toEqual({ name: 'chat:lobby', params: { rewind: '1' } });
  });

  it('reads several params and decodes them', () => {
    expect(parseChannelName('[?rewind=2m&delta=vcdiff&x=a%20b]c')).toEqual({
      name: 'c',
      params: { rewind: '2m', delta: 'vcdiff', x: 'a b' },
    });
  });

  it('accepts an empty qualifier', () => {
    expect(parseChannelName('[?]c')).toEqual({ name: 'c', params: {} });
  });

  it.each([
    ['the empty string', ''],
    ['a name that is not a string', 42],
    ['null', null],
    ['a leading colon', ':lobby'],
    ['another qualifier ([meta])', '[meta]lobby'],
    ['a filter qualifier', '[filter=name==`x`]lobby'],
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
