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
  it('times transits through a delaying proxy, and leaves out on request those that overlapped given windows', async () => {
    const gauge = await ProxyGauge.start(20);
    // After start: timestamps go out from here on, so each half of [t0, t1] holds about
    // half of them, however long the start took on a busy machine.
    const t0 = nowUs();
    await waitFor(() => gauge.samples >= 60, { timeoutMs: 5000, intervalMs: 10, what: '60 timestamps through the proxy' });
    const f = await gauge.stop(20);
    const t1 = nowUs();
    expect(f.samples).toBeGreaterThanOrEqual(60);
    // The delay is a floor: no transit is shorter.
    expect(f.minMs).toBeGreaterThanOrEqual(20);
    expect(f.p50Ms).toBeGreaterThanOrEqual(f.minMs);
    expect(f.p99Ms).toBeGreaterThanOrEqual(f.p50Ms);
    // No window: every transit, the same p99; a window over everything: none left.
    expect(gauge.outside([])).toEqual({ share: 1, p50Ms: f.p50Ms, p99Ms: f.p99Ms });
    expect(gauge.outside([t0, t1]).share).toBe(0);
    // A window over either half leaves the transits of the other (those across the middle in neither).
    const mid = t0 + (t1 - t0) / 2;
    const [late, early] = [gauge.outside([t0, mid]), gauge.outside([mid, t1])];
    for (const o of [late, early]) {
      expect(o.share).toBeGreaterThan(0.2);
      expect(o.share).toBeLessThan(0.8);
      expect(o.p99Ms).toBeGreaterThanOrEqual(20);
      expect(o.p99Ms).toBeLessThanOrEqual(f.maxMs);
    }
    expect(late.share + early.share).toBeLessThanOrEqual(1);
    expect(late.share + early.share).toBeGreaterThan(0.8);
  });
});
