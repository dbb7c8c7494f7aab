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
 * stay whole). A message's annotations may have MAX_ANNOTATION_TYPES types and each type
 * MAX_ANNOTATION_NAMES names (tooLarge), which bounds what a summary holds besides clients.
 */
import { ANNOTATION_DELETE, methodOf, type AnnotationMethod } from '../protocol/annotation.js';
import type { Message, Summary } from '../protocol/message.js';

/** clientIds listed at most per entry of a summary; past that `clipped` is set (the totals stay whole). */
export const MAX_SUMMARY_CLIENTS = 100;
/** clientIds listed at most in one summary, over all its entries (in the order they are listed). */
export const MAX_SUMMARY_LISTED = 1000;
/** Types a message's annotations may have, and names each type's (a new one past that is refused: 40003). */
export const MAX_ANNOTATION_TYPES = 10;
export const MAX_ANNOTATION_NAMES = 50;

/** The serial of a client's latest create and delete of something ('' for none). */
interface Latest {
  create: string;
  del: string;
}

/** A client's annotations of a distinct.v1 or unique.v1 type. */
interface Named {
  names: Map<string, Latest>;
  /** Its latest delete that named no name (it takes back every name). */
  any: string;
  /** Its latest create, and its name (unique.v1: the one it stands under, if any). */
  last: { serial: string; name: string };
}

const later = (a: string, b: string) => (a > b ? a : b);
const latest = (): Latest => ({ create: '', del: '' });

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** Per client, what its annotations of one type say. */
type TypeState =
  | { method: 'total.v1'; creates: number; deletes: number }
  | { method: 'flag.v1'; clients: Map<string, Latest> }
  /** Per client: per name its latest create and delete, its latest delete of no name, and its latest create. */
  | { method: 'distinct.v1' | 'unique.v1'; clients: Map<string, Named> }
  /** Per client and name: its latest delete of it (or of none) and the counts created since. */
  | { method: 'multiple.v1'; clients: Map<string, { names: Map<string, { del: string; counts: Map<string, number> }>; any: string }>; unidentified: Map<string, number> };

function fresh(method: AnnotationMethod): TypeState {
  switch (method) {
    case 'total.v1':
      return { method, creates: 0, deletes: 0 };
    case 'flag.v1':
      return { method, clients: new Map() };
    case 'distinct.v1':
    case 'unique.v1':
      return { method, clients: new Map() };
    case 'multiple.v1':
      return { method, clients: new Map(), unidentified: new Map() };
  }
}

/** The summary of one message's annotations, added one at a time in any order. */
export class SummaryFold {
  private readonly types = new Map<string, TypeState>();
  /** The highest serial of the annotations added ('' before any). */
  last = '';

  /**
   * Why `a` would make this summary too large (a new type past MAX_ANNOTATION_TYPES, a new
   * name past MAX_ANNOTATION_NAMES in its type: counted over every annotation added, taken
   * back or not), or null.
   */
  tooLarge(a: Message): string | null {
    const type = a.annotation!.type;
    const t = this.types.get(type);
    if (!t) return this.types.size >= MAX_ANNOTATION_TYPES ? `a message's annotations may have at most ${MAX_ANNOTATION_TYPES} types` : null;
    if (a.name === undefined || t.method === 'total.v1' || t.method === 'flag.v1') return null;
    const names = new Set<string>(t.method === 'multiple.v1' ? t.unidentified.keys() : []);
    for (const c of t.clients.values()) for (const n of c.names.keys()) names.add(n);
    return !names.has(a.name) && names.size >= MAX_ANNOTATION_NAMES ? `a message's ${type} annotations may have at most ${MAX_ANNOTATION_NAMES} names` : null;
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
    const client = a.clientId;
    if (t.method === 'total.v1') {
      if (del) t.deletes++;
      else t.creates++;
      return;
    }
    if (t.method === 'multiple.v1') {
      const count = f.count ?? 1;
      if (client === undefined) {
        if (!del && a.name !== undefined) t.unidentified.set(a.name, (t.unidentified.get(a.name) ?? 0) + count);
        return;
      }
      const c = entry(t.clients, client, () => ({ names: new Map(), any: '' }));
      if (del && a.name === undefined) {
        c.any = later(c.any, serial);
        for (const n of c.names.values()) dropBefore(n.counts, c.any);
        return;
      }
      if (a.name === undefined) return;
      const n = entry(c.names, a.name, () => ({ del: '', counts: new Map() }));
      if (del) {
        n.del = later(n.del, serial);
        dropBefore(n.counts, n.del);
      } else if (serial > n.del && serial > c.any) n.counts.set(serial, count);
      return;
    }
    if (client === undefined) return;
    if (t.method === 'flag.v1') {
      const l = entry(t.clients, client, latest);
      if (del) l.del = later(l.del, serial);
      else l.create = later(l.create, serial);
      return;
    }
    const c = entry(t.clients, client, (): Named => ({ names: new Map(), any: '', last: { serial: '', name: '' } }));
    if (del && a.name === undefined) {
      c.any = later(c.any, serial);
      return;
    }
    if (a.name === undefined) return;
    const l = entry(c.names, a.name, latest);
    if (del) l.del = later(l.del, serial);
    else {
      l.create = later(l.create, serial);
      if (serial > c.last.serial) c.last = { serial, name: a.name };
    }
  }

