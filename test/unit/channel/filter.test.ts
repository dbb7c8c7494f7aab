/**
 * Subscription filter expressions (src/channel/filter.ts): Ably's documented examples,
 * JMESPath's precedence and truth, what is refused and how, and generated expressions
 * compared with the reference implementation (jmespath.js) over generated messages.
 */
import jmespath from 'jmespath';
import { describe, expect, it } from 'vitest';
import { compileExpression, compileFilter, MAX_FILTER_LENGTH } from '../../../src/channel/filter.js';
import { rng } from '../../../src/rng.js';
import { ablyErrorOf } from '../../helpers/errors.js';

/** jmespath.js's parser alone (exported, not in its types). */
const compileTheirs = (jmespath as unknown as { compile(expr: string): unknown }).compile;

const icecream = { name: 'ice-cream', extras: { headers: { flavor: 'strawberry', cost: 35, temp: 3 } } };

function passes(expr: string, m: { name?: string; extras?: Record<string, unknown> }): boolean {
  return compileFilter(expr).matches(m);
}

/** The reason a refused expression is given (with 40010 and status 400). */
function refusal(expr: string): string {
  const e = ablyErrorOf(() => compileExpression(expr));
  expect([e.code, e.statusCode]).toEqual([40010, 400]);
  return e.message;
}

