/**
 * Topology files (`regions/*.yaml`): the deployment's regions, their nodes and ports,
 * the apps with their API keys and capabilities, retention and limits. Validation names
 * the bad path (`regions[1].nodes[0].port: must be 1..65535`) and rejects contradictions.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import * as D from './defaults.js';
import { parseCapability } from '../auth/capability.js';
import { MAX_NODE_FRAME_BYTES } from '../transport/framing.js';

const port = z.number().int().min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
/** A region's, node's or app's name (without the anchors: `NAME.source` goes into other patterns). */
export const NAME = /[A-Za-z0-9][A-Za-z0-9_-]*/;
const name = z
  .string()
  .min(1)
  .max(64)
  .regex(new RegExp(`^${NAME.source}$`), 'must be letters, digits, "-" or "_"');
/** A secret given literally or as `env:NAME` (read from the environment at load time). */
const secret = z.string().min(1);

const nodeSchema = z
  .object({
    name,
    host: z.string().min(1).default('127.0.0.1'),
    port,
    meshPort: port,
    grpcPort: port.optional(),
  })
  .strict();

const tlsFilesSchema = z
  .object({
    /** PEM files, relative to the topology file: CA that signs peers, this side's certificate and key. */
    ca: z.string().min(1),
    cert: z.string().min(1),
    key: z.string().min(1),
  })
  .strict();

const regionSchema = z
  .object({
    name,
    transport: z.enum(['mesh', 'nats']).default('mesh'),
    /** Where other regions reach this region's globalmaster (a balancer that sends to it). */
    link: z.object({ host: z.string().default('127.0.0.1'), port }).strict().optional(),
    /** Certificates for this region's links, overriding `links.tls`. */
    tls: tlsFilesSchema.optional(),
    /**
     * The NATS cluster a `transport: nats` region runs on: client URLs (more are learnt from
     * the cluster), and its authentication: a token, or a user and password (secrets given
     * literally or as `env:NAME`).
     */
    nats: z
      .object({
        servers: z.array(z.string().min(1)).min(1),
        token: secret.optional(),
        user: z.string().min(1).optional(),
        pass: secret.optional(),
      })
      .strict()
      .optional(),
    balancer: z.object({ host: z.string().default('127.0.0.1'), port }).strict().optional(),
    vnodes: z.number().int().min(1).max(4096).default(128),
    nodes: z.array(nodeSchema).min(1, 'a region needs at least one node'),
  })
  .strict();

const keySchema = z
  .object({
    id: name,
    // As the SDKs read a key (`name:secret`; ably-js: no ':', '.' or white space in the secret).
    secret: z.string().min(8, 'must be at least 8 characters').regex(/^[^:.\s]+$/, "must have no ':', '.' or white space (the SDKs could not read the key)"),
    capability: z.record(z.string(), z.array(z.string())).default({ '*': ['*'] }),
    /** Tokens of this key can be revoked (POST /keys/{keyName}/revokeTokens); they live an hour at most. */
    revocableTokens: z.boolean().default(false),
  })
  .strict();

/**
 * A channel namespace's rules (Ably's channel rules): the channels whose names begin
 * with `id:` (`id:anything`). `mutableMessages`: their messages can be updated, deleted
 * and appended to (src/channel/versions.ts; elsewhere 93002).
 */
const namespaceSchema = z
  .object({
    id: name,
    mutableMessages: z.boolean().default(false),
  })
  .strict();

const appSchema = z
  .object({
    id: name,
    keys: z.array(keySchema).min(1, 'an app needs at least one key'),
    namespaces: z.array(namespaceSchema).default([]),
  })
  .strict();

const retentionSchema = z
  .object({
    historyMs: z.number().int().min(1000).default(D.HISTORY_RETENTION_MS),
    dedupMs: z.number().int().min(1000).default(D.DEDUP_WINDOW_MS),
    maxMessagesPerChannel: z.number().int().min(1).default(D.MAX_HISTORY_MESSAGES_PER_CHANNEL),
    maxBytesPerChannel: z.number().int().min(1).default(D.MAX_HISTORY_BYTES_PER_CHANNEL),
    maxDedupBytesPerChannel: z.number().int().min(1).default(D.MAX_DEDUP_BYTES_PER_CHANNEL),
  })
  .strict();

