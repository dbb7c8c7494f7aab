import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateTopology, type Topology } from '../../src/config/topology.js';
import { freePorts } from './ports.js';
import { tempDir } from './tmp.js';

export const KEY = 'app.root:rootsecret';
export const SUB_KEY = 'app.sub:subsecret1';
export const PUB_ONLY_KEY = 'app.pub:pubsecret1';
/** A key whose tokens can be revoked (revocableTokens). */
export const REV_KEY = 'app.rev:revsecret1';
/** A key that may update and delete only its client's own messages, on `mutable:*` (the namespace with mutableMessages). */
export const OWN_KEY = 'app.own:ownsecret1';
/** Everything, also on the metachannels ([meta]channel.lifecycle: what the service refuses there is its own refusal, not the capability's). */
export const META_KEY = 'app.meta:metasecret1';

/** A region of the test topology; `transport: 'nats'` puts it on the given NATS servers. */
export interface TestRegion {
  name: string;
  nodes: number;
  transport?: 'mesh' | 'nats';
  nats?: { servers: string[]; token?: string; user?: string; pass?: string };
}

export interface TestTopologyOptions {
  regions?: TestRegion[];
  retention?: Record<string, number>;
  limits?: Record<string, number>;
  /** Region links over TLS with these PEM files (paths); plain text otherwise. */
  tls?: { ca: string; cert: string; key: string };
}

/** A topology on free loopback ports, written to a temporary YAML file. */
export async function makeTopology(o: TestTopologyOptions = {}): Promise<{ file: string; dir: string; topology: Topology }> {
  const regions = o.regions ?? [{ name: 'r1', nodes: 1 }];
  const total = regions.reduce((n, r) => n + r.nodes, 0);
  const multi = regions.length > 1;
  const ports = await freePorts(total * (multi ? 3 : 2) + (multi ? regions.length : 0));
  let p = 0;
  const doc = {
    deployment: 'test',
    secrets: { cluster: 'test-cluster-secret', ...(multi ? { deployment: 'test-deployment-secret' } : {}) },
    ...(multi ? { links: o.tls ? { tls: o.tls } : { plaintext: true } } : {}),
    apps: [
      {
        id: 'app',
        keys: [
          { id: 'root', secret: 'rootsecret', capability: { '*': ['*'], '[filter]*': ['subscribe'] } },
          { id: 'sub', secret: 'subsecret1', capability: { '*': ['subscribe', 'history'] } },
          { id: 'pub', secret: 'pubsecret1', capability: { 'pub:*': ['publish'], 'open': ['publish', 'subscribe'] } },
          { id: 'rev', secret: 'revsecret1', capability: { '*': ['*'] }, revocableTokens: true },
          { id: 'meta', secret: 'metasecret1', capability: { '*': ['*'], '[meta]*': ['*'] } },
          { id: 'own', secret: 'ownsecret1', capability: { 'mutable:*': ['publish', 'subscribe', 'history', 'message-update-own', 'message-delete-own'] } },
        ],
        namespaces: [{ id: 'mutable', mutableMessages: true }],
      },
    ],
    ...(o.retention ? { retention: o.retention } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    regions: regions.map((r) => ({
      name: r.name,
      ...(r.transport ? { transport: r.transport } : {}),
      ...(r.nats ? { nats: r.nats } : {}),
      ...(multi ? { link: { port: ports[p++]! } } : {}),
      nodes: Array.from({ length: r.nodes }, (_, i) => ({
        name: `${r.name}-n${i + 1}`,
        port: ports[p++]!,
        meshPort: ports[p++]!,
        ...(multi ? { grpcPort: ports[p++]! } : {}),
      })),
    })),
  };
  const dir = tempDir('test');
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, stringify(doc));
  return { file, dir, topology: validateTopology(doc, file) };
}