describe('subscription filter expressions', () => {
  it("takes Ably's documented examples", () => {
    const doc = 'name == `"ice-cream"` && headers.flavor == `"strawberry"` && headers.cost < `50`';
    expect(passes(doc, icecream)).toBe(true);
    expect(passes(doc, { ...icecream, name: 'sorbet' })).toBe(false);
    expect(passes(doc, { name: 'ice-cream', extras: { headers: { flavor: 'strawberry', cost: 50 } } })).toBe(false);
    const either = 'headers.flavor == `"strawberry"` || headers.flavor == `"chocolate"`';
    expect(passes(either, { extras: { headers: { flavor: 'chocolate' } } })).toBe(true);
    expect(passes(either, { extras: { headers: { flavor: 'vanilla' } } })).toBe(false);
    expect(passes(either, {})).toBe(false);
  });

  it('reads truth, literals and functions as JMESPath does', () => {
    const m = { name: 'a', extras: { headers: { zero: 0, empty: '', no: false, s: 'text', n: 7 } } };
    expect(passes('headers.zero', m)).toBe(true); // 0 is true in JMESPath
    expect(passes('headers.empty', m)).toBe(false);
    expect(passes('headers.no', m)).toBe(false);
    expect(passes('headers.missing', m)).toBe(false);
    expect(passes('!(headers.no)', m)).toBe(true);
    // `!` binds tighter than `.`, as in jmespath.js and jmespath.py: (!headers).no is null.
    expect(passes('!headers.no', m)).toBe(false);
    expect(passes("name == 'a'", m)).toBe(true);
    expect(passes('name == `a`', m)).toBe(true); // the legacy literal without quotes
    expect(passes('"headers"."s" == `"text"`', m)).toBe(true);
    expect(passes('headers.n >= `7` && headers.n < `7.5`', m)).toBe(true);
    // Ordering is for numbers: a missing header is not less than anything.
    expect(passes('headers.missing < `5`', m)).toBe(false);
    expect(passes('headers.s < `5`', m)).toBe(false);
    expect(passes("starts_with(headers.s, 'te') && ends_with(headers.s, 'xt') && contains(headers.s, 'ex')", m)).toBe(true);
    expect(passes('length(headers.s) == `4` && to_number(`"12"`) == `12` && type(headers.n) == `"number"`', m)).toBe(true);
    expect(passes('not_null(headers.missing, headers.s) == `"text"`', m)).toBe(true);
    expect(passes('@.name == `"a"`', m)).toBe(true);
    // A function given the wrong type fails the expression for that message: no match.
    expect(passes("starts_with(headers.n, 'x') || `true`", m)).toBe(false);
    expect(passes('starts_with(headers.s, `"t"`)', m)).toBe(true);
    // Every string starts with "" (jmespath.js says no for all but "": lastIndexOf).
    expect(passes("starts_with(headers.s, '')", m)).toBe(true);
  });

  it('refuses what it does not take, saying why', () => {
    expect(refusal('headers.cost < 50')).toMatch(/bare number.*`50`/);
    expect(refusal('headers[0]')).toMatch(/"\[" at 7 is not supported/);
    expect(refusal('name | headers')).toMatch(/"\|" at 5 is not supported/);
    expect(refusal('name == ')).toMatch(/unexpected the end/);
    expect(refusal('(name')).toMatch(/expected "\)"/);
    expect(refusal('name name')).toMatch(/unexpected identifier "name" at 5/);
    expect(refusal('nope(name)')).toMatch(/unknown function nope\(\)/);
    expect(refusal('length(name, name)')).toMatch(/takes 1 argument, given 2/);
    expect(refusal('`{bad json`')).toMatch(/bad JSON literal/);
    expect(refusal("'open")).toMatch(/unterminated '/);
    expect(refusal('   ')).toMatch(/empty/);
    expect(refusal('x'.repeat(MAX_FILTER_LENGTH + 1))).toMatch(/longer than 2048/);
    expect(refusal('!'.repeat(200) + 'name')).toMatch(/nested deeper than 64/);
    expect(refusal('headers.on == true')).toMatch(/bare true at 14 is a field name in JMESPath: write the value as `true`/);
    expect(refusal('null')).toMatch(/bare null/);
    expect(refusal('headers.user-id == `1`')).toMatch(/"-" at 12: a name with "-" in it must be quoted, e.g. headers."user-id"/);
    expect(refusal('('.repeat(100) + 'name' + ')'.repeat(100))).toMatch(/nested deeper/);
  });

  it('fails the expression, never the caller, on values nested past its depth', () => {
    const nest = (depth: number) => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    // Two values of 12 KB of JSON each, deeper than the stack would take compared whole.
    const m = { extras: { headers: { a: nest(20_000), b: nest(20_000), flat: 'x' } } };
    expect(passes('headers.a == headers.b', m)).toBe(false);
    expect(passes('headers.a == headers.b || headers.flat == `"x"`', m)).toBe(false); // the whole expression fails
    expect(passes('headers.flat == `"x"`', m)).toBe(true);
    expect(passes('headers.a == headers.b', { extras: { headers: { a: nest(20), b: nest(20) } } })).toBe(true);
    expect(passes('headers.on == `true` && "true" == `1`', { extras: { headers: { on: true } } })).toBe(false);
    expect(passes('headers.on == `true`', { extras: { headers: { on: true } } })).toBe(true);
  });

  // A review's reproduction: 92 such terms over 56 KB of headers took 87 ms a message.
  it('does not match a message it would read more of than its budget, and matches the same filter on a small one', () => {
    const big = { extras: { headers: { pad: 'x'.repeat(56_000), tag: 'urgent' } } };
    const small = { extras: { headers: { pad: 'x', tag: 'urgent' } } };
    const costly = Array.from({ length: 92 }, () => 'length(to_string(@))').join('&&');
    expect(costly.length).toBeLessThanOrEqual(MAX_FILTER_LENGTH);
    expect(passes(costly, small)).toBe(true);
    expect(passes(costly, big)).toBe(false);
    // Within the budget, one reading of large headers and a search of it.
    expect(passes("contains(to_string(headers), 'urgent')", big)).toBe(true);
    expect(passes('length(headers.pad) == `56000` && headers.tag == `"urgent"`', big)).toBe(true);
    // Three whole readings are past it (each 56 KB, the budget twice the largest headers).
    expect(passes("contains(to_string(headers), 'urgent') && contains(to_string(headers), 'x') && contains(to_string(headers), 'u')", big)).toBe(false);
    // Each message is judged on a budget of its own.
    expect(passes("contains(to_string(headers), 'urgent')", big)).toBe(true);
  });

  // The next review's: listing keys was charged one a call (or nothing, comparing objects),
  // and `headers == ...` 100 times over 5,000 keys took 87 ms a message. Keys are counted
  // once an object and charged 16 characters each at every use, so a filter's answer does
  // not depend on what read the object before it (charged only when counted, it did).
  it("charges the keys of objects it reads at every use, whatever read them before", () => {
    const keyed = (n: number) => ({ extras: { headers: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])) } });
    const m = keyed(5000);
    const once = compileFilter('length(headers) == `5000`');
    const twice = compileFilter('length(headers) == `5000` && length(headers) > `1`'); // 160,000 characters' worth
    expect(twice.matches(m)).toBe(false);
    expect(once.matches(m)).toBe(true);
    expect(twice.matches(m)).toBe(false); // the same after another filter read the headers
    expect(compileFilter('headers && headers.k2 == `"v"`').matches(m)).toBe(true);
    expect(compileFilter('headers && !(headers == `{"a":1}`)').matches(m)).toBe(false); // two listings
    expect(passes('length(headers) > `1`', keyed(10_000))).toBe(false);
    expect(passes('headers.k1 == `"v"`', keyed(10_000))).toBe(true); // a field is read without listing them
  });
});

