/**
 * One ably-ng region of N node processes for the in-region scenarios (3, 4, 8): started
 * by `startAblyDeployment`, then waited on until every node's hash ring holds every
 * node (before that a channel's master is not settled); which node masters a channel
 * (the same ring the nodes use, and the node's own answer on `GET /channels/{name}`);
 * and each node's resident memory.
 */
import { Ring } from '../../cluster/ring.js';
import { channelKey } from '../../channel/entry.js';
import { join } from 'node:path';
import { rssBytes } from '../proc.js';
import { sleep } from '../util.js';
import { BENCH_APP, nodeProblems, startAblyDeployment, type AblyDeployment } from './ably-ng.js';
import type { ServerContext } from './server.js';

/** A region whose rings have not converged in this long failed to start. */
const RING_TIMEOUT_MS = 15_000;
const RING_POLL_MS = 100;

export interface Region {
  deployment: AblyDeployment;
  /** Node names in topology order (r1-n1, r1-n2, …). */
  names: string[];
  /** Per node name: its WebSocket and HTTP base URLs and PID. */
  node(name: string): { wsUrl: string; httpUrl: string; pid: number };
  /**
   * Warnings and errors the nodes logged since the region was ready (every ring whole),
   * counted by message: what they log while starting (peers not listening yet) or
   * stopping (peers leaving) is left out. Call before `stop`.
   */
  problems(): string[];
  stop(): Promise<void>;
}

export function httpOf(wsUrl: string): string {
  return wsUrl.replace(/^ws/, 'http');
}

export async function startRegion(ctx: ServerContext, nodes: number, limits: Record<string, number> = {}): Promise<Region> {
  const d = await startAblyDeployment(ctx, { regions: [{ name: 'r1', nodes }], limits });
  const names = d.nodes.map((n) => n.name);
  let readyAt = Infinity;
  const region: Region = {
    deployment: d,
    names,
    node(name) {
      const n = d.nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name}`);
      return { wsUrl: n.wsUrl, httpUrl: httpOf(n.wsUrl), pid: n.pid };
    },
    problems: () => nodeProblems(join(ctx.dir, 'state', 'logs'), names, readyAt),
    stop: d.stop,
  };
  try {
    await waitForRing(region);
    readyAt = Date.now();
  } catch (e) {
    await d.stop();
    throw e;
  }
  return region;
}

/** Waits until every node's `/health` shows a ring of every node. */
export async function waitForRing(r: Region): Promise<void> {
  const want = [...r.names].sort().join(',');
  const deadline = Date.now() + RING_TIMEOUT_MS;
  for (;;) {
    const rings = await Promise.all(
      r.names.map(async (n) => {
        try {
          const res = await fetch(`${r.node(n).httpUrl}/health`);
          const h = (await res.json()) as { ring?: string[] };
          return [...(h.ring ?? [])].sort().join(',');
        } catch {
          return '';
        }
      }),
    );
    if (rings.every((x) => x === want)) return;
    if (Date.now() > deadline) throw new Error(`region rings did not converge in ${RING_TIMEOUT_MS} ms (have ${rings.join(' | ')}, want ${want})`);
    await sleep(RING_POLL_MS);
  }
}

/** The channel's master and replica by the ring of every node (as the nodes compute it). */
export function ringPlace(names: string[], channel: string): { master: string | null; replica: string | null } {
  const ring = new Ring(names);
  const key = channelKey(BENCH_APP, channel);
  return { master: ring.owner(key), replica: ring.replica(key) };
}

/** A channel name (`<prefix>-<i>`) that the ring of `names` gives to `owner`. */
export function channelMasteredBy(names: string[], owner: string, prefix: string): string {
  for (let i = 0; i < 100_000; i++) {
    const name = `${prefix}-${i}`;
    if (ringPlace(names, name).master === owner) return name;
  }
  throw new Error(`no channel name for ${owner}`);
}

/** What a node answers on `GET /channels/{name}` about the channel's master (null while inactive). */
export async function askMaster(httpUrl: string, key: string, channel: string): Promise<{ master: string | null; replica: string | null }> {
  const res = await fetch(`${httpUrl}/channels/${encodeURIComponent(channel)}`, {
    headers: { authorization: `Basic ${Buffer.from(key).toString('base64')}` },
  });
  if (!res.ok) throw new Error(`GET /channels/${channel}: HTTP ${res.status}`);
  const body = (await res.json()) as { master?: string; replica?: string };
  return { master: body.master ?? null, replica: body.replica ?? null };
}

/** Resident memory of each node (bytes), by name. */
export function rssPerNode(r: Region): Record<string, number> {
  return Object.fromEntries(r.names.map((n) => [n, rssBytes(r.node(n).pid)]));
}

/** Per node: channels it masters and holds replicas of, from `/health`. */
export async function channelCounts(r: Region): Promise<Record<string, { mastered: number; replicas: number; channels: number }>> {
  const out: Record<string, { mastered: number; replicas: number; channels: number }> = {};
  for (const n of r.names) {
    try {
      const h = (await (await fetch(`${r.node(n).httpUrl}/health`)).json()) as { mastered?: number; replicas?: number; channels?: number };
      out[n] = { mastered: h.mastered ?? NaN, replicas: h.replicas ?? NaN, channels: h.channels ?? NaN };
    } catch {
      out[n] = { mastered: NaN, replicas: NaN, channels: NaN };
    }
  }
  return out;
}