const limitsSchema = z
  .object({
    maxMessageSize: z.number().int().min(1).default(D.MAX_MESSAGE_SIZE_BYTES),
    maxFrameSize: z.number().int().min(1).default(D.MAX_FRAME_SIZE_BYTES),
    maxInboundRate: z.number().min(1).default(D.MAX_INBOUND_RATE_PER_S),
    maxChannelsPerConnection: z.number().int().min(1).default(D.MAX_CHANNELS_PER_CONNECTION),
    /** WebSocket connections a node holds at most; absent, or above it: what its open-file limit allows (gateway/admission.ts). */
    maxConnectionsPerNode: z.number().int().min(1).optional(),
    maxPresenceMembers: z.number().int().min(1).default(D.MAX_PRESENCE_MEMBERS_PER_CHANNEL),
    presenceLeaveDelayMs: z.number().int().min(0).default(D.PRESENCE_LEAVE_DELAY_MS),
    maxChannelPublishRate: z.number().min(1).default(D.MAX_CHANNEL_PUBLISH_RATE_PER_S),
    connectionStateTtlMs: z.number().int().min(1000).default(D.CONNECTION_STATE_TTL_MS),
    maxIdleIntervalMs: z.number().int().min(100).default(D.MAX_IDLE_INTERVAL_MS),
    maxConnectionBufferBytes: z.number().int().min(1024).default(D.MAX_CONNECTION_BUFFER_BYTES),
    /** Memory a node may hold (heap in use and buffers) before its masters refuse publishes with 42910; 0: half the machine's. */
    maxNodeMemoryBytes: z.number().int().min(0).default(0),
    /** Occupancy events that change no count from or to zero go at most this often (Ably: within 15 s). */
    occupancyIntervalMs: z.number().int().min(10).max(15_000).default(D.OCCUPANCY_INTERVAL_MS),
    /** A region tells the regions that watch a channel its counts again this often (absent: 20 intervals, at least 10 s); counts not heard for three go. */
    occupancyRefreshMs: z.number().int().min(1000).max(3_600_000).optional(),
    /** A channel with no attachment in a region for this long is inactive there ([meta]channel.lifecycle; Ably: about a minute). */
    channelInactiveDelayMs: z.number().int().min(100).max(3_600_000).default(D.CHANNEL_INACTIVE_DELAY_MS),
  })
  .strict();

const topologySchema = z
  .object({
    deployment: name,
    secrets: z
      .object({
        cluster: secret.default('env:ABLY_NG_CLUSTER_SECRET'),
        /** Sent in the metadata of every region link; a peer without it is refused. */
        deployment: secret.optional(),
        control: secret.optional(),
      })
      .strict()
      .default({ cluster: 'env:ABLY_NG_CLUSTER_SECRET' }),
    /** Region-to-region links: TLS (mutual) certificates, or explicit plain text for local use. */
    links: z
      .object({
        tls: tlsFilesSchema.optional(),
        plaintext: z.boolean().default(false),
      })
      .strict()
      .default({ plaintext: false }),
    /** The control endpoint of `ably-ng up` (fault injection); loopback unless set. */
    control: z.object({ host: z.string().default('127.0.0.1'), port: port.optional() }).strict().optional(),
    apps: z.array(appSchema).min(1, 'a deployment needs at least one app'),
    retention: retentionSchema.default(retentionSchema.parse({})),
    limits: limitsSchema.default(limitsSchema.parse({})),
    regions: z.array(regionSchema).min(1, 'a deployment needs at least one region'),
  })
  .strict();

export type Topology = z.infer<typeof topologySchema> & { file?: string };
export type RegionConfig = z.infer<typeof regionSchema>;
export type NodeConfig = z.infer<typeof nodeSchema>;
export type AppConfig = z.infer<typeof appSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type Limits = z.infer<typeof limitsSchema>;
export type Retention = z.infer<typeof retentionSchema>;

export class TopologyError extends Error {
  constructor(readonly problems: string[], file?: string) {
    super(`${file ? `${file}: ` : ''}invalid topology:\n  ${problems.join('\n  ')}`);
    this.name = 'TopologyError';
  }
}

