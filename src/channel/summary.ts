/**
 * A message's annotations summed up (Ably's `annotations.summary`, TM7; ably/docs
 * messages/annotations): one entry per annotation type, made by the type's method from
 * the annotations of that type, folded in the order of their serials (so every region
 * comes to the same summary from the same annotations, whatever order they reached it in).
 *
 * - `total.v1`: `{ total }`, creates less deletes (never below 0); anyone may count.
 * - `flag.v1`: `{ total, clientIds, clipped }`: the clients that flagged it, once each.
 * - `distinct.v1`: per name, `{ total, clientIds, clipped }`: the clients that gave that
 *   name, once each; a client may give several names.
 * - `unique.v1`: as distinct, but a client stands under one name at most: a new one moves it.
 * - `multiple.v1`: per name, `{ total, clientIds: { id: count }, totalUnidentified,
 *   clipped, totalClientIds }`: counts added up, an unidentified client's in
 *   totalUnidentified.
 *
 * A delete takes back the client's contribution: to that name (all of them, for
 * multiple.v1), or to every name where it gives none; for total.v1, one count. A list of
 * clientIds is cut at MAX_SUMMARY_CLIENTS (`clipped`); the totals stay whole.
 */
import { ANNOTATION_DELETE, methodOf, type AnnotationMethod } from '../protocol/annotation.js';
import type { Message, Summary } from '../protocol/message.js';

/** clientIds listed at most per entry of a summary; past that `clipped` is set (the totals stay whole). */
export const MAX_SUMMARY_CLIENTS = 100;

/** One type's state, by its method. */
type TypeState =
  | { method: 'total.v1'; total: number }
  | { method: 'flag.v1'; clients: Set<string> }
  | { method: 'distinct.v1'; names: Map<string, Set<string>> }
  | { method: 'unique.v1'; names: Map<string, Set<string>>; nameOf: Map<string, string> }
  | { method: 'multiple.v1'; names: Map<string, { clients: Map<string, number>; unidentified: number }> };

function fresh(method: AnnotationMethod): TypeState {
  switch (method) {
    case 'total.v1':
      return { method, total: 0 };
    case 'flag.v1':
      return { method, clients: new Set() };
    case 'distinct.v1':
      return { method, names: new Map() };
    case 'unique.v1':
      return { method, names: new Map(), nameOf: new Map() };
    case 'multiple.v1':
      return { method, names: new Map() };
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  return s;
}

/** Takes `client` out of `name`'s set (every name's where `name` is undefined); drops names left empty. */
function takeOut(names: Map<string, Set<string>>, client: string, name: string | undefined): void {
  for (const [n, s] of name === undefined ? names : [[name, names.get(name)] as const]) {
    if (!s?.delete(client)) continue;
    if (s.size === 0) names.delete(n);
  }
}

/** The summary of one message's annotations, folded one at a time in their serials' order. */
export class SummaryFold {
  private readonly types = new Map<string, TypeState>();
  /** The serial of the last annotation folded in ('' before any). */
  last = '';

  /** Folds in annotation `a` (an annotation message: annotations.ts), which comes after every one before. */
  add(a: Message): void {
    const f = a.annotation!;
    this.last = f.serial ?? this.last;
    const method = methodOf(f.type);
    if (!method) return;
    let t = this.types.get(f.type);
    if (!t) this.types.set(f.type, (t = fresh(method)));
    const del = f.action === ANNOTATION_DELETE;
    const client = a.clientId;
    switch (t.method) {
      case 'total.v1':
        t.total = del ? Math.max(0, t.total - 1) : t.total + 1;
        return;
      case 'flag.v1':
        if (client === undefined) return;
        if (del) t.clients.delete(client);
        else t.clients.add(client);
        return;
      case 'distinct.v1':
        if (client === undefined) return;
        if (del) takeOut(t.names, client, a.name);
        else if (a.name !== undefined) setOf(t.names, a.name).add(client);
        return;
      case 'unique.v1': {
        if (client === undefined) return;
        const had = t.nameOf.get(client);
        if (del) {
          if (had === undefined || (a.name !== undefined && a.name !== had)) return;
          takeOut(t.names, client, had);
          t.nameOf.delete(client);
          return;
        }
        if (a.name === undefined || a.name === had) return;
        if (had !== undefined) takeOut(t.names, client, had);
        setOf(t.names, a.name).add(client);
        t.nameOf.set(client, a.name);
        return;
      }
      case 'multiple.v1': {
        if (del) {
          if (client === undefined) return;
          for (const [n, e] of a.name === undefined ? t.names : [[a.name, t.names.get(a.name)] as const]) {
            if (!e?.clients.delete(client)) continue;
            if (e.clients.size === 0 && e.unidentified === 0) t.names.delete(n);
          }
          return;
        }
        if (a.name === undefined) return;
        let e = t.names.get(a.name);
        if (!e) t.names.set(a.name, (e = { clients: new Map(), unidentified: 0 }));
        const count = f.count ?? 1;
        if (client === undefined) e.unidentified += count;
        else e.clients.set(client, (e.clients.get(client) ?? 0) + count);
        return;
      }
    }
  }

  /** The summary as clients are sent it (a new object each time: stored in an entry, it must not change). */
  summary(): Summary {
    const out: [string, unknown][] = [];
    for (const [type, t] of this.types) out.push([type, entryOf(t)]);
    return Object.fromEntries(out);
  }
}

function clientList(clients: Iterable<string>, total: number): { clientIds: string[]; clipped: boolean } {
  const clientIds: string[] = [];
  for (const c of clients) {
    if (clientIds.length === MAX_SUMMARY_CLIENTS) break;
    clientIds.push(c);
  }
  return { clientIds, clipped: total > clientIds.length };
}

function entryOf(t: TypeState): unknown {
  switch (t.method) {
    case 'total.v1':
      return { total: t.total };
    case 'flag.v1':
      return { total: t.clients.size, ...clientList(t.clients, t.clients.size) };
    case 'distinct.v1':
    case 'unique.v1':
      return Object.fromEntries([...t.names].map(([name, s]) => [name, { total: s.size, ...clientList(s, s.size) }]));
    case 'multiple.v1':
      return Object.fromEntries(
        [...t.names].map(([name, e]) => {
          const listed = [...e.clients].slice(0, MAX_SUMMARY_CLIENTS);
          let total = e.unidentified;
          for (const n of e.clients.values()) total += n;
          return [name, { total, clientIds: Object.fromEntries(listed), totalUnidentified: e.unidentified, clipped: e.clients.size > listed.length, totalClientIds: e.clients.size }];
        }),
      );
  }
}

/** Ably's order of annotations: by their own serials (strings). */
export function byAnnotationSerial(a: Message, b: Message): number {
  const x = a.annotation?.serial ?? '';
  const y = b.annotation?.serial ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The summary of these annotations (any order). */
export function summarize(annotations: readonly Message[]): Summary {
  const fold = new SummaryFold();
  for (const a of [...annotations].sort(byAnnotationSerial)) fold.add(a);
  return fold.summary();
}
