import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { check } from '../../../src/chaos/checker.js';
import { formatSummary, renderCombinedReport, renderScenarioMarkdown, renderTimelineSvg, writeCombinedReport, writeScenarioReport } from '../../../src/chaos/report.js';
import type { RecordEvent } from '../../../src/chaos/record.js';
import { cleanRun, fault } from './history.js';

/**
 * A small XML well-formedness check: every tag is syntactically whole with quoted
 * attributes, tags nest and close in order, there is one root, and text holds no raw
 * `<` or a bare `&`.
 */
function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const tag = /<[^>]*>/g;
  let last = 0;
  const text = (s: string) => {
    if (s.includes('<')) problems.push(`raw < in text: ${s.slice(0, 40)}`);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(s)) problems.push(`bare & in text: ${s.slice(0, 40)}`);
  };
  for (let m = tag.exec(xml); m; m = tag.exec(xml)) {
    text(xml.slice(last, m.index));
    last = m.index + m[0].length;
    const t = m[0];
    if (t.startsWith('<?') || t.startsWith('<!--')) continue;
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>$/.exec(t);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open}>`);
      continue;
    }
    const open = /^<([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(t);
    if (!open) {
      problems.push(`malformed tag ${t.slice(0, 60)}`);
      continue;
    }
    if (stack.length === 0) roots++;
    if (open[3] !== '/') stack.push(open[1] as string);
    const attrs = open[2] ?? '';
    for (const a of attrs.matchAll(/"([^"]*)"/g)) text(a[1] as string);
  }
  text(xml.slice(last));
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

function faultyReport() {
  return check([
    ...cleanRun(['c:2']),
    fault(150, 'start', 'partition', 'r1-r2'),
    fault(260, 'end', 'partition', 'r1-r2'),
    fault(400, 'start', 'kill <n2> & "friends"', 'n2'),
  ]);
}

describe('renderTimelineSvg', () => {
  it('draws a well-formed SVG', () => {
    const svg = renderTimelineSvg(faultyReport(), 'partition & heal');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('shades every fault window across both panels and labels it', () => {
    const svg = renderTimelineSvg(faultyReport(), 'partition & heal');
    const shaded = [...svg.matchAll(/<rect class="fault" x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="(\d+)"/g)];
    expect(shaded).toHaveLength(2);
    const heights = shaded.map((m) => Number(m[4]));
    expect(heights.every((h) => h > 300)).toBe(true);
    expect(Number(shaded[0]?.[3])).toBeGreaterThan(1);
    expect(svg).toContain('>partition r1-r2</text>');
    expect(svg).toContain('>kill &lt;n2&gt; &amp; &quot;friends&quot; n2 (no end)</text>');
  });

  it('draws one throughput and one latency line per region', () => {
    const svg = renderTimelineSvg(check(cleanRun()));
    expect(svg.match(/<path d="M/g)).toHaveLength(4);
    expect(svg).toContain('>r1</text>');
    expect(svg).toContain('>r2</text>');
    expect(svg).toContain('deliveries / s');
    expect(svg).toContain('p50 latency (ms, log scale)');
  });

  it('stays well-formed for an empty record', () => {
    const svg = renderTimelineSvg(check([]));
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toContain('no deliveries');
  });
});

describe('renderScenarioMarkdown', () => {
  it('gives the verdict, the violations with examples and the figures', () => {
    const md = renderScenarioMarkdown('partition-and-heal', faultyReport(), { description: 'Cut r1 from r2 for a while, then heal.' });
    expect(md).toMatch(/^# Chaos scenario partition-and-heal: FAIL\n/);
    expect(md).toContain('Cut r1 from r2 for a while, then heal.');
    expect(md).toContain('| lost (acknowledged, never delivered, no gap signalled) | 1 |');
    expect(md).toContain('- lost: ch r2/c never got p1#2');
    expect(md).toMatch(/\| partition r1-r2 \| \+0\.1 s → \+0\.3 s \| never \(1 missing\) \| r1 100% \(1\/1\) \|/);
    expect(md).toMatch(/\| in-region \| 10 ms \| 10 ms \| \d+ \|/);
    expect(md).toContain('![timeline](timeline.svg)');
    expect(md).toContain('[check.json](check.json)');
  });

  it('says PASS for a clean run', () => {
    expect(renderScenarioMarkdown('clean', check(cleanRun()))).toMatch(/^# Chaos scenario clean: PASS\n/);
  });
});

describe('writeScenarioReport and writeCombinedReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaos-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('write the summary, the JSON and the timeline of a scenario into its own folder', async () => {
    const report = faultyReport();
    const files = await writeScenarioReport(join(dir, 'results'), 'partition-and-heal', report);
    expect(files.markdown).toBe(join(dir, 'results', 'partition-and-heal', 'summary.md'));
    expect(JSON.parse(await readFile(files.json, 'utf8'))).toEqual(report);
    expect(xmlProblems(await readFile(files.svg, 'utf8'))).toEqual([]);
    expect(await readFile(files.markdown, 'utf8')).toMatch(/^# Chaos scenario partition-and-heal: FAIL/);
  });

  it('write one table row per scenario with its figures and links relative to REPORT.md', async () => {
    const results = join(dir, 'chaos', 'results');
    const clean = check([...cleanRun(), fault(150, 'start'), fault(500, 'end')]);
    const broken = faultyReport();
    const entries = [
      { scenario: 'slow-region', report: clean, files: await writeScenarioReport(results, 'slow-region', clean), description: '200 ms, jitter, 2 % loss.' },
      { scenario: 'partition-and-heal', report: broken, files: await writeScenarioReport(results, 'partition-and-heal', broken) },
    ];
    await writeCombinedReport(join(results, 'REPORT.md'), entries);
    const md = await readFile(join(results, 'REPORT.md'), 'utf8');
    expect(md).toBe(renderCombinedReport(entries, results));
    expect(md).toContain('1 of 2 scenario(s) passed.');
    const rows = md.split('\n').filter((l) => l.startsWith('| slow-region') || l.startsWith('| partition-and-heal'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| slow-region \| PASS \| 0 \| 0 \| 0 \| 0 \| – \| –; serials off 0 of 3 \| – \| 0 ms \| 100% \(2\/2\) in r1 \| 10 ms \/ 10 ms \| 10 ms \/ 10 ms \|/);
    expect(rows[0]).toContain('[summary](slow-region/summary.md) · [json](slow-region/check.json) · [svg](slow-region/timeline.svg)');
    expect(rows[1]).toMatch(/^\| partition-and-heal \| \*\*FAIL\*\* \| 1 \| 0 \| 0 \| 0 \| – \| –; serials off 0 of 3 \| – \| never \(2\/2 faults\) \|/);
    expect(md).toContain('- **slow-region**: 200 ms, jitter, 2 % loss.');
  });
});

describe('formatSummary', () => {
  it('prints the verdict, the counts, examples and the figures', () => {
    const text = formatSummary(check([...cleanRun(['c:2']), fault(150, 'start'), fault(250, 'end')]));
    expect(text).toMatch(/^chaos check: FAIL/);
    expect(text).toContain('violations: lost 1, duplicates 0, per-publisher order 0, region order 0');
    expect(text).toContain('lost: ch r2/c never got p1#2');
    expect(text).toMatch(/partition r1-r2 \+0\.1 s → \+0\.3 s: convergence never \(1 missing\)/);
    expect(text).toMatch(/in-region\s+outside faults p50 10 ms/);
  });

  it('prints the presence check: the members expected, and each view that was off', () => {
    const off: RecordEvent = { type: 'presence', t: 900, region: 'r2', observer: 'rest', channel: 'ch', expected: ['m0 c1'], seen: [], convergedAfterMs: null };
    const text = formatSummary(check([...cleanRun(), off]));
    expect(text).toMatch(/^chaos check: FAIL/);
    expect(text).toContain('presence: 1 members expected in every set; 1 of 1 views off at the end');
    expect(text).toContain('ch in r2, seen by rest: missing [m0 c1], extra []');
    const fine = formatSummary(check([...cleanRun(), { ...off, seen: ['m0 c1'], convergedAfterMs: 2500 }]));
    expect(fine).toContain('presence: 1 members expected in every set; all 1 views within 2.5 s of the check');
  });

  it('prints the history check: its counts, and each message missing, twice or out of order', () => {
    const read = (region: string, items: string[]): RecordEvent => ({ type: 'history', t: 900, region, channel: 'ch', items, historyMs: 120_000, maxMessages: 10_000 });
    const text = formatSummary(check([...cleanRun(), read('r1', ['p1#1', 'p1#3', 'p1#3']), read('r2', ['p1#1', 'p1#2', 'p1#3'])]));
    expect(text).toMatch(/^chaos check: FAIL/);
    expect(text).toContain('history: 2 histories read, 6 messages in them; expected 6, excused 0; missing 1, duplicates 1, out of order 0, unread 0');
    expect(text).toContain('ch in r1: duplicate p1#3');
    expect(text).toContain('ch in r1: missing p1#2');
  });
});
