/**
 * A message's annotations summed up (Ably's `annotations.summary`, TM7; ably/docs
 * messages/annotations): one entry per annotation type, made by the type's method from
 * the annotations of that type. Each client's contribution is decided by its latest
 * annotations (by their serials), so the summary of a set of annotations is the same
 * whatever order they are added in: every region comes to the same summary from the same
 * annotations, and one that comes out of order (another region's) is simply added.
 *
 * - `total.v1`: `{ total }`, creates less deletes (never below 0); anyone may count.
 * - `flag.v1`: `{ total, clientIds, clipped }`: the clients whose latest is a create.
 * - `distinct.v1`: per name, `{ total, clientIds, clipped }`: the clients that gave that
 *   name and have not taken it back since; a client may give several names.
 * - `unique.v1`: as distinct, but a client stands under the name of its latest create
 *   only, unless a delete of that name (or of none) came after it.
 * - `multiple.v1`: per name, `{ total, clientIds: { id: count }, totalUnidentified,
 *   clipped, totalClientIds }`: a client's counts since its latest delete of that name
 *   (or of none) added up; an unidentified client's, which cannot be taken back, apart.
 *
 * Names, clientIds and types are listed in order (sorted), a list of clientIds cut at
 * MAX_SUMMARY_CLIENTS and all of a summary's at MAX_SUMMARY_LISTED (`clipped`; the totals
 * stay whole), and at MAX_SUMMARY_LISTED_CHARS characters. A message's annotations may
 * have MAX_ANNOTATION_TYPES types and each type MAX_ANNOTATION_NAMES names (tooLarge), of
 * 256 characters at most (protocol/annotation.ts): a summary is bounded in size.
 */
import { insertSorted } from '../sorted.js';
import { ANNOTATION_DELETE, methodOf, type AnnotationMethod } from '../protocol/annotation.js';
import type { Message, Summary } from '../protocol/message.js';

/** clientIds listed at most per entry of a summary; past that `clipped` is set (the totals stay whole). */
export const MAX_SUMMARY_CLIENTS = 100;
/** clientIds listed at most in one summary, over all its entries (in the order they are listed), and their characters. */
export const MAX_SUMMARY_LISTED = 1000;
export const MAX_SUMMARY_LISTED_CHARS = 32 * 1024;
/** Types a message's annotations may have, and names each type's (a new one past that is refused: 40003). */
export const MAX_ANNOTATION_TYPES = 10;
export const MAX_ANNOTATION_NAMES = 50;

/** The serial of a client's latest create and delete of something ('' for none). */
interface Latest {
  create: string;
  del: string;
}

const later = (a: string, b: string) => (a > b ? a : b);
const latest = (): Latest => ({ create: '', del: '' });

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** What a client's annotations of a flag.v1, distinct.v1 or unique.v1 type say. */
interface Named {
  /** Per name its latest create and delete (flag.v1: one name, ''). */
  names: Map<string, Latest>;
  /** Its latest delete that named no name (it takes back every name). */
  any: string;
  /** Its latest create, and its name (unique.v1: the one it stands under, if any). */
  last: { serial: string; name: string };
  /** Where it stands now, and with what (1; a multiple.v1 client: its count). */
  at: Map<string, number>;
}

/** What a client's annotations of a multiple.v1 type say: per name its latest delete and the counts created since. */
interface Counted {
  names: Map<string, { del: string; counts: Map<string, number> }>;
  any: string;
  at: Map<string, number>;
}

/** Per client, what its annotations of one type say, and who stands where (kept as each comes). */
type TypeState =
  | { method: 'total.v1'; creates: number; deletes: number }
  | ({ method: 'flag.v1' | 'distinct.v1' | 'unique.v1'; clients: Map<string, Named> } & Standing)
  | ({ method: 'multiple.v1'; clients: Map<string, Counted>; unidentified: Map<string, number> } & Standing);

interface Standing {
  /** Every name given by a create (also taken back since): the limit on names counts these. */
  seen: Set<string>;
  /** Per name, the clients that stand under it, with their counts (1 but for multiple.v1), and their sum. */
  stand: Map<string, { clients: Map<string, number>; sum: number }>;
}

function fresh(method: AnnotationMethod): TypeState {
  if (method === 'total.v1') return { method, creates: 0, deletes: 0 };
  const standing: Standing = { seen: new Set(), stand: new Map() };
  if (method === 'multiple.v1') return { method, clients: new Map(), unidentified: new Map(), ...standing };
  return { method, clients: new Map(), ...standing };
}

