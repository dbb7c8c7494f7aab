/**
 * Questions a node answers for a whole region by asking every ring member and adding up
 * their answers. A member that does not answer within REGION_QUERY_TIMEOUT_MS counts as
 * nothing: one node cut off from this one (in the ring until it is held down, seconds
 * later) would otherwise hold every such answer up for the whole channel request timeout
 * (10 s).
 */
import type { ChannelKey } from '../channel/entry.js';
import type { ChannelNamesQuery, NodeId, Occupancy, ReplyBody } from '../transport/messages.js';
import { mergeNames } from './channel-names.js';
import { addUp } from '../channel/occupancy.js';
import type { GatewayServices } from '../gateway/services.js';
import type { RequestBody, Rpc } from '../transport/rpc.js';
import { mergeBuckets, type StatsBucket } from './stats.js';

/** How long a region-wide question waits for each member's answer (ms). */
export const REGION_QUERY_TIMEOUT_MS = 2000;

/** Every member's answer to `req` (null: none in time, or a failure). */
function askEvery(rpc: Rpc, members: readonly NodeId[], req: RequestBody): Promise<(ReplyBody | null)[]> {
  return Promise.all(members.map((n) => rpc.request(n, req, REGION_QUERY_TIMEOUT_MS).catch(() => null)));
}

/** A channel's occupancy across the region, and how many members were asked and answered. */
export type RegionOccupancy = Occupancy & { nodes: { asked: number; answered: number } };

/** A channel's occupancy across the region: every member's local attachments, added up. */
export async function regionOccupancy(rpc: Rpc, members: readonly NodeId[], channel: ChannelKey): Promise<RegionOccupancy> {
  const answers = (await askEvery(rpc, members, { type: 'occupancy', channel })).filter((r) => r?.kind === 'occupancy');
  return { ...addUp(answers), nodes: { asked: members.length, answered: answers.length } };
}

/** A page of the names of an app's channels mastered anywhere in the region (of the members that answer in time; channel-names.ts). */
export async function regionChannels(rpc: Rpc, members: readonly NodeId[], q: ChannelNamesQuery): Promise<{ names: string[]; more: boolean }> {
  return mergeNames(await askEvery(rpc, members, { type: 'interestList', all: true, names: q }), q);
}

/** Statistics of an app across the region: every member's minutes, added up; `complete` where every member answered. */
export async function regionStatsOf(rpc: Rpc, members: readonly NodeId[], appId: string, start: number, end: number): Promise<{ minutes: StatsBucket[]; complete: boolean }> {
  const replies = await askEvery(rpc, members, { type: 'stats', appId, start, end });
  return { minutes: mergeBuckets(replies.map((r) => (r?.kind === 'stats' ? r.buckets : []))), complete: replies.every((r) => r?.kind === 'stats') };
}

/** Statistics of an app across the region: every member's minutes (of those that answer in time), added up. */
export async function regionStats(rpc: Rpc, members: readonly NodeId[], appId: string, start: number, end: number): Promise<StatsBucket[]> {
  return (await regionStatsOf(rpc, members, appId, start, end)).minutes;
}

/** The gateway's region-wide questions (statistics, channels, a channel's occupancy), over the ring's members as they are when asked. */
export function regionQueries(rpc: Rpc, members: () => readonly NodeId[]): Pick<GatewayServices, 'stats' | 'channels' | 'occupancy'> {
  return {
    stats: (appId, start, end) => regionStats(rpc, members(), appId, start, end),
    channels: (q) => regionChannels(rpc, members(), q),
    occupancy: (channel) => regionOccupancy(rpc, members(), channel),
  };
}