describe('against the reference implementation (jmespath.js)', () => {
  type Doc = { name?: string; headers?: Record<string, unknown> };
  /** Messages; `numbers`: each with the numeric headers (jmespath.js orders null, we do not). */
  function docs(rand: () => number, numbers = false): Doc[] {
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const out: Doc[] = numbers ? [] : [{}, { name: 'a' }];
    for (let i = 0; i < 6; i++) {
      const headers: Record<string, unknown> = { n: pick([0, 1, 2.5, -3, 40]), m: pick([0, 1, 7]) };
      for (const k of ['a', 'b']) if (rand() < 0.7) headers[k] = pick(['x', 'y', '', 0, 1, true, false, null]);
      out.push({ ...(rand() < 0.8 ? { name: pick(['a', 'b', 'ice-cream', '']) } : {}), headers });
    }
    return out;
  }

  /** An expression JMESPath and we must read alike: ordering only between numbers. */
  function expression(rand: () => number, depth: number): string {
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    // No `@`: jmespath.js reads it apart inside parentheses and arguments (`(@.name)` fails there).
    const value = (): string =>
      pick(['name', 'headers.a', 'headers.b', 'headers', '"headers".a', '`"x"`', "'a'", '`1`', '`true`', '`null`', '`[1,2]`', '`{"a":1}`', 'headers.n']);
    const number = (): string => pick(['headers.n', 'headers.m', '`1`', '`2.5`', '`-3`', 'length(name)', 'abs(headers.n)', 'floor(headers.n)']);
    if (depth <= 0 || rand() < 0.25) {
      switch (Math.floor(rand() * 5)) {
        case 0:
          return value();
        case 1:
          return `${value()} ${pick(['==', '!='])} ${value()}`;
        case 2:
          return `${number()} ${pick(['<', '<=', '>', '>=', '==', '!='])} ${number()}`;
        case 3:
          return pick([`contains(${value()}, ${value()})`, `starts_with(name, ${pick(["'a'", "'i'", "'ice'"])})`, `not_null(${value()}, ${value()})`, `type(${value()})`, `to_string(${value()})`]);
        default:
          return `length(${value()})`;
      }
    }
    const a = expression(rand, depth - 1);
    const b = expression(rand, depth - 1);
    switch (Math.floor(rand() * 4)) {
      case 0:
        return `${a} && ${b}`;
      case 1:
        return `${a} || ${b}`;
      case 2:
        return `!(${a})`;
      default:
        return `(${a}) ${pick(['==', '!='])} (${b})`;
    }
  }

  function both(expr: string, doc: Doc): { ours: unknown; theirs: unknown } {
    let ours: unknown;
    let theirs: unknown;
    try {
      ours = compileExpression(expr)(doc as never);
    } catch (err) {
      ours = `error`;
      void err;
    }
    try {
      theirs = jmespath.search(doc, expr);
    } catch {
      theirs = 'error';
    }
    return { ours, theirs };
  }

  it('gives the same value for 3,000 generated expressions over generated messages', () => {
    const rand = rng(4747);
    let compared = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const expr = expression(rand, 3);
      for (const doc of docs(rand, true)) {
        const { ours, theirs } = both(expr, doc);
        expect({ expr, doc, value: ours }).toEqual({ expr, doc, value: theirs });
        compared++;
        if (ours === 'error') errors++;
      }
    }
    expect(compared).toBe(18_000);
    // Some expressions must fail (functions given the wrong type), not all.
    expect(errors).toBeGreaterThan(100);
    expect(errors).toBeLessThan(compared / 2);
  });

  it('parses token soup as it does: the same refusals, precedence and values', () => {
    const rand = rng(4748);
    const tokens = ['name', 'headers', 'a', 'b', '.', '==', '!=', '&&', '||', '!', '(', ')', '`1`', '`"x"`', "'x'", '"a"'];
    let parsed = 0;
    let refused = 0;
    let lenient = 0;
    for (let i = 0; i < 6000; i++) {
      const n = 1 + Math.floor(rand() * 7);
      const expr = Array.from({ length: n }, () => tokens[Math.floor(rand() * tokens.length)]!).join(' ');
      let oursParses = true;
      try {
        compileExpression(expr);
      } catch {
        oursParses = false;
      }
      let theirsParses = true;
      try {
        compileTheirs(expr);
      } catch {
        theirsParses = false;
      }
      if (oursParses !== theirsParses) {
        // jmespath.js lets some malformed text through that we refuse (the cases above
        // show each refusal's reason): `a (…)`, a call of an unknown function that fails
        // only when it runs; `.` followed by no identifier, parsed as nothing; `( )` and
        // `(a b)`, read as the first inside. It refuses nothing we take.
        expect(oursParses, expr).toBe(false);
        lenient++;
        continue;
      }
      if (!oursParses) {
        refused++;
        continue;
      }
      parsed++;
      for (const doc of docs(rand)) {
        const { ours, theirs } = both(expr, doc);
        expect({ expr, doc, value: ours }).toEqual({ expr, doc, value: theirs });
      }
    }
    expect(parsed).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
    expect(lenient).toBeLessThan(refused);
  });
});
