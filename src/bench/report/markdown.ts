/** The results as a markdown page: the machine, how the run was made, then each scenario. */
import { machineSpeedText, type MachineSpeed } from '../machine-speed.js';
import type { MachineInfo } from '../proc.js';
import type { ScenarioResult, Table } from '../scenarios/scenario.js';

export interface RunMeta {
  date: string;
  mode: string;
  command: string;
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  /** The machine's speed without ably-ng code (machine-speed.ts), at the start and the end of the run. */
  speed: { start: MachineSpeed | null; end: MachineSpeed | null };
  pinning: { server: string | null; loadgen: string | null; note: string };
  noise: { loadAvgAtEnd: number[]; otherCpuPctMedian: number | null; note: string };
  aborted: string | null;
}

export interface ScenarioFailure {
  id: string;
  title: string;
  error: string;
}

function cell(v: string | number): string {
  return String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(t: Table): string {
  if (!t.rows.length) return '';
  return [
    `**${t.title}**`,
    '',
    `| ${t.header.map(cell).join(' | ')} |`,
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ].join('\n');
}

export function machineLines(meta: RunMeta): string[] {
  const m = meta.machine;
  return [
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${(m.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.kernel}, Node ${m.node}`,
    `- Peers: ${Object.entries(m.versions)
      .map(([k, v]) => `${k} ${v ?? 'missing'}`)
      .join(', ')}`,
    `- Machine speed, measured without ably-ng code (\`src/bench/machine-speed.ts\`) ${machineSpeedText(meta.speed.start, meta.speed.end)}`,
    `- Pinning: ${meta.pinning.note}`,
    `- Noise: ${meta.noise.note}`,
    `- Open-file limit: ${m.openFiles.soft} (hard ${m.openFiles.hard})`,
  ];
}

export function renderMarkdown(meta: RunMeta, results: ScenarioResult[], failures: ScenarioFailure[], plotFile: (file: string) => string): string {
  const out: string[] = [
    `# ably-ng benchmarks, ${meta.date} (${meta.mode} mode)`,
    '',
    `Command: \`${meta.command}\`, started ${meta.startedAt}, took ${(meta.durationMs / 1000).toFixed(0)} s.`,
    ...(meta.aborted ? ['', `**The run was cut short: ${meta.aborted}.** The figures below are what was measured until then.`] : []),
    '',
    ...machineLines(meta),
    '',
  ];
  for (const r of results) {
    out.push(`## ${r.title}`, '');
    if (r.durationMs !== undefined) out.push(`(${(r.durationMs / 1000).toFixed(0)} s)`, '');
    for (const t of r.tables) {
      const md = markdownTable(t);
      if (md) out.push(md);
    }
    for (const p of r.plots) out.push(`![${p.title}](${plotFile(p.file)})`, '');
    if (r.notes.length) out.push('Notes:', '', ...r.notes.map((n) => `- ${n}`), '');
  }
  for (const f of failures) out.push(`## ${f.title}`, '', `Failed: ${f.error}`, '');
  return out.join('\n');
}
