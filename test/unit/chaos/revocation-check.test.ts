/**
 * The chaos checker's revocation check (src/chaos/revocation-check.ts): every region a
 * revocation names must refuse its probe's token before the record's end.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { formatSummary } from '../../../src/chaos/report.js';
import { cleanRun, end, fault } from './history.js';

const made = (t: number, clientId = 'probe-0'): RecordEvent => ({ type: 'revocation', t, region: 'r1', clientId, nodes: ['r1-1', 'r2-1'] });
const seen = (t: number, region: string, clientId = 'probe-0'): RecordEvent => ({ type: 'revoked', t, region, node: `${region}-1`, clientId });

describe('check revocations', () => {
  it('has no revocation figures when the record has none', () => {
    expect(check(cleanRun()).revocations).toBeNull();
  });

  it("passes when every node refused each revocation's token, and says how soon, outside faults apart", () => {
    const r = check([...cleanRun().filter((e) => e.type !== 'end'), made(100), seen(105, 'r1'), seen(180, 'r2'), fault(190, 'start'), made(200, 'probe-1'), seen(210, 'r1', 'probe-1'), seen(450, 'r2', 'probe-1'), fault(400, 'end'), end(1000)]);
    expect(r.verdict).toBe('PASS');
    expect(r.revocations).toEqual({
      revocations: 2,
      checks: 4,
      refused: 4,
      unseenCount: 0,
      unseen: [],
      allMs: { p50: 10, max: 250 },
      outsideFaultsMs: { p50: 5, max: 80, count: 2 },
    });
    expect(formatSummary(r)).toMatch(/revocations: 2 made; 4 of 4 \(revocation, node\) refused before the end, 0 not/);
  });

  it('fails a node that still took a revoked token at the end, and names it', () => {
    const r = check([...cleanRun().filter((e) => e.type !== 'end'), made(100), seen(105, 'r1'), end(1000), seen(1200, 'r2')]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.revocations).toMatchObject({ checks: 2, refused: 1, unseenCount: 1, unseen: [{ clientId: 'probe-0', node: 'r2-1', revokedAt: 100, through: 'r1' }] });
    expect(formatSummary(r)).toMatch(/r2-1 still took the token of probe-0, revoked through r1/);
  });
});
