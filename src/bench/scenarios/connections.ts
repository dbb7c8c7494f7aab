/**
 * Scenario 5 of issue 7: connections. Server memory per idle connection (RSS with no
 * connection, then with N idle connections, each past its handshake: CONNECTED for
 * ably-ng, the WebSocket upgrade for raw `ws`), and the connection rate, with N
 * connects in flight at once. N is 20,000 unless the open-file limit is lower.
 */
import { rssBytes } from '../proc.js';
import { openFileLimit } from '../../open-files.js';
import { descriptorsKept } from '../../gateway/admission.js';
import { div, kb, mb, num, pct, rate, ratio } from '../report/format.js';
import { barChart } from '../report/svg.js';
import { serverById } from '../servers/index.js';
import { median, sleep } from '../util.js';
import { withServer, type Scenario, type ScenarioContext, type ScenarioResult } from './scenario.js';

/**
 * Descriptors a process needs besides its connections (stdio, IPC, listeners, logs,
 * epoll): what an ably-ng node of one keeps out of its WebSocket connections' share (224:
 * its own, and REST's), so that every server is measured at the count it can take whole.
 */
const FD_HEADROOM = descriptorsKept(1);
/** The issue's target for ably-ng. */
const TARGET_BYTES_PER_CONNECTION = 10 * 1024;
/** RSS readings per figure (a little apart; the median is kept). */
const RSS_SAMPLES = 3;
const RSS_SAMPLE_GAP_MS = 200;

export interface ConnectionFigures {
  server: string;
  label: string;
  asked: number;
  opened: number;
  failed: number;
  rssIdleBytes: number;
  rssConnectedBytes: number;
  bytesPerConnection: number;
  connectsPerS: number;
  connectMs: number;
  /** CPU while connecting, % of one core. */
  serverCpuPct: number;
  loadgenCpuPct: number;
  /** Server CPU per connection opened (ms), and the connection rate one core of it allows. */
  serverCpuMsPerConnection: number;
  serverBoundConnectsPerS: number;
  /** RSS after every connection closed again (memory the server kept). */
  rssAfterCloseBytes: number;
  errors: string[];
}

async function rssOf(pids: number[]): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i++) {
    if (i) await sleep(RSS_SAMPLE_GAP_MS);
    samples.push(pids.reduce((a, p) => a + rssBytes(p), 0));
  }
  return median(samples);
}

