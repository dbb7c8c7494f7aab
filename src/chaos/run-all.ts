/**
 * Runs chaos scenarios one after another and writes the combined report
 * (`ably-ng chaos run …`, `make chaos`).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { historyOff, writeCombinedReport } from './report.js';
import { runScenario, type RunOptions, type RunResult } from './runner.js';
import { serialsOff } from './serial-check.js';
import { versionsOff } from './versions-check.js';
export { stopActiveRuns } from './runner.js';
import { writeRandomScenario, type RandomOptions } from './random.js';
import { loadScenario } from './scenario.js';

export async function runScenarios(files: string[], outDir: string, log: Logger, print: (line: string) => void, o: RunOptions = {}): Promise<boolean> {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const scenarios = files.map(loadScenario);
  const results: RunResult[] = [];
  for (const s of scenarios) {
    const started = Date.now();
    print(`scenario ${s.name}: running (${s.durationS} s of traffic)…`);
    const r = await runScenario(s, join(out, s.name), log, o);
    results.push(r);
    const v = r.report.violations;
    print(
      `scenario ${s.name}: ${r.report.verdict}${s.expect === 'fail' ? ' (expected FAIL)' : ''} — ` +
        `lost ${v.lost}, duplicates ${v.duplicates}, order ${v.order}, region order ${v.regionOrder}` +
        (r.report.presence ? `, presence views off ${r.report.presence.mismatched} of ${r.report.presence.views}` : '') +
        (r.report.occupancy ? `, occupancy views off ${r.report.occupancy.mismatched} of ${r.report.occupancy.views}` : '') +
        (r.report.deltas ? `, deltas ${r.report.deltas.decoded} of ${r.report.deltas.received} (re-attached ${r.report.deltas.reattached})` : '') +
        (r.report.filters ? `, filtered ${r.report.filters.delivered} (leaked ${r.report.filters.leaked})` : '') +
        (r.report.serials ? `, serials off ${serialsOff(r.report.serials)} of ${r.report.serials.messages}` : '') +
        (r.report.versions ? `, versions off ${versionsOff(r.report.versions)} (${r.report.versions.appends.acked} appends, ${r.report.versions.annotations.acked} annotations)` : '') +
        (r.report.history ? `, history off ${historyOff(r.report)} of ${r.report.history.expected}` : '') +
        (r.report.lifecycle ? `, lifecycle off ${r.report.lifecycle.repeated + r.report.lifecycle.missing + r.report.lifecycle.unread} of ${r.report.lifecycle.events} events` : '') +
        (r.report.tokens ? `, tokens ${r.report.tokens.requests.issued} (replays taken ${r.report.tokens.replays.taken}, outside faults ${r.report.tokens.takenOutsideFaults}; fresh refused ${r.report.tokens.freshRefused})` : '') +
        (r.report.revocations ? `, revocations refused ${r.report.revocations.refused} of ${r.report.revocations.checks} (max ${r.report.revocations.allMs.max ?? '–'} ms)` : '') +
        ` — ${((Date.now() - started) / 1000).toFixed(0)} s${r.asExpected ? '' : '  ← NOT AS EXPECTED'}`,
    );
    for (const f of r.failedActions) print(`  action ${f.action} at ${f.at} s failed, the run went on without it: ${f.error}`);
  }
  await writeCombinedReport(
    join(out, 'REPORT.md'),
    results.map((r) => ({ scenario: r.scenario.name, report: r.report, files: r.files, description: r.scenario.description })),
  );
  print(`report: ${join(out, 'REPORT.md')}`);
  return results.every((r) => r.asExpected) && results.length > 0 && results.every((r) => r.scenario.expect === 'fail' || r.report.verdict === 'PASS');
}

/** `seed` is the first seed: the runs take seed, seed + 1, … */
export interface RandomRuns extends RandomOptions {
  runs: number;
}

/**
 * `ably-ng chaos random`: writes the scenario of each seed to `outDir/random-SEED.yaml`
 * and runs them all as `chaos run` would (one line each, and the combined report).
 */
export async function runRandom(o: RandomRuns, outDir: string, log: Logger, print: (line: string) => void, run: RunOptions = {}): Promise<boolean> {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < o.runs; i++) files.push(writeRandomScenario({ ...o, seed: o.seed + i }, out));
  print(`seeds ${o.seed}${o.runs > 1 ? `–${o.seed + o.runs - 1}` : ''}: scenarios in ${out} (repeat one with: ably-ng chaos run FILE)`);
  return runScenarios(files, out, log, print, run);
}
