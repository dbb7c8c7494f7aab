/**
 * One fan-out measurement on one server, shared by the fan-out scenarios: the same
 * server and subscriber count is measured once per run and reused (scenario 8 reuses
 * scenario 1's 1,000-subscriber figures), so a run spends its time on new points.
 */
import { measureFanout, type FanoutOptions, type FanoutResult } from '../fanout.js';
import type { ServerDef } from '../servers/server.js';
import { withServer, type ScenarioContext } from './scenario.js';

export type FanoutOutcome = { ok: true; result: FanoutResult } | { ok: false; server: string; label: string; error: string };

/** Below this much time left, a fan-out measurement is skipped rather than cut off. */
export const FANOUT_MIN_TIME_MS = 45_000;

/** The cache key of a fan-out measurement. */
export function fanoutKey(server: string, subscribers: number): string {
  return `${server}:${subscribers}`;
}

/**
 * Measures fan-out on a fresh server, or returns this run's earlier figure for the same
 * server and subscriber count (`fresh`: measure anyway, and leave the cache alone).
 */
export async function fanoutOn(ctx: ScenarioContext, def: ServerDef, subscribers: number, extra: Partial<FanoutOptions> = {}, fresh = false): Promise<FanoutOutcome> {
  const key = fanoutKey(def.id, subscribers);
  const hit = fresh ? undefined : ctx.fanoutCache.get(key);
  if (hit) return { ok: true, result: hit };
  if (ctx.timeLeftMs() < FANOUT_MIN_TIME_MS) {
    return { ok: false, server: def.id, label: def.label, error: 'skipped: not enough of the time budget left' };
  }
  ctx.log(`fan-out: ${def.label}, ${subscribers} subscribers`);
  try {
    const s = await withServer(ctx, def, (server, loadgen) => measureFanout(server, loadgen, { ...ctx.profile.fanout, ...extra, subscribers }, ctx.log));
    const result: FanoutResult = { ...s.value, clientNotes: s.clientNotes, serverProblems: s.serverProblems };
    if (!fresh) ctx.fanoutCache.set(key, result);
    return { ok: true, result };
  } catch (e) {
    ctx.log(`  ${def.label} failed: ${(e as Error).message}`);
    return { ok: false, server: def.id, label: def.label, error: (e as Error).message.split('\n')[0]! };
  }
}