export const connectionsScenario: Scenario = {
  id: 'connections',
  title: 'Idle connections: memory per connection and connection rate (scenario 5)',
  covers: '5',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const p = ctx.profile.connections;
    const limit = openFileLimit();
    const count = Math.min(p.count, limit.soft - FD_HEADROOM);
    const notes: string[] = [];
    if (count < p.count) {
      notes.push(
        `Measured at ${count} connections, not ${p.count}: the open-file limit here is ${limit.soft} (hard ${limit.hard}), and the server and ` +
          `the load generator each need one descriptor per connection plus ~${FD_HEADROOM}; ${p.count} needs \`ulimit -n ${p.count + FD_HEADROOM}\` or more.`,
      );
    }
    const figures: ConnectionFigures[] = [];
    for (const id of p.servers) {
      const def = serverById(id);
      const reps: ConnectionFigures[] = [];
      for (let rep = 0; rep < p.reps; rep++) {
        if (ctx.timeLeftMs() < 30_000) {
          notes.push(`${def.label}: repetition ${rep + 1} skipped (time budget).`);
          break;
        }
        ctx.log(`connections: ${def.label}, ${count} idle connections${p.reps > 1 ? ` (${rep + 1}/${p.reps})` : ''}`);
        try {
          const s = await withServer(ctx, def, async (server, loadgen) => {
            await sleep(p.settleMs);
            const rssIdle = await rssOf(server.pids);
            const c = await loadgen.connect(server.target, count, p.concurrency, server.pids);
            await sleep(p.settleMs);
            const rssConnected = await rssOf(server.pids);
            await loadgen.closeAll(p.concurrency, count * 2);
            await sleep(p.settleMs);
            const rssAfter = await rssOf(server.pids);
            const f: ConnectionFigures = {
              server: def.id,
              label: def.label,
              asked: count,
              opened: c.opened,
              failed: c.failed,
              rssIdleBytes: rssIdle,
              rssConnectedBytes: rssConnected,
              bytesPerConnection: Math.round(div(rssConnected - rssIdle, c.opened)),
              connectsPerS: c.perS,
              connectMs: c.ms,
              serverCpuPct: c.serverCpuPct ?? NaN,
              loadgenCpuPct: c.loadgenCpuPct ?? NaN,
              serverCpuMsPerConnection: c.serverCpuMsPerConnection ?? NaN,
              serverBoundConnectsPerS: Math.round(div(1000, c.serverCpuMsPerConnection)),
              rssAfterCloseBytes: rssAfter,
              errors: c.errors,
            };
            ctx.log(`  ${c.opened} open in ${c.ms} ms (${c.perS}/s; CPU server ${c.serverCpuPct}%, load generator ${c.loadgenCpuPct}%); RSS ${mb(rssIdle)} → ${mb(rssConnected)}: ${kb(f.bytesPerConnection)} per connection; ${mb(rssAfter)} after closing`);
            return f;
          });
          reps.push(s.value);
          if (s.clientNotes.length) notes.push(`${def.label}, seen by the clients: ${s.clientNotes.slice(0, 5).join('; ')}.`);
          if (s.serverProblems.length) notes.push(`${def.label}, logged by the server: ${s.serverProblems.slice(0, 5).join('; ')}.`);
        } catch (e) {
          notes.push(`${def.label}: not measured (${(e as Error).message.split('\n')[0]}).`);
          ctx.log(`  ${def.label} failed: ${(e as Error).message}`);
        }
      }
      if (!reps.length) continue;
      const m = (f: (x: ConnectionFigures) => number) => Math.round(median(reps.map(f)));
      figures.push({
        ...reps[0]!,
        opened: m((x) => x.opened),
        failed: m((x) => x.failed),
        rssIdleBytes: m((x) => x.rssIdleBytes),
        rssConnectedBytes: m((x) => x.rssConnectedBytes),
        bytesPerConnection: m((x) => x.bytesPerConnection),
        connectsPerS: m((x) => x.connectsPerS),
        connectMs: m((x) => x.connectMs),
        serverCpuPct: m((x) => x.serverCpuPct),
        loadgenCpuPct: m((x) => x.loadgenCpuPct),
        serverCpuMsPerConnection: median(reps.map((x) => x.serverCpuMsPerConnection)),
        serverBoundConnectsPerS: m((x) => x.serverBoundConnectsPerS),
        rssAfterCloseBytes: m((x) => x.rssAfterCloseBytes),
      });
      if (reps.some((r) => r.loadgenCpuPct >= 90)) {
        notes.push(
          `${def.label}: the load generator's core was full while connecting, so connects/s is the load generator's limit; ` +
            'the server CPU per connect (and the rate one core of it allows) is the server\'s own figure.',
        );
      }
      for (const r of reps) if (r.failed) notes.push(`${def.label}: ${r.failed} of ${r.asked} connections failed (${r.errors.join('; ')}).`);
    }
    const ours = figures.find((f) => f.server === 'ably-ng');
    const ws = figures.find((f) => f.server === 'ws');
    const rows = figures.map((f) => [
      f.label,
      f.opened,
      mb(f.rssIdleBytes),
      mb(f.rssConnectedBytes),
      kb(f.bytesPerConnection),
      f.server === 'ably-ng' ? '1' : ratio(div(ours?.bytesPerConnection, f.bytesPerConnection)),
      rate(f.connectsPerS),
      f.server === 'ably-ng' ? '1' : ratio(div(ours?.connectsPerS, f.connectsPerS)),
      `${pct(f.serverCpuPct)} / ${pct(f.loadgenCpuPct)}`,
      `${num(f.serverCpuMsPerConnection, 3)} ms (≈ ${rate(f.serverBoundConnectsPerS)} per core)`,
      mb(f.rssAfterCloseBytes),
    ]);
    const targetRows = ours
      ? [
          [
            '≤ 10 KB of server memory per idle connection',
            kb(ours.bytesPerConnection),
            ws ? `ws baseline: ${kb(ws.bytesPerConnection)}` : 'ws baseline not measured',
            ours.bytesPerConnection <= TARGET_BYTES_PER_CONNECTION ? 'yes' : 'no',
          ],
        ]
      : [];
    return {
      id: this.id,
      title: this.title,
      figures: { connections: count, concurrency: p.concurrency, openFileLimit: limit, servers: figures },
      tables: [
        {
          title: `${count} idle connections, ${p.concurrency} connects in flight${p.reps > 1 ? `, median of ${p.reps} runs` : ''}`,
          header: ['server', 'connections', 'RSS at 0', `RSS at ${count}`, 'per connection', 'ably-ng ÷ server (memory)', 'connects/s', 'ably-ng ÷ server (rate)', 'CPU while connecting: server / load generator', 'server CPU per connect', 'RSS after closing all'],
          rows,
        },
        { title: 'Target of issue 7 (connections)', header: ['target', 'ably-ng', 'reference (same run)', 'met'], rows: targetRows },
      ],
      plots: figures.length
        ? [
            {
              file: 'connections-memory.svg',
              title: 'Server memory per idle connection',
              svg: barChart({
                title: `Server memory per idle connection (KB, ${count} connections)`,
                subtitle: '(RSS with the connections − RSS without) ÷ connections; target for ably-ng: ≤ 10 KB',
                bars: figures.map((f) => ({ label: f.label, value: f.bytesPerConnection / 1024, text: kb(f.bytesPerConnection), highlight: f.server === 'ably-ng' })),
              }),
            },
          ]
        : [],
      notes,
    };
  },
};