/** Where a client stands now, from what its annotations say. */
function placesOf(method: AnnotationMethod, c: Named | Counted): Map<string, number> {
  const at = new Map<string, number>();
  if (method === 'multiple.v1') {
    for (const [name, n] of (c as Counted).names) {
      let sum = 0;
      for (const [s, k] of n.counts) if (s > c.any && s > n.del) sum += k;
      if (sum > 0) at.set(name, sum);
    }
    return at;
  }
  const d = c as Named;
  for (const [name, l] of d.names) {
    if (!(l.create > l.del && l.create > d.any)) continue;
    if (method === 'unique.v1' && !(d.last.name === name && l.create === d.last.serial)) continue;
    at.set(name, 1);
  }
  return at;
}

/** Moves `client` to where its annotations now say it stands. */
function restand(t: Exclude<TypeState, { method: 'total.v1' }>, client: string, c: Named | Counted): void {
  const now = placesOf(t.method, c);
  for (const [name, k] of c.at) {
    if (now.get(name) === k) continue;
    const e = t.stand.get(name)!;
    e.clients.delete(client);
    e.sum -= k;
    if (e.clients.size === 0) t.stand.delete(name);
  }
  for (const [name, k] of now) {
    if (c.at.get(name) === k) continue;
    const e = entry(t.stand, name, () => ({ clients: new Map<string, number>(), sum: 0 }));
    e.clients.set(client, k);
    e.sum += k;
  }
  c.at = now;
}

/** A batch's new types and names (by type) of one message, before they are added: tooLarge counts them. */
export interface Pending {
  types: Set<string>;
  names: Map<string, Set<string>>;
}

const NONE: ReadonlySet<string> = new Set();

/** The summary of one message's annotations, added one at a time in any order. */
export class SummaryFold {
  private readonly types = new Map<string, TypeState>();
  /** The highest serial of the annotations added ('' before any). */
  last = '';

  /**
   * Why `a` would make this summary too large (a new type past MAX_ANNOTATION_TYPES, a new
   * name past MAX_ANNOTATION_NAMES in its type: counted over every create added, taken
   * back or not, and those of `pending`, a batch's before it), or null. A delete makes
   * nothing larger. Notes `a`'s type and name in `pending`.
   */
  tooLarge(a: Message, pending: Pending): string | null {
    const f = a.annotation!;
    if (f.action === ANNOTATION_DELETE) return null;
    const t = this.types.get(f.type);
    if (!t && !pending.types.has(f.type)) {
      if (this.types.size + pending.types.size >= MAX_ANNOTATION_TYPES) return `a message's annotations may have at most ${MAX_ANNOTATION_TYPES} types`;
      pending.types.add(f.type);
    }
    const method = methodOf(f.type);
    const name = method === 'flag.v1' || method === 'total.v1' ? undefined : a.name;
    if (name === undefined) return null;
    const seen = t && t.method !== 'total.v1' ? t.seen : NONE;
    const more = entry(pending.names, f.type, () => new Set<string>());
    if (seen.has(name) || more.has(name)) return null;
    if (seen.size + more.size >= MAX_ANNOTATION_NAMES) return `a message's ${f.type} annotations may have at most ${MAX_ANNOTATION_NAMES} names`;
    more.add(name);
    return null;
  }

  /** Adds annotation `a` (an annotation message: annotations.ts). Each is added once. */
  add(a: Message): void {
    const f = a.annotation!;
    const serial = f.serial ?? '';
    this.last = later(this.last, serial);
    const method = methodOf(f.type);
    if (!method) return;
    const t = entry(this.types, f.type, () => fresh(method));
    const del = f.action === ANNOTATION_DELETE;
    if (t.method === 'total.v1') {
      if (del) t.deletes++;
      else t.creates++;
      return;
    }
    const client = a.clientId;
    const name = t.method === 'flag.v1' ? '' : a.name;
    if (name !== undefined && !del) t.seen.add(name);
    if (t.method === 'multiple.v1') {
      if (client === undefined) {
        if (!del && name !== undefined) t.unidentified.set(name, (t.unidentified.get(name) ?? 0) + (f.count ?? 1));
        return;
      }
      const c = entry(t.clients, client, (): Counted => ({ names: new Map(), any: '', at: new Map() }));
      if (del && name === undefined) c.any = later(c.any, serial);
      else if (name !== undefined) {
        const n = entry(c.names, name, () => ({ del: '', counts: new Map<string, number>() }));
        if (del) n.del = later(n.del, serial);
        else n.counts.set(serial, f.count ?? 1);
        dropBefore(n.counts, later(n.del, c.any));
      }
      restand(t, client, c);
      return;
    }
    if (client === undefined) return;
    const c = entry(t.clients, client, (): Named => ({ names: new Map(), any: '', last: { serial: '', name: '' }, at: new Map() }));
    if (del && name === undefined) c.any = later(c.any, serial);
    else if (name !== undefined) {
      const l = entry(c.names, name, latest);
      if (del) l.del = later(l.del, serial);
      else {
        l.create = later(l.create, serial);
        if (serial > c.last.serial) c.last = { serial, name };
      }
    }
    restand(t, client, c);
  }

