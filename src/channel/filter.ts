/**
 * Subscription filters: the JMESPath expression of a `[filter=<base64>]channel` name
 * (ably-js `channels.getDerived(name, { filter })`), tested against each message's
 * `{ name, headers }` (headers: `extras.headers`, a flat object). A subscriber on such a
 * channel is sent only the messages the expression holds for (truthy, as JMESPath reads
 * truth: not false, null, "", [] or {}).
 *
 * The part of JMESPath a filter over that document can use: identifiers (bare or
 * "quoted") and sub-expressions with `.`, `@`, JSON literals in backticks (the legacy
 * form without quotes reads as a string), 'raw strings', the comparators `==` `!=` `<`
 * `<=` `>` `>=` (ordering only between numbers, else null, as the specification says),
 * `&&` `||` `!`, parentheses, and the functions listed in FUNCTIONS. Precedence and
 * results follow the reference implementation (jmespath.js; the unit test compares the
 * two on generated expressions). The rest of the language (projections, indexes,
 * slices, pipes, multi-selects, expression references) is refused when the filter is
 * parsed, as are bare numbers (`headers.cost < 50` needs `` `50` ``).
 *
 * A filter is compiled once to closures and shared (`compileFilter` keeps the compiled
 * form by its text). A function given the wrong type, or values nested deeper than 32
 * (headers are meant to be flat), makes the expression fail for that message, which
 * then does not match. Bare `true`, `false` and `null` are refused: JMESPath reads them
 * as field names, so `headers.on == true` would never hold where `on` is true.
 *
 * A filter's work on one message is bounded (FILTER_WORK_BUDGET): each function and
 * comparison is charged for the characters and values it reads, and a filter that would
 * go past the budget does not match that message. Without it, a filter of 2,048
 * characters calling `length(to_string(@))` ninety times over 56 KB of headers took
 * 87 ms a message, and twenty such filters stalled a node for two seconds a publish.
 */
import { AblyError } from '../errors.js';

/** Longest expression accepted, in characters (after base64 decoding). */
export const MAX_FILTER_LENGTH = 2048;
/** Deepest nesting accepted (each operand, argument and parenthesis is a level). */
const MAX_DEPTH = 64;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Work one filter may do on one message, in characters and values read: reading the
 * largest headers a message holds (64 KiB) about twice.
 */
export const FILTER_WORK_BUDGET = 128 * 1024;
/** What the filter being evaluated may still spend (set as each evaluation starts; evaluation is synchronous). */
let left = 0;

/**
 * What a key of an object is charged, in characters: listing an object's keys costs about
 * 90 ns a key (a dictionary of 5,000 keys, 0.46 ms), against well under one a character
 * read.
 */
const KEY_COST = 16;
/** Keys of objects of messages being judged, counted once a message (its headers are one object for every filter). */
const keyCounts = new WeakMap<object, number>();

/**
 * How many keys `v` has: counted once an object, charged at every use (a charge only at
 * the count made a filter's answer depend on whether another had read the object first).
 */
function keyCount(v: { [k: string]: Json }): number {
  let n = keyCounts.get(v);
  if (n === undefined) keyCounts.set(v, (n = Object.keys(v).length));
  charge(n * KEY_COST);
  return n;
}

/** Charges `n` to the filter being evaluated; past its budget, the message does not match. */
function charge(n: number): void {
  left -= n;
  if (left < 0) throw new EvalError(`more work than ${FILTER_WORK_BUDGET} characters and values on one message`);
}
type Eval = (doc: Json) => Json;

/** A compiled subscription filter. */
export interface MessageFilter {
  /** The expression as the client gave it. */
  readonly source: string;
  /** Whether a message with this name and extras passes. */
  matches(message: { name?: string | undefined; extras?: Record<string, unknown> | undefined }): boolean;
}

/** A function given arguments it cannot take: the expression fails for that message. */
class EvalError extends Error {}

function refuse(detail: string): AblyError {
  return AblyError.of('invalidChannelName', `invalid filter expression: ${detail}`);
}

// ---- tokens ----------------------------------------------------------------------------

