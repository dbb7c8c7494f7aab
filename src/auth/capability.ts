/**
 * Ably capabilities: a map from resource patterns to operations
 * (`{"chat:*":["publish","subscribe"]}`).
 *
 * Resource rules (ably/docs auth/capabilities.mdx): wildcards replace whole
 * `:`-separated segments; a `*` as the last segment matches one or more segments;
 * `*` alone matches every channel but no `[meta]`/`[queue]` resource; `[*]*` matches
 * everything; `foo*` is a literal name. A qualifier `[*]` matches any qualifier and
 * none (`[*]foo` covers `foo` and `[filter]foo`: Ably's docs on subscription filters).
 */
import { AblyError } from '../errors.js';

export const OPERATIONS = [
  'subscribe',
  'publish',
  'presence',
  'history',
  'stats',
  'channel-metadata',
  'push-subscribe',
  'push-admin',
  'privileged-headers',
  'object-subscribe',
  'object-publish',
  'annotation-subscribe',
  'annotation-publish',
  'message-update-own',
  'message-update-any',
  'message-delete-own',
  'message-delete-any',
] as const;
export type Operation = (typeof OPERATIONS)[number];
const KNOWN = new Set<string>(OPERATIONS);

interface Rule {
  resource: string;
  ops: ReadonlySet<Operation>;
  /** `[meta]`, `[filter]`, '' for none, or `[*]` for any (so `[*]*` matches every resource). */
  qualifier: string;
  segments: string[];
}

/** Splits `[meta]foo:bar` into its qualifier (`[meta]`) and the rest. */
function splitQualifier(name: string): { qualifier: string; rest: string } {
  if (!name.startsWith('[')) return { qualifier: '', rest: name };
  const end = name.indexOf(']');
  if (end < 0) return { qualifier: '', rest: name };
  return { qualifier: name.slice(0, end + 1), rest: name.slice(end + 1) };
}

function segmentsMatch(pattern: string[], name: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const last = i === pattern.length - 1;
    if (p === '*' && last) return name.length >= pattern.length;
    if (i >= name.length) return false;
    if (p !== '*' && p !== name[i]) return false;
  }
  return name.length === pattern.length;
}

export class Capability {
  private readonly rules: Rule[];
  private readonly cache = new Map<string, ReadonlySet<Operation>>();
  private static readonly CACHE_MAX = 1024;

  constructor(readonly raw: Readonly<Record<string, readonly string[]>>) {
    this.rules = Object.entries(raw).map(([resource, ops]) => {
      const set = new Set<Operation>(ops.includes('*') ? OPERATIONS : (ops as Operation[]));
      const { qualifier, rest } = splitQualifier(resource);
      return { resource, ops: set, qualifier, segments: rest.split(':') };
    });
  }

  /** Operations this capability allows on a channel (the channel's own name, without params). */
  opsFor(channel: string): ReadonlySet<Operation> {
    const hit = this.cache.get(channel);
    if (hit) return hit;
    const { qualifier, rest } = splitQualifier(channel);
    const segs = rest.split(':');
    const out = new Set<Operation>();
    for (const r of this.rules) {
      if ((r.qualifier === qualifier || r.qualifier === '[*]') && segmentsMatch(r.segments, segs)) {
        for (const op of r.ops) out.add(op);
      }
    }
    if (this.cache.size >= Capability.CACHE_MAX) this.cache.clear();
    this.cache.set(channel, out);
    return out;
  }

  allows(channel: string, op: Operation): boolean {
    return this.opsFor(channel).has(op);
  }

  /** Throws 40160 unless `op` is allowed on `channel`. */
  require(channel: string, op: Operation): void {
    if (!this.allows(channel, op)) {
      throw AblyError.of('notPermitted', `${op} on channel "${channel}"`);
    }
  }

  /** Canonical JSON, as Ably returns it in token details (keys sorted, ops sorted). */
  toJSON(): string {
    const out: Record<string, string[]> = {};
    for (const k of Object.keys(this.raw).sort()) out[k] = [...this.raw[k]!].sort();
    return JSON.stringify(out);
  }
}

