/**
 * The chaos checker's token check (src/chaos/token-check.ts): clients' signed
 * TokenRequests and their replays, against the fault windows of the run.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import { formatSummary, renderScenarioMarkdown } from '../../../src/chaos/report.js';
import type { RecordEvent, TokenEvent } from '../../../src/chaos/record.js';
import { REPLAY_GRACE_MS } from '../../../src/chaos/token-check.js';
import { cleanRun, fault } from './history.js';

const REPLAYED = { code: 40105, message: 'nonce value replayed' };

function token(t: number, use: TokenEvent['use'], outcome: TokenEvent['outcome'], error?: { code: number; message: string }): RecordEvent {
  return { type: 'token', t, region: 'r1', client: 'r1-sub0', use, outcome, ...(error ? { error } : {}) };
}

/** A client's request issued at `t` and its replay refused just after. */
const refusedPair = (t: number) => [token(t, 'request', 'issued'), token(t + 5, 'replay', 'refused', REPLAYED)];

describe('check tokens', () => {
  it('has no token figures when the record has no token lines (a workload on the key)', () => {
    expect(check(cleanRun()).tokens).toBeNull();
  });

  it('passes when every replay is refused, and counts what came of each request', () => {
    const r = check([...cleanRun(), ...refusedPair(50), ...refusedPair(150), token(250, 'request', 'failed', { code: 0, message: 'timed out' })]);
    expect(r.verdict).toBe('PASS');
    expect(r.tokens).toEqual({
      requests: { issued: 2, refused: 0, failed: 1 },
      replays: { refused: 2, taken: 0, failed: 0 },
      freshRefused: 0,
      takenInFaults: 0,
      takenOutsideFaults: 0,
      examples: [],
    });
    expect(formatSummary(r)).toMatch(/tokens: requests issued 2, refused 0, failed 1; replays refused 2, taken 0/);
  });

  it('fails a replay taken outside every fault window, and names it', () => {
    const r = check([...cleanRun(), token(50, 'request', 'issued'), token(60, 'replay', 'issued')]);
    expect(r.verdict).toBe('FAIL');
    expect(r.violations).toEqual({ lost: 0, duplicates: 0, order: 0, regionOrder: 0 });
    expect(r.tokens).toMatchObject({ takenOutsideFaults: 1, takenInFaults: 0, replays: { taken: 1 } });
    expect(r.tokens!.examples).toEqual([{ kind: 'replayTaken', t: 60, region: 'r1', client: 'r1-sub0' }]);
    expect(renderScenarioMarkdown('t', r)).toMatch(/a replay taken outside every fault: r1-sub0 in r1/);
  });

  it('counts a replay taken inside a fault window, or within the grace after it, without failing', () => {
    const inside = check([...cleanRun(), fault(40, 'start'), token(50, 'request', 'issued'), token(60, 'replay', 'issued'), fault(70, 'end')]);
    expect(inside.verdict).toBe('PASS');
    expect(inside.tokens).toMatchObject({ takenInFaults: 1, takenOutsideFaults: 0 });
    const justAfter = check([...cleanRun(), fault(10, 'start'), fault(20, 'end'), token(20 + REPLAY_GRACE_MS, 'replay', 'issued')]);
    expect(justAfter.tokens).toMatchObject({ takenInFaults: 1, takenOutsideFaults: 0 });
    const later = check([...cleanRun(), fault(10, 'start'), fault(20, 'end'), token(21 + REPLAY_GRACE_MS, 'replay', 'issued')]);
    expect(later.verdict).toBe('FAIL');
    expect(later.tokens).toMatchObject({ takenInFaults: 0, takenOutsideFaults: 1 });
  });

  it("fails a client's own request refused as a replay, inside a fault too: its nonce was new", () => {
    const r = check([...cleanRun(), fault(40, 'start'), token(50, 'request', 'refused', REPLAYED), fault(70, 'end')]);
    expect(r.verdict).toBe('FAIL');
    expect(r.tokens).toMatchObject({ freshRefused: 1, requests: { issued: 0, refused: 1, failed: 0 } });
    expect(r.tokens!.examples).toEqual([{ kind: 'freshRefused', t: 50, region: 'r1', client: 'r1-sub0', detail: 'nonce value replayed' }]);
    // Refused for another reason (a clock off past the window: 40104) is counted, not failed.
    const old = check([...cleanRun(), token(50, 'request', 'refused', { code: 40104, message: 'timestamp not current' })]);
    expect(old.verdict).toBe('PASS');
    expect(old.tokens).toMatchObject({ freshRefused: 0, requests: { refused: 1 } });
  });
});