  /** The summary as clients are sent it (a new object each time: stored in an entry, it must not change). */
  summary(): Summary {
    const budget: Budget = { left: MAX_SUMMARY_LISTED, chars: MAX_SUMMARY_LISTED_CHARS };
    const out: [string, unknown][] = [];
    for (const type of [...this.types.keys()].sort()) out.push([type, entryOf(this.types.get(type)!, budget)]);
    return Object.fromEntries(out);
  }
}

/** Drops the counts created at or before `cutoff`. */
function dropBefore(counts: Map<string, number>, cutoff: string): void {
  for (const s of counts.keys()) if (s <= cutoff) counts.delete(s);
}

/**
 * A map's keys sorted, kept: clients are only ever added to a fold's maps, so one of the
 * same size has the same keys, and a larger one has those and, last in its order, the new
 * ones, each put in its place (a summary is made at every annotation: sorting a thousand
 * clients each time was most of its cost, and re-sorting 33,000 at each new client took
 * 8 ms, a review found).
 */
const sortedKeys = new WeakMap<Map<string, unknown>, string[]>();
function sorted(m: Map<string, unknown>): string[] {
  let keys = sortedKeys.get(m);
  if (keys && keys.length === m.size) return keys;
  if (!keys || keys.length > m.size) {
    sortedKeys.set(m, (keys = [...m.keys()].sort()));
    return keys;
  }
  let seen = 0;
  const had = keys.length;
  for (const k of m.keys()) {
    if (seen++ >= had) insertSorted(keys, k);
  }
  return keys;
}

/** What a summary may still list: clientIds, and their characters. */
interface Budget {
  left: number;
  chars: number;
}

/**
 * The first clients of `stand` in order (as many as an entry may list and the budget
 * leaves), and whether that is all: read from the type's sorted clients (`all`), or
 * where few of them stand here, from these sorted.
 */
function listed(all: Map<string, unknown>, stand: Map<string, number>, budget: Budget): { clientIds: string[]; clipped: boolean } {
  const n = Math.min(stand.size, MAX_SUMMARY_CLIENTS, budget.left);
  const clientIds: string[] = [];
  if (n > 0) {
    for (const c of stand.size * 8 < all.size ? [...stand.keys()].sort() : sorted(all)) {
      if (!stand.has(c)) continue;
      if (c.length > budget.chars) break;
      budget.chars -= c.length;
      clientIds.push(c);
      if (clientIds.length === n) break;
    }
  }
  budget.left -= clientIds.length;
  return { clientIds, clipped: stand.size > clientIds.length };
}

const NO_ONE = new Map<string, number>();

function entryOf(t: TypeState, budget: Budget): unknown {
  if (t.method === 'total.v1') return { total: Math.max(0, t.creates - t.deletes) };
  if (t.method === 'flag.v1') {
    const stand = t.stand.get('')?.clients ?? NO_ONE;
    return { total: stand.size, ...listed(t.clients, stand, budget) };
  }
  if (t.method !== 'multiple.v1') {
    return Object.fromEntries([...t.stand.keys()].sort().map((name) => {
      const stand = t.stand.get(name)!.clients;
      return [name, { total: stand.size, ...listed(t.clients, stand, budget) }];
    }));
  }
  // multiple.v1: per name, each client's counts since its latest delete, and the unidentified's.
  const names = new Set([...t.stand.keys(), ...t.unidentified.keys()]);
  return Object.fromEntries(
    [...names].sort().map((name) => {
      const e = t.stand.get(name);
      const stand = e?.clients ?? NO_ONE;
      const unidentified = t.unidentified.get(name) ?? 0;
      const { clientIds, clipped } = listed(t.clients, stand, budget);
      return [name, { total: (e?.sum ?? 0) + unidentified, clientIds: Object.fromEntries(clientIds.map((c) => [c, stand.get(c)!])), totalUnidentified: unidentified, clipped, totalClientIds: stand.size }];
    }),
  );
}

/** The summary of these annotations (any order). */
export function summarize(annotations: readonly Message[]): Summary {
  const fold = new SummaryFold();
  for (const a of annotations) fold.add(a);
  return fold.summary();
}