/** Parses and validates a capability given as an object or JSON text. */
export function parseCapability(input: unknown): Capability {
  let obj = input;
  if (typeof input === 'string') {
    try {
      obj = JSON.parse(input);
    } catch {
      throw AblyError.of('invalidCredential', 'capability is not valid JSON');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw AblyError.of('invalidCredential', 'capability must be an object of resource → operations');
  }
  const raw: Record<string, string[]> = {};
  for (const [resource, ops] of Object.entries(obj)) {
    if (!resource) throw AblyError.of('invalidCredential', 'capability resource must not be empty');
    if (!Array.isArray(ops) || ops.length === 0) {
      throw AblyError.of('invalidCredential', `capability for "${resource}" must be a non-empty array of operations`);
    }
    for (const op of ops) {
      if (typeof op !== 'string' || (op !== '*' && !KNOWN.has(op))) {
        throw AblyError.of('invalidCredential', `unknown capability operation ${JSON.stringify(op)} for "${resource}"`);
      }
    }
    raw[resource] = ops as string[];
  }
  return new Capability(raw);
}

/** Whether every channel `inner` can match is matched by `outer` (resource patterns). */
export function covers(outer: string, inner: string): boolean {
  const o = splitQualifier(outer);
  const i = splitQualifier(inner);
  if (o.qualifier !== i.qualifier && o.qualifier !== '[*]') return false;
  return pathCovers(o.rest, i.rest);
}

/** covers() for names without their qualifiers. */
function pathCovers(outer: string, inner: string): boolean {
  const os = outer.split(':');
  const is = inner.split(':');
  const outerTail = os[os.length - 1] === '*';
  const innerTail = is[is.length - 1] === '*';
  // A trailing '*' matches one or more segments; only a trailing '*' can cover one.
  if (outerTail ? is.length < os.length : is.length !== os.length || innerTail) return false;
  const fixed = outerTail ? os.length - 1 : os.length;
  for (let k = 0; k < fixed; k++) {
    if (os[k] !== '*' && os[k] !== is[k]) return false;
  }
  return true;
}

/** Where one resource has `[*]` and the other another qualifier: their common resource, if one name covers the other. */
function qualifiedMeet(a: string, b: string): string | null {
  const x = splitQualifier(a);
  const y = splitQualifier(b);
  const q = x.qualifier === '[*]' ? y.qualifier : y.qualifier === '[*]' ? x.qualifier : null;
  if (q === null) return null;
  if (pathCovers(x.rest, y.rest)) return q + y.rest;
  if (pathCovers(y.rest, x.rest)) return q + x.rest;
  return null;
}

/**
 * The capability a token may have: what it asked for, cut down to what its key allows
 * (Ably: a token's capability is at most its key's). Throws 40160 when nothing is left.
 */
export function intersect(requested: Capability, key: Capability): Capability {
  const out: Record<string, Set<string>> = {};
  const add = (resource: string, ops: Iterable<string>) => {
    const set = (out[resource] ??= new Set());
    for (const op of ops) set.add(op);
  };
  for (const [rr, rops] of Object.entries(requested.raw)) {
    const rset = new Set(rops.includes('*') ? OPERATIONS : rops);
    for (const [kr, kops] of Object.entries(key.raw)) {
      const kset = new Set(kops.includes('*') ? OPERATIONS : kops);
      const both = [...rset].filter((op) => kset.has(op));
      if (both.length === 0) continue;
      if (covers(kr, rr)) add(rr, both);
      else if (covers(rr, kr)) add(kr, both);
      else {
        // A `[*]` qualifier on one side and a named one on the other: the named one, over
        // the narrower of the two names (`[*]foo:*` and `[filter]foo:bar`).
        const meet = qualifiedMeet(rr, kr);
        if (meet) add(meet, both);
      }
    }
  }
  const raw: Record<string, string[]> = {};
  for (const [r, ops] of Object.entries(out)) if (ops.size) raw[r] = [...ops].sort();
  if (Object.keys(raw).length === 0) {
    throw AblyError.of('notPermitted', 'requested capability is not a subset of the key\'s capability');
  }
  return new Capability(raw);
}
