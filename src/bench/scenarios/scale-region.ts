/**
 * Scenario 8, the channel and node axes: how the many-channel figures of scenario 4 move
 * as channels grow (100 → 1,000 → 10,000 on a 3-node region) and as the region grows
 * (1 → 3 → 5 nodes, the same channels and the same fixed load). Each point is one
 * channels-load.ts measurement (a ladder, half-saturation steps, fixed-rate steps,
 * memory per node); points scenario 4 measured in this run are reused.
 */
import { channelsOn, limitText, total, type ChannelsOptions, type ChannelsResult } from '../channels-load.js';
import { mb, ms, num, pct, rate } from '../report/format.js';
import { lineChart } from '../report/svg.js';
import { bytesPerChannel, channelsNotes, CHANNELS_NODES } from './channels.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';

/** Below this much time left in the run's budget, a point is skipped rather than cut off. */
const MIN_TIME_PER_POINT_MS = 45_000;

interface Measured {
  x: number;
  r: ChannelsResult;
}

async function points(ctx: ScenarioContext, xs: number[], opts: (x: number) => { nodes: number; o: ChannelsOptions }, notes: string[]): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const x of xs) {
    const { nodes, o } = opts(x);
    if (ctx.timeLeftMs() < MIN_TIME_PER_POINT_MS) {
      notes.push(`${o.channels} channels on ${nodes} nodes: skipped (time budget).`);
      continue;
    }
    try {
      const r = await channelsOn(ctx, nodes, o);
      out.push({ x, r });
      notes.push(...channelsNotes(r));
    } catch (e) {
      ctx.log(`  failed: ${(e as Error).message}`);
      notes.push(`${o.channels} channels on ${nodes} nodes: not measured (${(e as Error).message.split('\n')[0]}).`);
    }
  }
  return out;
}

function commonColumns(o: ChannelsOptions): string[] {
  return [
    'saturation deliveries/s (publishes/s)',
    'ladder stopped by',
    'p99 at ½ sat. (ms)',
    `p50 / p99 at ${rate(o.fixedPublishPerS)} publishes (ms)`,
    `server CPU at ${rate(o.fixedPublishPerS)} (all nodes, % of a core)`,
    `server CPU µs per delivery at ${rate(o.fixedPublishPerS)}`,
    'RSS idle → attached → after load (all nodes)',
  ];
}

function commonCells(r: ChannelsResult): (string | number)[] {
  return [
    `${rate(r.saturationDeliveriesPerS)} (${rate(r.saturationStep?.publishPerS)})`,
    limitText(r),
    ms(r.half?.p99Ms),
    `${ms(r.fixed?.p50Ms)} / ${ms(r.fixed?.p99Ms)}`,
    pct(r.fixed?.serverCpuPct),
    num(r.fixed?.serverCpuUsPerDelivery, 2),
    `${mb(total(r.rss.idle))} → ${mb(total(r.rss.attached))} → ${mb(total(r.rss.afterLoad))}`,
  ];
}

