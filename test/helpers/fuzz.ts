/**
 * Random protocol input for fuzz tests: ProtocolMessages whose every field may have the
 * wrong type, a value at or past a limit, or a value a real client would send, from a
 * seeded generator (the seed is printed with a failure, so a run can be repeated).
 */
import type { Seeded as Rng } from '../../src/rng.js';

const STRINGS = ['', 'a', 'fuzz', 'x'.repeat(300), '🙂', 'a:b', ':x', '[?rewind=1]f', '[meta]x', 'a\u0000b', 'new\nline', '\ud800', '__proto__', 'constructor', 'toString'];
const ENCODINGS = ['', 'json', 'base64', 'utf-8', 'json/base64', 'utf-8/base64', 'cipher+aes-128-cbc/base64', 'vcdiff', 'json/utf-8/base64', 'nonsense', '/', '//'];
const NUMBERS = [0, 1, -1, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, Number.MAX_VALUE, 1e308, -0];

/** Any JSON-ish value, nested at most `depth` deep. */
export function anyValue(r: Rng, depth = 2, binary = false): unknown {
  switch (r.int(binary ? 9 : 8)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick(NUMBERS);
    case 3:
    case 4:
      return r.pick(STRINGS);
    case 5:
      return depth > 0 ? Array.from({ length: r.int(4) }, () => anyValue(r, depth - 1, binary)) : [];
    case 6:
    case 7: {
      if (depth <= 0) return {};
      const o: Record<string, unknown> = {};
      // An own property even for __proto__, as JSON.parse and msgpack decoders make it.
      for (let i = r.int(4); i > 0; i--) {
        const key = r.pick(['a', 'data', 'id', 'headers', 'push', 'ref', '__proto__', 'x'.repeat(40)]);
        Object.defineProperty(o, key, { value: anyValue(r, depth - 1, binary), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
    default:
      return Buffer.from(Array.from({ length: r.int(40) }, () => r.int(256)));
  }
}

/** A value for a field whose right type is `right()`: usually right, sometimes anything. */
function field<T>(r: Rng, right: () => T, binary: boolean): unknown {
  return r.chance(0.92) ? right() : anyValue(r, 1, binary);
}

export function randomMessage(r: Rng, binary: boolean): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (r.chance(0.3)) m.id = field(r, () => r.pick(['m1', 'dup', `id-${r.int(50)}`, 'x:0', '']), binary);
  if (r.chance(0.5)) m.name = field(r, () => r.pick(STRINGS), binary);
  if (r.chance(0.85)) {
    // Mostly data a client may send, with its encoding; now and then anything.
    switch (r.int(6)) {
      case 0:
        m.data = r.pick(STRINGS);
        break;
      case 1:
        m.data = binary ? anyValue(r, 0, true) : r.pick(STRINGS);
        break;
      case 2:
        m.data = JSON.stringify(anyValue(r, 2));
        m.encoding = 'json';
        break;
      case 3:
        m.data = Buffer.from(String(r.pick(STRINGS))).toString('base64');
        m.encoding = r.pick(['base64', 'utf-8/base64', 'json/base64']);
        break;
      case 4:
        m.data = r.pick(STRINGS);
        m.encoding = r.pick(ENCODINGS);
        break;
      default:
        m.data = anyValue(r, 2, binary);
    }
  }
  if (r.chance(0.2)) m.extras = field(r, () => ({ headers: anyValue(r, 1, binary), push: anyValue(r, 1, binary), ref: anyValue(r, 1, binary) }), binary);
  if (r.chance(0.15)) m.clientId = field(r, () => r.pick(['bob', '*', '', 'x'.repeat(300)]), binary);
  if (r.chance(0.1)) m.connectionKey = anyValue(r, 0, binary);
  if (r.chance(0.1)) m.timestamp = field(r, () => r.pick([0, Date.now(), 2 ** 53, -1, 1.5]), binary);
  if (r.chance(0.1)) m.action = field(r, () => r.int(8), binary);
  if (r.chance(0.1)) m.serial = anyValue(r, 0, binary);
  return m;
}

/** A ProtocolMessage a client might send, every field possibly wrong. */
export function randomProtocolMessage(r: Rng, binary: boolean): Record<string, unknown> {
  const pm: Record<string, unknown> = {};
  // Mostly what keeps a connection going (attach, detach, publish, presence), so that a
  // connection gets deep; now and then an action that ends it, or none that exists.
  pm.action = r.chance(0.95) ? r.pick([0, 10, 10, 10, 12, 14, 14, 15, 15, 15, 15, 15, 16]) : r.chance(0.7) ? r.pick([3, 5, 7, 17, 19, 21, 99]) : anyValue(r, 0, binary);
  if (r.chance(0.95)) pm.channel = r.chance(0.9) ? r.pick(['fuzz', 'fuzz', 'fuzz-2', 'other', '[?rewind=2]fuzz']) : field(r, () => r.pick(STRINGS), binary);
  if (r.chance(0.9)) pm.msgSerial = field(r, () => r.pick([0, 1, 2, r.int(100), r.int(100), -1, 2 ** 53]), binary);
  if (pm.action === 15 ? r.chance(0.95) : r.chance(0.2)) pm.messages = field(r, () => Array.from({ length: 1 + r.int(r.chance(0.1) ? 40 : 4) }, () => randomMessage(r, binary)), binary);
  if (pm.action === 14 ? r.chance(0.95) : r.chance(0.1)) pm.presence = field(r, () => Array.from({ length: 1 + r.int(3) }, () => ({ ...randomMessage(r, binary), action: field(r, () => r.int(6), binary) })), binary);
  if (r.chance(0.25)) pm.flags = field(r, () => r.pick([0, 1, 1 << 5, 1 << 16, 1 << 31, 0xffffffff]), binary);
  if (r.chance(0.25)) pm.params = field(r, () => ({ rewind: field(r, () => r.pick(['1', '10', '-1', '1m', 'x', '99999999']), binary), delta: anyValue(r, 0, binary) }), binary);
  if (r.chance(0.15)) pm.channelSerial = anyValue(r, 0, binary);
  if (r.chance(0.1)) pm.auth = field(r, () => ({ accessToken: anyValue(r, 0, binary) }), binary);
  if (r.chance(0.1)) pm.error = anyValue(r, 1, binary);
  if (r.chance(0.1)) pm.id = anyValue(r, 0, binary);
  if (r.chance(0.05)) pm.connectionKey = anyValue(r, 0, binary);
  if (r.chance(0.05)) pm.count = anyValue(r, 0, binary);
  return pm;
}
