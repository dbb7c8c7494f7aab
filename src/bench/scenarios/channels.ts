/**
 * Scenario 4 of issue 7: many channels (10,000 by default) with a few subscribers each,
 * on a 3-node region. Subscriber connections are spread over the nodes, each attaching
 * many channels, so that every channel has its subscribers on different nodes; one
 * publisher per node publishes round robin over every channel. Reported: deliveries/s at
 * saturation and latency at half of it, and every node's resident memory idle, with
 * everything attached, after the load and after closing (channels-load.ts measures).
 */
import { channelsOn, limitText, total, type ChannelsResult } from '../channels-load.js';
import { mb, ms, num, pct, rate } from '../report/format.js';
import { barChart } from '../report/svg.js';
import { BENCH_RETENTION } from '../servers/ably-ng.js';
import type { Scenario, ScenarioContext, ScenarioResult, Table } from './scenario.js';

/** Nodes in the scenario's region. */
export const CHANNELS_NODES = 3;

/** The notes a many-channel result deserves in the report. */
export function channelsNotes(r: ChannelsResult): string[] {
  const at = `${r.channels} channels on ${r.nodes} node${r.nodes > 1 ? 's' : ''}`;
  const notes: string[] = [];
  if (r.loadgenBound) notes.push(`${at}: the load generator's core was (nearly) full near saturation, so the region's own limit is at least the figure shown.`);
  if (r.open.subscriptionsFailed) notes.push(`${at}: ${r.open.subscriptionsFailed} attachments failed (${r.open.errors.slice(0, 3).join('; ')}).`);
  if (r.totals.missing) {
    notes.push(`${at}: ${r.totals.missing} of ${r.totals.expected} deliveries never arrived (counted after a final wait of ${(r.totals.settleMs / 1000).toFixed(1)} s): real loss.`);
  } else if (r.ladder.some((s) => s.lost > 0)) {
    notes.push(`${at}: deliveries that missed a step's drain window all arrived later (${r.totals.delivered} of ${r.totals.expected}): late, not lost.`);
  }
  const steps = [r.firstMessages, ...r.ladder, ...(r.half?.reps ?? []), ...(r.fixed?.reps ?? [])];
  const ooo = steps.reduce((a, s) => a + s.outOfOrder, 0);
  if (ooo) notes.push(`${at}: ${ooo} deliveries arrived out of order or twice on a subscription.`);
  const nacked = steps.reduce((a, s) => a + s.rejected, 0);
  if (nacked) notes.push(`${at}: ${nacked} publishes were refused (NACK).`);
  if (r.clientNotes.length) notes.push(`${at}, seen by the clients: ${r.clientNotes.slice(0, 6).join('; ')}.`);
  if (r.serverProblems.length) notes.push(`${at}, logged by the nodes: ${r.serverProblems.slice(0, 6).join('; ')}.`);
  return notes;
}

/** Memory attached beyond idle, per channel (all nodes; includes the subscriber connections). */
export function bytesPerChannel(r: ChannelsResult): number {
  return (total(r.rss.attached) - total(r.rss.idle)) / r.channels;
}