export const scaleChannelsScenario: Scenario = {
  id: 'scale-channels',
  title: 'Many channels as channels grow, 3-node region (scenario 8, channels)',
  covers: '8 (channels)',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const o = ctx.profile.channels;
    const xs = ctx.profile.scaleRegion.channels;
    const notes: string[] = [];
    const got = await points(ctx, xs, (channels) => ({ nodes: CHANNELS_NODES, o: { ...o, channels } }), notes);
    const series = (f: (r: ChannelsResult) => number) => got.map(({ x, r }) => [x, f(r)] as [number, number]);
    return {
      id: this.id,
      title: this.title,
      figures: { channels: xs, points: got.map(({ r }) => r) },
      tables: [
        {
          title: `By channel count: ${o.subscribersPerChannel} subscribers per channel, ${CHANNELS_NODES} nodes, the same ${rate(o.fixedPublishPerS)} publishes for the fixed load`,
          header: ['channels', 'subscriptions / connections', ...commonColumns(o), 'memory per channel (attached − idle)', 'server CPU attached, nothing published'],
          rows: got.map(({ r }) => [r.channels, `${r.open.subscriptions} / ${r.open.opened}`, ...commonCells(r), `${(bytesPerChannel(r) / 1024).toFixed(1)} KB`, pct(r.idleCpuPct)]),
        },
      ],
      plots: got.length
        ? [
            {
              file: 'scale-channels.svg',
              title: 'Saturation and p99 as channels grow',
              svg: lineChart({
                title: 'Many channels on a 3-node region as channels grow',
                subtitle: `deliveries/s at saturation (k/s), p99 at ${rate(o.fixedPublishPerS)} publishes (ms), memory of the attached channels (MB); log x and y`,
                xLabel: 'channels',
                yLabel: 'k deliveries/s  |  ms  |  MB',
                logX: true,
                logY: true,
                series: [
                  { name: 'saturation (k deliveries/s)', points: series((r) => r.saturationDeliveriesPerS / 1000) },
                  { name: `p99 at ${rate(o.fixedPublishPerS)} (ms)`, points: series((r) => r.fixed?.p99Ms ?? NaN) },
                  { name: 'RSS attached − idle (MB)', points: series((r) => (total(r.rss.attached) - total(r.rss.idle)) / 1048576) },
                ],
              }),
            },
          ]
        : [],
      notes,
    };
  },
};

export const scaleNodesScenario: Scenario = {
  id: 'scale-nodes',
  title: 'Many channels as the region grows (scenario 8, nodes)',
  covers: '8 (nodes)',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const o = { ...ctx.profile.channels, channels: ctx.profile.scaleRegion.nodesChannels };
    const xs = ctx.profile.scaleRegion.nodes;
    const notes: string[] = [];
    const got = await points(ctx, xs, (nodes) => ({ nodes, o }), notes);
    const series = (f: (r: ChannelsResult) => number) => got.map(({ x, r }) => [x, f(r)] as [number, number]);
    notes.push(
      'Every node of a region is pinned to the same core (CPU 0): more nodes here means the same core shared by more processes, ' +
        'with more mesh hops per message, not more CPU. The figures show what the extra hops and processes cost; on separate cores the region would add capacity.',
    );
    return {
      id: this.id,
      title: this.title,
      figures: { nodes: xs, channels: o.channels, points: got.map(({ r }) => r) },
      tables: [
        {
          title: `By region size: ${o.channels} channels, ${o.subscribersPerChannel} subscribers each, the same ${rate(o.fixedPublishPerS)} publishes for the fixed load`,
          header: ['nodes', 'subscriptions / connections', ...commonColumns(o), 'RSS per node attached (mean)'],
          rows: got.map(({ r }) => [r.nodes, `${r.open.subscriptions} / ${r.open.opened}`, ...commonCells(r), mb(total(r.rss.attached) / r.nodes)]),
        },
      ],
      plots: got.length
        ? [
            {
              file: 'scale-nodes.svg',
              title: 'Saturation, p99 and CPU per delivery as the region grows',
              svg: lineChart({
                title: `${o.channels} channels as the region grows (all nodes on one core)`,
                subtitle: `deliveries/s at saturation (k/s); p99 (ms) and server CPU µs per delivery at ${rate(o.fixedPublishPerS)} publishes; log y`,
                xLabel: 'nodes in the region',
                yLabel: 'k deliveries/s  |  ms  |  µs',
                logY: true,
                series: [
                  { name: 'saturation (k deliveries/s)', points: series((r) => r.saturationDeliveriesPerS / 1000) },
                  { name: `p99 at ${rate(o.fixedPublishPerS)} (ms)`, points: series((r) => r.fixed?.p99Ms ?? NaN) },
                  { name: 'CPU µs per delivery', points: series((r) => r.fixed?.serverCpuUsPerDelivery ?? NaN) },
                ],
              }),
            },
          ]
        : [],
      notes,
    };
  },
};
