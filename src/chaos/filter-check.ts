/**
 * The chaos check of subscription filters: the workload's filtered subscribers (every
 * fourth) attach with WORKLOAD_FILTER, an expression over the `k` header each publisher
 * sets to its message's seq modulo 4, and their `subscribe` lines say which seqs that
 * lets through. The checker expects of them only those (checkExpected), and counts as
 * leaked, failing the run, any delivery of a message their filter holds back.
 */
import type { Channel } from './checker-parts.js';

/** A subscription filter as the record states it: the subscriber takes the messages whose seq modulo `mod` is in `keep`. */
export interface SeqFilter {
  mod: number;
  keep: number[];
}

/**
 * The filtered subscribers' filter, and the expression they attach with (the publishers'
 * header `k` is seq % 4): `k` 0 or 3, written with each kind of operator.
 */
export const WORKLOAD_FILTER: SeqFilter & { expression: string } = {
  mod: 4,
  keep: [0, 3],
  expression: 'headers.k == `0` || (headers.k >= `3` && !(headers.k > `3`))',
};

/** The header the workload's publishers set on a message of `seq`. */
export function filterHeaders(seq: number): { k: number } {
  return { k: seq % WORKLOAD_FILTER.mod };
}

/** Whether a filter lets the message of `seq` through. */
export function lets(f: SeqFilter, seq: number): boolean {
  return f.keep.includes(((seq % f.mod) + f.mod) % f.mod);
}

/** The filtered subscribers' deliveries: `leaked` counts those their filter holds back (each FAILs the run). */
export interface FilterFigures {
  subscribers: number;
  delivered: number;
  leaked: number;
  /** Up to the checker's examples cap: `channel region/client got publisher#seq`. */
  examples: string[];
}

/** Over every channel's filtered subscribers; null when there were none. */
export function filterFigures(channels: Iterable<Channel>, maxExamples: number): FilterFigures | null {
  let out: FilterFigures | null = null;
  for (const c of channels) {
    for (const s of c.subs.values()) {
      if (!s.filter) continue;
      out ??= { subscribers: 0, delivered: 0, leaked: 0, examples: [] };
      out.subscribers++;
      out.delivered += s.order.length;
      for (const id of s.order) {
        const m = c.msgs[id]!;
        if (lets(s.filter, m.seq)) continue;
        out.leaked++;
        if (out.examples.length < maxExamples) out.examples.push(`${c.name} ${s.region}/${s.client} got ${m.publisher}#${m.seq}`);
      }
    }
  }
  return out;
}