function pathString(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/**
 * Whether two hosts given to listeners take the same port on this machine: one address
 * under two spellings (`localhost` as either loopback), or a wildcard and an address it
 * covers (`0.0.0.0` every IPv4 one, `::` every one: Node listens on both families there).
 * Two addresses of one kind (127.0.0.1 and 127.0.0.2, or 127.0.0.1 and ::1) are two sockets.
 */
export function sameListenAddress(a: string, b: string): boolean {
  const forms = (h: string): string[] => {
    const x = h.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    return x === 'localhost' ? ['127.0.0.1', '::1'] : [x];
  };
  const [xs, ys] = [forms(a), forms(b)];
  const covers = (w: string, h: string) => w === '::' || (w === '0.0.0.0' && !h.includes(':'));
  return xs.some((x) => ys.some((y) => x === y || covers(x, y) || covers(y, x)));
}

/** Validates a parsed topology document; throws TopologyError naming every bad path. */
export function validateTopology(doc: unknown, file?: string): Topology {
  const parsed = topologySchema.safeParse(doc);
  if (!parsed.success) {
    throw new TopologyError(
      parsed.error.issues.map((i) => `${pathString(i.path)}: ${i.message}`),
      file,
    );
  }
  const t = parsed.data;
  const problems: string[] = [];

  const regionNames = new Set<string>();
  const nodeNames = new Set<string>();
  const endpoints: { host: string; port: number; where: string }[] = [];
  const claim = (host: string, p: number, where: string) => {
    const prev = endpoints.find((e) => e.port === p && sameListenAddress(e.host, host));
    if (prev) problems.push(`${where}: port ${p} on ${host} is already used by ${prev.where}${prev.host === host ? '' : ` (on ${prev.host})`}`);
    else endpoints.push({ host, port: p, where });
  };
  if (t.control?.port) claim(t.control.host, t.control.port, 'control');
  t.regions.forEach((r, ri) => {
    if (regionNames.has(r.name)) problems.push(`regions[${ri}].name: duplicate region "${r.name}"`);
    regionNames.add(r.name);
    if (r.transport === 'nats' && !r.nats) problems.push(`regions[${ri}].nats: required when transport is "nats"`);
    if (r.nats?.token && (r.nats.user || r.nats.pass)) problems.push(`regions[${ri}].nats: a token and a user/pass contradict each other`);
    if (r.nats && !!r.nats.user !== !!r.nats.pass) problems.push(`regions[${ri}].nats: user and pass go together`);
    if (r.balancer) claim(r.balancer.host, r.balancer.port, `regions[${ri}].balancer`);
    if (r.link) claim(r.link.host, r.link.port, `regions[${ri}].link`);
    r.nodes.forEach((n, ni) => {
      const where = `regions[${ri}].nodes[${ni}]`;
      if (nodeNames.has(n.name)) problems.push(`${where}.name: duplicate node "${n.name}" (node names are unique in a deployment)`);
      nodeNames.add(n.name);
      claim(n.host, n.port, `${where}.port`);
      claim(n.host, n.meshPort, `${where}.meshPort`);
      if (n.grpcPort !== undefined) claim(n.host, n.grpcPort, `${where}.grpcPort`);
    });
  });

  const appIds = new Set<string>();
  t.apps.forEach((a, ai) => {
    if (appIds.has(a.id)) problems.push(`apps[${ai}].id: duplicate app "${a.id}"`);
    appIds.add(a.id);
    const keyIds = new Set<string>();
    a.keys.forEach((k, ki) => {
      if (keyIds.has(k.id)) problems.push(`apps[${ai}].keys[${ki}].id: duplicate key "${k.id}"`);
      keyIds.add(k.id);
      try {
        parseCapability(k.capability);
      } catch (e) {
        problems.push(`apps[${ai}].keys[${ki}].capability: ${(e as Error).message}`);
      }
    });
    const namespaceIds = new Set<string>();
    a.namespaces.forEach((n, ni) => {
      if (namespaceIds.has(n.id)) problems.push(`apps[${ai}].namespaces[${ni}].id: duplicate namespace "${n.id}"`);
      namespaceIds.add(n.id);
    });
  });

  if (t.regions.length > 1) {
    if (!t.secrets.deployment) problems.push('secrets.deployment: required when there is more than one region');
    if (!t.links.tls && !t.links.plaintext && t.regions.some((r) => !r.tls)) {
      problems.push('links: give links.tls (certificates) or set links.plaintext: true (local use only)');
    }
    if (t.links.tls && t.links.plaintext) problems.push('links: tls and plaintext: true contradict each other');
    t.regions.forEach((r, ri) => {
      if (!r.link) problems.push(`regions[${ri}].link: required when there is more than one region (where peers reach its globalmaster)`);
      r.nodes.forEach((n, ni) => {
        if (n.grpcPort === undefined) problems.push(`regions[${ri}].nodes[${ni}].grpcPort: required when there is more than one region`);
      });
    });
  }
  if (t.limits.maxMessageSize > t.limits.maxFrameSize) {
    problems.push(`limits.maxMessageSize: must not exceed limits.maxFrameSize (${t.limits.maxFrameSize})`);
  }
  if (t.retention.dedupMs < 1000) problems.push('retention.dedupMs: must be at least 1000');
  problems.push(...channelStateBounds(t));

  if (problems.length) throw new TopologyError(problems, file);
  return { ...t, ...(file ? { file } : {}) };
}

/**
 * A channel's whole state moves between nodes as one snapshot in one node frame (a
 * handoff, a claim's answer, a new replica's sync): its history, its dedup window
 * (encoded: each id and serial, at least 11 bytes together, gains at most 14 of framing,
 * so at most 2.5 times the bytes held) and its presence members (up to the limit entered
 * in each region), whose sum the retention and limits must keep inside a frame. A frame
 * over it drops the link it came on, and the channel could not move.
 */
function channelStateBounds(t: Topology): string[] {
  const { maxBytesPerChannel: history, maxDedupBytesPerChannel: dedup } = t.retention;
  const { maxMessageSize, maxPresenceMembers } = t.limits;
  const problems: string[] = [];
  if (history < maxMessageSize + 1024) {
    problems.push(`retention.maxBytesPerChannel: ${history} bytes cannot hold one message of limits.maxMessageSize (${maxMessageSize}) with its entry's fields (1 KiB)`);
  }
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const presence = t.regions.length * maxPresenceMembers * (maxMessageSize + 1024);
  const whole = history + 2.5 * dedup + presence + 2 ** 20;
  if (whole > MAX_NODE_FRAME_BYTES) {
    problems.push(
      `retention: a channel's state could take ${mib(whole)} (history ${mib(history)}, dedup window ${mib(2.5 * dedup)} encoded, ` +
        `${maxPresenceMembers} presence members in each of ${t.regions.length} region(s), of up to ${maxMessageSize} bytes, ${mib(presence)}), more than one node frame carries ` +
        `when the channel moves between nodes (${mib(MAX_NODE_FRAME_BYTES)}): lower retention.maxBytesPerChannel, ` +
        'retention.maxDedupBytesPerChannel, limits.maxPresenceMembers or limits.maxMessageSize',
    );
  }
  return problems;
}

/** Reads and validates a topology file (YAML or JSON). */
export function loadTopology(file: string): Topology {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TopologyError([`cannot read file: ${(e as Error).message}`], path);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new TopologyError([`not valid YAML: ${(e as Error).message}`], path);
  }
  return validateTopology(doc, path);
}

/** Resolves a secret value: `env:NAME` reads the environment; anything else is literal. */
export function resolveSecret(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (!value.startsWith('env:')) return value;
  const v = process.env[value.slice(4)];
  if (v === undefined || v === '') {
    throw new TopologyError([`${what}: environment variable ${value.slice(4)} is not set`]);
  }
  return v;
}

export function findRegion(t: Topology, region: string): RegionConfig {
  const r = t.regions.find((x) => x.name === region);
  if (!r) throw new TopologyError([`no region "${region}" (have: ${t.regions.map((x) => x.name).join(', ')})`], t.file);
  return r;
}

export function findNode(t: Topology, region: string, node: string): NodeConfig {
  const r = findRegion(t, region);
  const n = r.nodes.find((x) => x.name === node);
  if (!n) throw new TopologyError([`no node "${node}" in region "${region}" (have: ${r.nodes.map((x) => x.name).join(', ')})`], t.file);
  return n;
}

/** Directory of the topology file, for resolving relative paths named in it. */
export function topologyDir(t: Topology): string {
  return t.file ? dirname(t.file) : process.cwd();
}
