/**
 * What a topology says of one region's links to the others, for the globalmaster on one
 * of its nodes: the peers it dials (each region's link endpoint, or an address that stands
 * for it, a fault proxy), where it listens, the deployment secret, and the TLS material its
 * files name (read now: a missing file fails the node's start).
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { resolveSecret, topologyDir, type NodeConfig, type RegionConfig, type Topology } from '../config/topology.js';
import type { LinksDeps } from './links.js';

export type LinkSettings = Pick<LinksDeps, 'region' | 'deployment' | 'peers' | 'grpcHost' | 'grpcPort' | 'secret' | 'tls'>;

export function linkSettings(
  t: Topology,
  region: RegionConfig,
  node: NodeConfig,
  via?: ReadonlyMap<string, { host: string; port: number }>,
): LinkSettings {
  const files = region.tls ?? t.links.tls;
  const dir = topologyDir(t);
  const read = (file: string) => readFileSync(resolvePath(dir, file));
  return {
    region: region.name,
    deployment: t.deployment,
    peers: t.regions
      .filter((r) => r.name !== region.name)
      .map((r) => ({ region: r.name, ...(via?.get(r.name) ?? { host: r.link!.host, port: r.link!.port }) })),
    grpcHost: node.host,
    grpcPort: node.grpcPort!,
    secret: resolveSecret(t.secrets.deployment, 'secrets.deployment')!,
    tls: files ? { ca: read(files.ca), cert: read(files.cert), key: read(files.key) } : null,
  };
}
