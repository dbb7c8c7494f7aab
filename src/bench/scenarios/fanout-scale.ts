/**
 * Scenario 8 (the subscriber axis): how saturation fan-out, latency and CPU per delivery
 * move as one channel's subscribers grow from 100 to 10,000, for ably-ng and the
 * baselines chosen by the mode. Points measured by scenario 1 are reused.
 */
import type { FanoutResult } from '../fanout.js';
import { div, ms, num, rate, ratio } from '../report/format.js';
import { lineChart } from '../report/svg.js';
import { serverById } from '../servers/index.js';
import { fanoutOn } from './fanout-run.js';
import { fanoutNotes, limitText, OURS } from './fanout-peers.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';

export const fanoutScaleScenario: Scenario = {
  id: 'scale-subscribers',
  title: 'Fan-out as subscribers grow (scenario 8, subscribers)',
  covers: '8 (subscribers)',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const { subscribers, servers } = ctx.profile.scale;
    const grid = new Map<string, Map<number, FanoutResult>>();
    const notes: string[] = [];
    for (const n of subscribers) {
      for (const id of servers) {
        const o = await fanoutOn(ctx, serverById(id), n);
        if (!o.ok) {
          notes.push(`${o.label} with ${n} subscribers: not measured (${o.error}).`);
          continue;
        }
        if (!grid.has(id)) grid.set(id, new Map());
        grid.get(id)!.set(n, o.result);
      }
    }
    for (const byN of grid.values()) for (const r of byN.values()) notes.push(...fanoutNotes(r).map((t) => `${r.subscribers} subscribers: ${t}`));
    const label = (id: string) => serverById(id).label;
    const baselines = servers.filter((s) => s !== OURS);
    const header = [
      'subscribers',
      ...servers.map((s) => `${label(s)} saturation`),
      ...baselines.map((b) => `ably-ng ÷ ${label(b)}`),
      'ably-ng p99 at ½ sat. (ms)',
      'ably-ng server CPU µs/delivery at ½ sat.',
      'ably-ng ladder stopped by',
    ];
    const rows = subscribers.map((n) => {
      const ours = grid.get(OURS)?.get(n);
      return [
        n,
        ...servers.map((s) => rate(grid.get(s)?.get(n)?.saturationDeliveriesPerS)),
        ...baselines.map((b) => ratio(div(ours?.saturationDeliveriesPerS, grid.get(b)?.get(n)?.saturationDeliveriesPerS))),
        ms(ours?.half?.p99Ms),
        num(ours?.half?.serverCpuUsPerDelivery, 2),
        ours ? limitText(ours) : '—',
      ];
    });
    const series = (f: (r: FanoutResult) => number) =>
      servers.map((s) => ({
        name: label(s),
        points: subscribers.filter((n) => grid.get(s)?.has(n)).map((n) => [n, f(grid.get(s)!.get(n)!)] as [number, number]),
      }));
    return {
      id: this.id,
      title: this.title,
      figures: {
        subscribers,
        servers: Object.fromEntries([...grid].map(([s, byN]) => [s, Object.fromEntries(byN)])),
      },
      tables: [{ title: 'Saturation fan-out by subscriber count (one channel, one server)', header, rows }],
      plots: [
        {
          file: 'scale-subscribers.svg',
          title: 'Saturation deliveries/s by subscriber count',
          svg: lineChart({
            title: 'Saturation deliveries/s as one channel\'s subscribers grow',
            subtitle: 'one server process on CPU 0, load generator on CPU 1 (log x)',
            xLabel: 'subscribers',
            yLabel: 'deliveries/s at saturation',
            logX: true,
            series: series((r) => r.saturationDeliveriesPerS),
          }),
        },
        {
          file: 'scale-subscribers-p99.svg',
          title: 'p99 at half saturation by subscriber count',
          svg: lineChart({
            title: 'p99 latency at half of saturation as subscribers grow',
            subtitle: 'median of the half-saturation steps (log x)',
            xLabel: 'subscribers',
            yLabel: 'p99 (ms)',
            logX: true,
            series: series((r) => r.half?.p99Ms ?? NaN),
          }),
        },
      ],
      notes,
    };
  },
};