  /** The summary as clients are sent it (a new object each time: stored in an entry, it must not change). */
  summary(): Summary {
    const budget = { left: MAX_SUMMARY_LISTED };
    const out: [string, unknown][] = [];
    for (const type of [...this.types.keys()].sort()) out.push([type, entryOf(this.types.get(type)!, budget)]);
    return Object.fromEntries(out);
  }
}

/** Drops the counts created at or before `cutoff`. */
function dropBefore(counts: Map<string, number>, cutoff: string): void {
  for (const s of counts.keys()) if (s <= cutoff) counts.delete(s);
}

/** The clients that stand in one entry, sorted. */
function standing(t: Exclude<TypeState, { method: 'total.v1' | 'multiple.v1' }>): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const [client, c] of [...t.clients].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (t.method === 'flag.v1') {
      if ((c as Latest).create > (c as Latest).del) entry(byName, '', () => []).push(client);
      continue;
    }
    const d = c as Named;
    for (const [name, l] of d.names) {
      const stands = t.method === 'unique.v1' ? d.last.name === name && l.create === d.last.serial && l.create > l.del && l.create > d.any : l.create > l.del && l.create > d.any;
      if (stands) entry(byName, name, () => []).push(client);
    }
  }
  return byName;
}

function listed(clients: string[], budget: { left: number }): { clientIds: string[]; clipped: boolean } {
  const n = Math.min(clients.length, MAX_SUMMARY_CLIENTS, budget.left);
  budget.left -= n;
  return { clientIds: clients.slice(0, n), clipped: clients.length > n };
}

const sortedNames = (m: Map<string, unknown>) => [...m.keys()].sort();

function entryOf(t: TypeState, budget: { left: number }): unknown {
  if (t.method === 'total.v1') return { total: Math.max(0, t.creates - t.deletes) };
  if (t.method === 'flag.v1') {
    const clients = standing(t).get('') ?? [];
    return { total: clients.length, ...listed(clients, budget) };
  }
  if (t.method !== 'multiple.v1') {
    const byName = standing(t);
    return Object.fromEntries(sortedNames(byName).map((name) => [name, { total: byName.get(name)!.length, ...listed(byName.get(name)!, budget) }]));
  }
  // multiple.v1: per name, each client's counts since its latest delete, and the unidentified's.
  const byName = new Map<string, { clients: [string, number][]; unidentified: number }>();
  for (const [name, n] of t.unidentified) entry(byName, name, () => ({ clients: [], unidentified: 0 })).unidentified = n;
  for (const [client, c] of t.clients) {
    for (const [name, n] of c.names) {
      let sum = 0;
      for (const [s, k] of n.counts) if (s > c.any) sum += k;
      if (sum > 0) entry(byName, name, () => ({ clients: [], unidentified: 0 })).clients.push([client, sum]);
    }
  }
  return Object.fromEntries(
    sortedNames(byName).map((name) => {
      const e = byName.get(name)!;
      e.clients.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const { clientIds, clipped } = listed(e.clients.map(([c]) => c), budget);
      const total = e.clients.reduce((s, [, k]) => s + k, e.unidentified);
      return [name, { total, clientIds: Object.fromEntries(e.clients.slice(0, clientIds.length)), totalUnidentified: e.unidentified, clipped, totalClientIds: e.clients.length }];
    }),
  );
}

/** The summary of these annotations (any order). */
export function summarize(annotations: readonly Message[]): Summary {
  const fold = new SummaryFold();
  for (const a of annotations) fold.add(a);
  return fold.summary();
}
