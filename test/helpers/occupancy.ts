import type { Realtime } from './sdk.js';

export type Metrics = Record<string, number>;

/** Attaches with the `occupancy` param and keeps every event's metrics, in order. */
export async function watchOccupancy(client: Realtime, channel: string, occupancy = 'metrics'): Promise<{ events: Metrics[]; last: () => Metrics | undefined }> {
  const events: Metrics[] = [];
  await client.channels.get(channel, { params: { occupancy } }).subscribe('[meta]occupancy', (m) => void events.push(m.data.metrics));
  return { events, last: () => events[events.length - 1] };
}
