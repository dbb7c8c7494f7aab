/**
 * What one busy channel's deduplication window costs, per id and in stalls: the window
 * kept off the JS heap (channel/dedup.ts) against the Map-and-arrays window it replaced
 * (map-dedup.ts), the same operations in the same run.
 *
 * A master looks each id up and adds it (`lookup` + `addNew`); a replica only adds
 * (`add`). Ids come at `--rate` per second of simulated time and expire after
 * `--window-s`, with the expiry pass every 0.1 s as the registry's sliced sweep runs it,
 * so the window holds rate × window ids once full. Figures are taken after it is full
 * (steady state): ns per id, the longest single call (a stall: rehash, compaction,
 * or a garbage collection it set off) and the time in calls over 1 ms; with
 * `--expose-gc`, the JS heap and the off-heap bytes held with the window full. The
 * longest call while it fills is apart (`fillMaxCallMs`): a window that grows by
 * copying everything stalls there, once per doubling.
 *
 * Usage: node [--expose-gc] dist/bench/dedup-window.js [--rate 16000] [--window-s 60]
 *        [--rounds 2] [--out DIR] → one JSON line on stdout; with --out, also
 *        DIR/dedup-window-<date>.json.
 */
import { DedupWindow } from '../channel/dedup.js';
import { MapDedupWindow } from './map-dedup.js';
import { argOf, emitResult, median } from './util.js';

interface Window {
  lookup(id: string): string | undefined;
  add(id: string, serial: string, at: number): void;
  addNew(id: string, serial: string, at: number): void;
  expire(now: number, windowMs: number): void;
}

interface Run {
  nsPerId: number;
  maxCallMs: number;
  fillMaxCallMs: number;
  msInCallsOver1Ms: number;
  heapMB: number | null;
  arrayBuffersMB: number | null;
}

const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { heapMB: number; arrayBuffersMB: number } | null {
  if (!gc) return null;
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heapMB: m.heapUsed / 1e6, arrayBuffersMB: m.arrayBuffers / 1e6 };
}

function run(make: () => Window, master: boolean, rate: number, windowMs: number): Run {
  const before = memory();
  const w = make();
  const fill = Math.round((rate * windowMs) / 1000);
  const total = fill * 3;
  const sweepEvery = Math.max(1, Math.round(rate / 10));
  let steadyNs = 0;
  let max = 0;
  let fillMax = 0;
  let over = 0;
  for (let i = 0; i < total; i++) {
    const now = (i * 1000) / rate;
    const id = `conn-${i % 997}:${i}:0`;
    const serial = `eu~k3b9x~${i}`;
    const t0 = process.hrtime.bigint();
    if (master) {
      if (w.lookup(id) === undefined) w.addNew(id, serial, now);
    } else {
      w.add(id, serial, now);
    }
    if (i % sweepEvery === 0) w.expire(now, windowMs);
    const ns = Number(process.hrtime.bigint() - t0);
    if (i < fill) {
      if (ns > fillMax) fillMax = ns;
      continue;
    }
    steadyNs += ns;
    if (ns > max) max = ns;
    if (ns > 1e6) over += ns;
  }
  const after = memory();
  const result: Run = {
    nsPerId: Math.round(steadyNs / (total - fill)),
    maxCallMs: +(max / 1e6).toFixed(2),
    fillMaxCallMs: +(fillMax / 1e6).toFixed(2),
    msInCallsOver1Ms: +(over / 1e6).toFixed(1),
    heapMB: before && after ? +(after.heapMB - before.heapMB).toFixed(1) : null,
    arrayBuffersMB: before && after ? +(after.arrayBuffersMB - before.arrayBuffersMB).toFixed(1) : null,
  };
  // Keep the window alive until measured.
  if (w.lookup('none') !== undefined) throw new Error('unreachable');
  return result;
}

function main(): void {
  const rate = Number(argOf('--rate') ?? 16_000);
  const windowMs = Number(argOf('--window-s') ?? 60) * 1000;
  const rounds = Number(argOf('--rounds') ?? 2);
  const kinds = { 'off-heap (DedupWindow)': () => new DedupWindow(), 'Map and arrays (before)': () => new MapDedupWindow() };
  const runs: Record<string, Run[]> = {};
  for (let r = 0; r < rounds; r++) {
    // Alternated, so that neither always runs first.
    const order = Object.entries(kinds);
    if (r % 2) order.reverse();
    for (const [name, make] of order) {
      for (const role of ['master', 'replica'] as const) (runs[`${name}, ${role}`] ??= []).push(run(make, role === 'master', rate, windowMs));
    }
  }
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, rs]) => [
      k,
      {
        nsPerId: median(rs.map((x) => x.nsPerId)),
        maxCallMs: median(rs.map((x) => x.maxCallMs)),
        fillMaxCallMs: median(rs.map((x) => x.fillMaxCallMs)),
        msInCallsOver1Ms: median(rs.map((x) => x.msInCallsOver1Ms)),
        heapMB: rs[0]!.heapMB === null ? null : median(rs.map((x) => x.heapMB!)),
        arrayBuffersMB: rs[0]!.arrayBuffersMB === null ? null : median(rs.map((x) => x.arrayBuffersMB!)),
      },
    ]),
  );
  const result = { date: new Date().toISOString(), node: process.version, rate, windowMs, idsHeld: Math.round((rate * windowMs) / 1000), rounds, summary, runs };
  emitResult('dedup-window', result, argOf('--out'));
}

main();
