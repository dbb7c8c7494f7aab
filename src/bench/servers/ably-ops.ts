/**
 * Operating a running bench deployment the way an operator does: `GET /health` on the
 * nodes (region links, quorum), `GET /channels/{name}` (which node masters a channel),
 * and the chaos control endpoint through the same client as `ably-ng chaos` (region
 * link partitions, heals, latency on the fault proxy the Supervisor puts on each link).
 */
import { control, type RunningDeployment } from '../../cli/chaos.js';
import { Ring } from '../../cluster/ring.js';
import { sleep } from '../util.js';
import { BENCH_APP, type AblyDeployment } from './ably-ng.js';

/** How often waits poll the nodes (ms). */
const POLL_MS = 50;
/** One health or status request may take this long (ms). */
const REQUEST_TIMEOUT_MS = 2000;

export interface NodeHealth {
  node: string;
  region: string;
  quorum: boolean;
  globalmaster: boolean;
  regionLinks?: { links: { region: string; up: boolean; entriesIn: number; entriesOut: number }[] };
}

/** The HTTP base of a node (its WebSocket URL's host and port). */
export function httpUrl(node: { wsUrl: string }): string {
  return node.wsUrl.replace(/^ws:/, 'http:');
}

/** `also`: a status besides 2xx whose body is read too (/health answers 503 where the node does not serve). */
async function getJson(url: string, headers: Record<string, string> = {}, also?: number): Promise<unknown> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!res.ok && res.status !== also) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** Health of every running node (nodes that do not answer are left out). */
export async function healthOf(d: AblyDeployment): Promise<NodeHealth[]> {
  const running = d.nodes.filter((n) => d.supervisor.nodes.has(n.name));
  const all = await Promise.all(running.map((n) => getJson(`${httpUrl(n)}/health`, {}, 503).catch(() => null)));
  return all.filter((h): h is NodeHealth => h !== null);
}

/** Whether every region has a globalmaster whose every link is up ('up'), or no node reports a link up ('down'). */
function linksAre(hs: NodeHealth[], regions: string[], want: 'up' | 'down'): boolean {
  const gms = hs.filter((h) => h.globalmaster);
  if (want === 'down') return gms.every((h) => (h.regionLinks?.links ?? []).every((l) => !l.up));
  return regions.every((r) => gms.some((h) => h.region === r && (h.regionLinks?.links ?? []).length > 0 && h.regionLinks!.links.every((l) => l.up)));
}

/** Waits until the region links are all up (or all down); returns how long it took (ms), or throws after `timeoutMs`. */
export async function waitForLinks(d: AblyDeployment, want: 'up' | 'down', timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const regions = d.topology.regions.map((r) => r.name);
  for (;;) {
    if (linksAre(await healthOf(d), regions, want)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`region links not ${want} after ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/** The deployment's control endpoint, as `ably-ng chaos` finds it in the state file. */
function controlEndpoint(d: AblyDeployment): RunningDeployment {
  const c = d.supervisor.control;
  if (!c) throw new Error('the deployment has no control endpoint');
  return { deployment: d.topology.deployment, control: { url: c.url, token: c.token }, file: d.supervisor.stateFile };
}

/** `ably-ng chaos latency A B MS` (both directions unless oneWay). */
export function setLinkLatency(d: AblyDeployment, a: string, b: string, latencyMs: number, oneWay = false): Promise<unknown> {
  return control(controlEndpoint(d), 'POST', '/regions/faults', { a, b, latencyMs, oneWay });
}

/** `ably-ng chaos partition A B`. */
export function partition(d: AblyDeployment, a: string, b: string): Promise<unknown> {
  return control(controlEndpoint(d), 'POST', '/regions/partition', { a, b });
}

/** `ably-ng chaos heal A B`. */
export function heal(d: AblyDeployment, a: string, b: string): Promise<unknown> {
  return control(controlEndpoint(d), 'POST', '/regions/heal', { a, b });
}

/** Which node masters a channel and which holds its replica, as `GET /channels/{name}` says (null: no master state yet). */
export async function channelPlacement(nodeHttp: string, key: string, channel: string): Promise<{ master: string; replica: string | null } | null> {
  const auth = `Basic ${Buffer.from(key).toString('base64')}`;
  const body = (await getJson(`${nodeHttp}/channels/${encodeURIComponent(channel)}`, { authorization: auth })) as { master?: string; replica?: string };
  return body.master ? { master: body.master, replica: body.replica ?? null } : null;
}

/** Waits until `GET /channels/{name}` names `master`; returns how long it took (ms), or -1 after `timeoutMs`. */
export async function waitForMaster(nodeHttp: string, key: string, channel: string, master: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const p = await channelPlacement(nodeHttp, key, channel).catch(() => null);
    if (p?.master === master) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) return -1;
    await sleep(POLL_MS);
  }
}

/**
 * A channel name `${prefix}-<i>` whose master on the full ring of `region` is `master`
 * (the ring is the nodes' own: same members, same vnodes). Checked against the running
 * region by the caller with channelPlacement.
 */
export function channelMasteredBy(d: AblyDeployment, region: string, master: string, prefix: string): string {
  const r = d.topology.regions.find((x) => x.name === region);
  if (!r) throw new Error(`no region ${region}`);
  const ring = new Ring(
    r.nodes.map((n) => n.name),
    r.vnodes,
  );
  for (let i = 0; i < 10_000; i++) {
    const name = `${prefix}-${i}`;
    if (ring.owner(`${BENCH_APP}:${name}`) === master) return name;
  }
  throw new Error(`no channel ${prefix}-* is mastered by ${master}`);
}