export const channelsScenario: Scenario = {
  id: 'channels',
  title: 'Many channels on a 3-node region: deliveries/s and memory (scenario 4)',
  covers: '4',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const o = ctx.profile.channels;
    const r = await channelsOn(ctx, CHANNELS_NODES, o);
    const subs = `${r.open.subscriptions} subscriptions (${o.subscribersPerChannel} per channel) on ${r.open.opened} connections`;
    const tables: Table[] = [
      {
        title: `${r.channels} channels, ${subs}, ${r.publishers} publishers, a ${r.nodes}-node region`,
        header: [
          'attach (all subscriptions)',
          'server CPU attached, nothing published (all nodes, % of a core)',
          'first message on each channel (warm-up): publishes/s, p50 / p99 (ms), server CPU µs per delivery',
          'saturation deliveries/s (publishes/s)',
          'ladder stopped by',
          'p50 / p99 at ½ sat. (ms)',
          'server CPU at ½ sat. (all nodes, % of a core)',
          'server CPU µs per delivery at ½ sat.',
          `p50 / p99 at ${rate(o.fixedPublishPerS)} publishes (ms)`,
          'load generator CPU at sat.',
        ],
        rows: [
          [
            `${(r.open.ms / 1000).toFixed(1)} s (${rate(r.open.attachesPerS)})`,
            pct(r.idleCpuPct),
            `${rate(r.firstMessages.publishPerS)}, ${ms(r.firstMessages.latency.p50Ms)} / ${ms(r.firstMessages.latency.p99Ms)}, ${num(r.firstMessages.serverCpuUsPerDelivery, 0)}`,
            `${rate(r.saturationDeliveriesPerS)} (${rate(r.saturationStep?.publishPerS)})`,
            limitText(r),
            `${ms(r.half?.p50Ms)} / ${ms(r.half?.p99Ms)}`,
            pct(r.half?.serverCpuPct),
            num(r.half?.serverCpuUsPerDelivery, 2),
            `${ms(r.fixed?.p50Ms)} / ${ms(r.fixed?.p99Ms)}`,
            pct(r.saturationStep?.loadgenCpuPct),
          ],
        ],
      },
      {
        title: `Resident memory per node, ${r.channels} channels`,
        header: ['node', 'channels mastered', 'replicas held (after the load)', 'channels with local subscribers', 'RSS idle', 'RSS attached', 'RSS after the load', 'RSS after closing all', 'attached − idle'],
        rows: [
          ...Object.keys(r.rss.idle).map((n) => [
            n,
            r.placement[n]?.mastered ?? '—',
            r.placement[n]?.replicas ?? '—',
            r.placement[n]?.channels ?? '—',
            mb(r.rss.idle[n]),
            mb(r.rss.attached[n]),
            mb(r.rss.afterLoad[n]),
            mb(r.rss.afterClose[n]),
            mb(r.rss.attached[n]! - r.rss.idle[n]!),
          ]),
          [
            'all nodes',
            '',
            '',
            '',
            mb(total(r.rss.idle)),
            mb(total(r.rss.attached)),
            mb(total(r.rss.afterLoad)),
            mb(total(r.rss.afterClose)),
            `${mb(total(r.rss.attached) - total(r.rss.idle))} (${(bytesPerChannel(r) / 1024).toFixed(1)} KB per channel with its ${o.subscribersPerChannel} subscriptions)`,
          ],
        ],
      },
    ];
    const nodes = Object.keys(r.rss.idle);
    const bars = nodes.flatMap((n) => [
      { label: `${n} idle`, value: r.rss.idle[n]! / 1048576, text: mb(r.rss.idle[n]) },
      { label: `${n} attached`, value: r.rss.attached[n]! / 1048576, text: mb(r.rss.attached[n]), highlight: true },
      { label: `${n} after load`, value: r.rss.afterLoad[n]! / 1048576, text: mb(r.rss.afterLoad[n]) },
    ]);
    return {
      id: this.id,
      title: this.title,
      figures: { options: o, result: r },
      tables,
      plots: [
        {
          file: 'channels-memory.svg',
          title: 'Resident memory per node with many channels',
          svg: barChart({
            title: `RSS per node: idle, ${r.channels} channels attached, after the load (MB)`,
            subtitle: `${subs}; ${r.nodes}-node region, all nodes on one core`,
            bars,
          }),
        },
      ],
      notes: [
        ...channelsNotes(r),
        `Publishers publish round robin over every channel (each channel gets the total rate ÷ ${r.channels}); each message is expected once per subscription of its channel. ` +
          `Before the ladder, a warm-up publishes exactly one message on every channel (${r.firstMessages.published} at ${rate(r.firstMessages.targetPublishPerS)}): a channel's first message makes its master copy the whole channel state to the replica, which the ladder would otherwise measure instead of publishing. ` +
          'Every node is pinned to CPU 0 and the load generator to CPU 1, so the region\'s saturation is that of one core shared by its nodes.',
        `Retention: up to ${BENCH_RETENTION.maxMessagesPerChannel} messages per channel for 2 minutes (the bench topology), so RSS after the load includes the history the masters and replicas keep.`,
      ],
    };
  },
};
