/** Helpers shared by the benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/** A port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** p-th percentile of sorted values (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** The median of the finite values, NaN if none (an empty set's percentile is NaN, and null once it has crossed IPC). */
export function finiteMedian(values: readonly (number | null | undefined)[]): number {
  return median(values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` over `items` with at most `limit` in flight at once. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** The value after `--name` on a standalone bench script's command line, if given. */
export function argOf(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * A standalone bench script's result: one JSON line on stdout and, with `out`, the same
 * (indented) in `out/<stem>-<date>.json`.
 */
export function emitResult(stem: string, result: { date: string }, out: string | undefined): void {
  console.log(JSON.stringify(result));
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `${stem}-${result.date.slice(0, 10)}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
}
