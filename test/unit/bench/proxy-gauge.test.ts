/**
 * The fault proxy's own share of the cross-region figure (src/bench/scenarios/proxy-gauge.ts):
 * a real FaultProxy on 127.0.0.1 with a delay, timestamps through it, and the transits
 * that kernel threads' bursts overlapped left out on request.
 */
import { describe, expect, it } from 'vitest';
import { nowUs } from '../../../src/bench/payload.js';
import { ProxyGauge } from '../../../src/bench/scenarios/proxy-gauge.js';
import { waitFor } from '../../helpers/wait.js';

describe('ProxyGauge', () => {
  it('times transits through a delaying proxy, and their p99 outside given windows', async () => {
    const t0 = nowUs();
    const gauge = await ProxyGauge.start(20);
    await waitFor(() => nowUs() - t0 > 400_000, { timeoutMs: 2000, intervalMs: 10, what: '400 ms of timestamps' });
    const f = await gauge.stop(20);
    const t1 = nowUs();
    expect(f.samples).toBeGreaterThan(20);
    // The delay is a floor: no transit is shorter.
    expect(f.minMs).toBeGreaterThanOrEqual(20);
    expect(f.p50Ms).toBeGreaterThanOrEqual(f.minMs);
    expect(f.p99Ms).toBeGreaterThanOrEqual(f.p50Ms);
    // No window: the same p99; a window over everything: nothing left.
    expect(gauge.outsideP99Ms([])).toBe(f.p99Ms);
    expect(gauge.outsideP99Ms([t0, t1])).toBeNaN();
    // A window over the first half leaves only transits that began after it (each 20 ms long).
    const mid = t0 + (t1 - t0) / 2;
    const late = gauge.outsideP99Ms([t0, mid]);
    expect(late).toBeGreaterThanOrEqual(20);
    expect(late).toBeLessThanOrEqual(f.maxMs);
  });
});