type Tok =
  | { t: 'id'; v: string; quoted: boolean; at: number }
  | { t: 'lit'; v: Json; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'eof'; at: number };

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')', ',', '.', '@'];
const UNSUPPORTED = '[]{}*|&?:-0123456789';

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))![0];
      if (m === 'true' || m === 'false' || m === 'null') {
        throw refuse(`bare ${m} at ${i} is a field name in JMESPath: write the value as \`${m}\`, or a field so named as "${m}"`);
      }
      out.push({ t: 'id', v: m, quoted: false, at: i });
      i += m.length;
      continue;
    }
    if (c === '"') {
      const end = closing(src, i, '"');
      let v: unknown;
      try {
        v = JSON.parse(src.slice(i, end + 1));
      } catch {
        throw refuse(`bad quoted identifier at ${i}`);
      }
      out.push({ t: 'id', v: v as string, quoted: true, at: i });
      i = end + 1;
      continue;
    }
    if (c === "'") {
      const end = closing(src, i, "'");
      out.push({ t: 'lit', v: src.slice(i + 1, end).replace(/\\'/g, "'"), at: i });
      i = end + 1;
      continue;
    }
    if (c === '`') {
      const end = closing(src, i, '`');
      out.push({ t: 'lit', v: jsonLiteral(src.slice(i + 1, end).replace(/\\`/g, '`'), i), at: i });
      i = end + 1;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', v: op, at: i });
      i += op.length;
      continue;
    }
    if (c === '-' && out.at(-1)?.t === 'id') {
      throw refuse(`"-" at ${i}: a name with "-" in it must be quoted, e.g. headers."user-id"`);
    }
    if (UNSUPPORTED.includes(c)) {
      throw refuse(/[-0-9]/.test(c) ? `a bare number at ${i} (write numbers as JSON literals, e.g. \`50\`)` : `"${c}" at ${i} is not supported in a filter`);
    }
    throw refuse(`unexpected ${JSON.stringify(c)} at ${i}`);
  }
  out.push({ t: 'eof', at: src.length });
  return out;
}

/** The index of the quote closing the one at `from` (a backslash escapes the next character). */
function closing(src: string, from: number, quote: string): number {
  for (let i = from + 1; i < src.length; i++) {
    if (src[i] === '\\') i++;
    else if (src[i] === quote) return i;
  }
  throw refuse(`unterminated ${quote} at ${from}`);
}

/** A backtick literal: JSON, or (text that does not begin as JSON would) the legacy form of a string without its quotes. */
function jsonLiteral(text: string, at: number): Json {
  const t = text.trim();
  const json = /^[[{"\-0-9]/.test(t) || t === 'true' || t === 'false' || t === 'null';
  try {
    return JSON.parse(json ? t : `"${t}"`) as Json;
  } catch {
    throw refuse(`bad JSON literal at ${at}`);
  }
}

// ---- values ----------------------------------------------------------------------------

function truthy(v: Json): boolean {
  if (v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return keyCount(v) > 0;
  return true;
}

/** Code points in `s`, without spreading it into an array. */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Deepest values compared (a publisher's headers could nest deeper than the stack goes). */
const MAX_VALUE_DEPTH = 32;

function equal(a: Json, b: Json, depth = 0): boolean {
  charge(1);
  if (typeof a === 'string' && typeof b === 'string') {
    charge(Math.min(a.length, b.length));
    return a === b;
  }
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (depth >= MAX_VALUE_DEPTH) throw new EvalError(`values nested deeper than ${MAX_VALUE_DEPTH}`);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => equal(x, b[i]!, depth + 1));
  }
  if (keyCount(a) !== keyCount(b)) return false;
  const ka = Object.keys(a);
  charge(ka.length * KEY_COST);
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && equal(a[k]!, b[k]!, depth + 1));
}

function field(v: Json, name: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  return Object.prototype.hasOwnProperty.call(v, name) ? (v[name] ?? null) : null;
}

function typeOf(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v; // boolean, number, string, object
}

function need(v: Json, ...types: string[]): void {
  if (!types.includes(typeOf(v))) throw new EvalError(`expected ${types.join(' or ')}, got ${typeOf(v)}`);
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** name → [least arguments, most (Infinity: any), implementation]. */
const FUNCTIONS: Record<string, [number, number, (args: Json[]) => Json]> = {
  contains: [2, 2, ([s, x]) => {
    need(s!, 'string', 'array');
    if (typeof s === 'string') return typeof x === 'string' && (charge(s.length), s.includes(x));
    return (s as Json[]).some((e) => equal(e, x!));
  }],
  starts_with: [2, 2, ([s, p]) => (need(s!, 'string'), need(p!, 'string'), charge((p as string).length), (s as string).startsWith(p as string))],
  ends_with: [2, 2, ([s, p]) => (need(s!, 'string'), need(p!, 'string'), charge((p as string).length), (s as string).endsWith(p as string))],
  length: [1, 1, ([v]) => {
    need(v!, 'string', 'array', 'object');
    if (typeof v === 'string') return charge(v.length), codePoints(v);
    return Array.isArray(v) ? v.length : keyCount(v as { [k: string]: Json });
  }],
  to_number: [1, 1, ([v]) => (typeof v === 'number' ? v : typeof v === 'string' ? (charge(v.length), NUMBER.test(v) ? Number(v) : null) : null)],
  to_string: [1, 1, ([v]) => {
    if (typeof v === 'string') return v;
    const s = JSON.stringify(v);
    charge(s.length);
    return s;
  }],
  type: [1, 1, ([v]) => typeOf(v!)],
  not_null: [1, Infinity, (args) => args.find((a) => a !== null) ?? null],
  abs: [1, 1, ([v]) => (need(v!, 'number'), Math.abs(v as number))],
  ceil: [1, 1, ([v]) => (need(v!, 'number'), Math.ceil(v as number))],
  floor: [1, 1, ([v]) => (need(v!, 'number'), Math.floor(v as number))],
};

// ---- parsing (a Pratt parser with jmespath.js's binding powers) ------------------------

const BP: Record<string, number> = { '||': 2, '&&': 3, '==': 5, '!=': 5, '<': 5, '<=': 5, '>': 5, '>=': 5, '.': 40, '(': 60 };

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly toks: Tok[]) {}

  parse(): Eval {
    const e = this.expression(0);
    const t = this.peek();
    if (t.t !== 'eof') throw refuse(`unexpected ${describe(t)} at ${t.at}`);
    return e;
  }

  private peek(): Tok {
    return this.toks[this.i]!;
  }

  private next(): Tok {
    return this.toks[this.i++]!;
  }

  private expect(op: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== op) throw refuse(`expected "${op}" at ${t.at}, found ${describe(t)}`);
  }

  private expression(rbp: number): Eval {
    if (++this.depth > MAX_DEPTH) throw refuse(`nested deeper than ${MAX_DEPTH}`);
    let left = this.nud(this.next());
    for (;;) {
      const t = this.peek();
      const bp = t.t === 'op' ? (BP[t.v] ?? 0) : 0;
      if (rbp >= bp) break;
      this.i++;
      left = this.led((t as { v: string }).v, left, t);
    }
    this.depth--;
    return left;
  }

  private nud(t: Tok): Eval {
    if (t.t === 'lit') {
      const v = t.v;
      return () => v;
    }
    if (t.t === 'id') {
      const p = this.peek();
      if (!t.quoted && p.t === 'op' && p.v === '(') {
        this.i++;
        return this.call(t.v, t.at);
      }
      const name = t.v;
      return (doc) => field(doc, name);
    }
    if (t.t === 'op') {
      if (t.v === '@') return (doc) => doc;
      if (t.v === '!') {
        const e = this.expression(45);
        return (doc) => !truthy(e(doc));
      }
      if (t.v === '(') {
        const e = this.expression(0);
        this.expect(')');
        return e;
      }
    }
    throw refuse(`unexpected ${describe(t)} at ${t.at}`);
  }

  private led(op: string, left: Eval, t: Tok): Eval {
    switch (op) {
      case '.': {
        const r = this.next();
        if (r.t !== 'id') throw refuse(`expected an identifier after "." at ${r.at}, found ${describe(r)}`);
        const name = r.v;
        return (doc) => field(left(doc), name);
      }
      case '||': {
        const right = this.expression(2);
        return (doc) => {
          const a = left(doc);
          return truthy(a) ? a : right(doc);
        };
      }
      case '&&': {
        const right = this.expression(3);
        return (doc) => {
          const a = left(doc);
          return truthy(a) ? right(doc) : a;
        };
      }
      case '(':
        throw refuse(`only a function name can be called, at ${t.at}`);
      default:
        return compare(op, left, this.expression(5));
    }
  }

  private call(name: string, at: number): Eval {
    const fn = FUNCTIONS[name];
    if (!fn) throw refuse(`unknown function ${name}() at ${at} (known: ${Object.keys(FUNCTIONS).join(', ')})`);
    const args: Eval[] = [];
    const close = this.peek();
    if (!(close.t === 'op' && close.v === ')')) {
      for (;;) {
        args.push(this.expression(0));
        const t = this.next();
        if (t.t === 'op' && t.v === ')') break;
        if (!(t.t === 'op' && t.v === ',')) throw refuse(`expected "," or ")" at ${t.at}, found ${describe(t)}`);
      }
    } else {
      this.i++;
    }
    const [least, most, impl] = fn;
    if (args.length < least || args.length > most) {
      throw refuse(`${name}() takes ${least === most ? least : `at least ${least}`} argument${least === 1 && most === 1 ? '' : 's'}, given ${args.length}`);
    }
    return (doc) => impl(args.map((a) => a(doc)));
  }
}

function compare(op: string, l: Eval, r: Eval): Eval {
  switch (op) {
    case '==':
      return (doc) => equal(l(doc), r(doc));
    case '!=':
      return (doc) => !equal(l(doc), r(doc));
  }
  const order: (a: number, b: number) => boolean =
    op === '<' ? (a, b) => a < b : op === '<=' ? (a, b) => a <= b : op === '>' ? (a, b) => a > b : (a, b) => a >= b;
  return (doc) => {
    const a = l(doc);
    const b = r(doc);
    return typeof a === 'number' && typeof b === 'number' ? order(a, b) : null;
  };
}

function describe(t: Tok): string {
  if (t.t === 'eof') return 'the end';
  if (t.t === 'op') return `"${t.v}"`;
  if (t.t === 'id') return `identifier ${JSON.stringify(t.v)}`;
  return 'a literal';
}

// ---- the compiled filter ---------------------------------------------------------------

/** Parses an expression into a function of the document; throws 40010 with the reason. */
export function compileExpression(source: string): (doc: Json) => Json {
  if (source.length > MAX_FILTER_LENGTH) throw refuse(`longer than ${MAX_FILTER_LENGTH} characters`);
  if (source.trim() === '') throw refuse('empty');
  const e = new Parser(lex(source)).parse();
  return (doc) => {
    left = FILTER_WORK_BUDGET;
    return e(doc);
  };
}

class CompiledFilter implements MessageFilter {
  constructor(
    readonly source: string,
    private readonly evaluate: Eval,
  ) {}

  matches(message: { name?: string | undefined; extras?: Record<string, unknown> | undefined }): boolean {
    const headers = message.extras?.headers;
    const doc: Json = { name: message.name ?? null, headers: (headers ?? null) as Json };
    // Whatever the message holds, a test never throws into delivery: a failure is no match.
    try {
      return truthy(this.evaluate(doc));
    } catch {
      return false;
    }
  }
}

const compiled = new Map<string, MessageFilter>();
const COMPILED_MAX = 1000;

/** The filter for an expression, compiled once and shared; throws 40010 where it does not parse. */
export function compileFilter(source: string): MessageFilter {
  let f = compiled.get(source);
  if (f) return f;
  f = new CompiledFilter(source, compileExpression(source));
  if (compiled.size >= COMPILED_MAX) compiled.clear();
  compiled.set(source, f);
  return f;
}
