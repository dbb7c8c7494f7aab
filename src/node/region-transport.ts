/** The region transport a node runs on, as its region's topology names it. */
import { resolveSecret, type NodeConfig, type RegionConfig } from '../config/topology.js';
import type { Logger } from '../log.js';
import { MeshTransport } from '../transport/mesh.js';
import type { NodeAddress, NodeId } from '../transport/messages.js';
import { NatsTransport } from '../transport/nats.js';
import type { RegionTransport } from '../transport/transport.js';
import { hostPort } from '../ports.js';

export interface RegionTransportOptions {
  self: NodeId;
  deployment: string;
  region: RegionConfig;
  node: NodeConfig;
  /** Authenticates mesh links (secrets.cluster). */
  clusterSecret: string;
  log: Logger;
  heartbeatIntervalMs: number;
  /** Peers to dial through another address (fault proxies; mesh only). */
  dialVia?: (peer: NodeId, address: NodeAddress) => { host: string; port: number };
  /** NATS servers (by their URL in the topology) to reach through another address (fault proxies): then only those, none the cluster announces. */
  natsVia?: Map<string, { host: string; port: number }>;
}

/**
 * Plays a build of another node protocol (tests only: `ABLY_NG_DEBUG_NODE_PROTOCOL=N`;
 * 0 is a build from before versions).
 */
function debugProtocol(): { protocol?: number } {
  const v = process.env.ABLY_NG_DEBUG_NODE_PROTOCOL;
  return v !== undefined && /^\d+$/.test(v) ? { protocol: Number(v) } : {};
}

/** A NATS server's URL, or the address it is reached through instead. */
function viaUrl(url: string, via: Map<string, { host: string; port: number }>): string {
  const to = via.get(url);
  return to ? `nats://${hostPort(to.host, to.port)}` : url;
}

/** The mesh (the default), or NATS for `transport: nats` (`regions[].nats`). */
export function regionTransport(o: RegionTransportOptions): RegionTransport {
  const nats = o.region.nats;
  if (o.region.transport === 'nats' && nats) {
    const where = `regions.${o.region.name}.nats`;
    return new NatsTransport({
      self: o.self,
      deployment: o.deployment,
      region: o.region.name,
      servers: o.natsVia ? nats.servers.map((url) => viaUrl(url, o.natsVia!)) : nats.servers,
      ...(o.natsVia ? { onlyGivenServers: true } : {}),
      ...(nats.token ? { token: resolveSecret(nats.token, `${where}.token`)! } : {}),
      ...(nats.user ? { user: nats.user, pass: resolveSecret(nats.pass, `${where}.pass`)! } : {}),
      log: o.log,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      ...debugProtocol(),
    });
  }
  return new MeshTransport({
    self: o.self,
    region: o.region.name,
    host: o.node.host,
    meshPort: o.node.meshPort,
    secret: o.clusterSecret,
    log: o.log,
    ...(o.dialVia ? { dialVia: o.dialVia } : {}),
    // Tests and chaos A/B only: no frames around cut links, as before the twenty-eighth session.
    ...(process.env.ABLY_NG_DEBUG_NO_PATHS_AROUND === '1' ? { aroundCuts: false } : {}),
    ...debugProtocol(),
  });
}
