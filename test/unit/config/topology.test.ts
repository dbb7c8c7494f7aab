import { describe, expect, it } from 'vitest';
import * as D from '../../../src/config/defaults.js';
import { TopologyError, validateTopology } from '../../../src/config/topology.js';

type Doc = Record<string, unknown>;

function minimal(): Doc {
  return {
    deployment: 'test',
    apps: [{ id: 'app1', keys: [{ id: 'k1', secret: 'secret123' }] }],
    regions: [{ name: 'eu', nodes: [{ name: 'n1', port: 8001, meshPort: 9001 }] }],
  };
}

function twoNodes(second: Doc = {}): Doc {
  return {
    ...minimal(),
    regions: [
      {
        name: 'eu',
        nodes: [
          { name: 'n1', port: 8001, meshPort: 9001 },
          { name: 'n2', port: 8002, meshPort: 9002, ...second },
        ],
      },
    ],
  };
}

/** The problems validateTopology reports for `doc`. */
function problemsOf(doc: unknown, file?: string): string[] {
  try {
    validateTopology(doc, file);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).problems;
  }
  throw new Error('expected a TopologyError, but the document was accepted');
}

/** What a deployment of several regions needs besides its regions. */
function multiRegion(doc: any): any {
  return { ...doc, secrets: { cluster: 'c', deployment: 'd' }, links: { plaintext: true } };
}

describe('validateTopology', () => {
  it('fills in defaults for a minimal document', () => {
    const t = validateTopology(minimal());
    expect(t.deployment).toBe('test');
    expect(t.regions[0]!.transport).toBe('mesh');
    expect(t.regions[0]!.vnodes).toBe(128);
    expect(t.regions[0]!.nodes[0]).toEqual({ name: 'n1', host: '127.0.0.1', port: 8001, meshPort: 9001 });
    expect(t.apps[0]!.keys[0]!.capability).toEqual({ '*': ['*'] });
    expect(t.secrets).toEqual({ cluster: 'env:ABLY_NG_CLUSTER_SECRET' });
    expect(t.retention).toEqual({
      historyMs: D.HISTORY_RETENTION_MS,
      dedupMs: D.DEDUP_WINDOW_MS,
      maxMessagesPerChannel: D.MAX_HISTORY_MESSAGES_PER_CHANNEL,
      maxBytesPerChannel: D.MAX_HISTORY_BYTES_PER_CHANNEL,
      maxDedupBytesPerChannel: D.MAX_DEDUP_BYTES_PER_CHANNEL,
    });
    expect(t.limits).toEqual({
      maxMessageSize: D.MAX_MESSAGE_SIZE_BYTES,
      maxFrameSize: D.MAX_FRAME_SIZE_BYTES,
      maxInboundRate: D.MAX_INBOUND_RATE_PER_S,
      maxChannelsPerConnection: D.MAX_CHANNELS_PER_CONNECTION,
      maxPresenceMembers: D.MAX_PRESENCE_MEMBERS_PER_CHANNEL,
      presenceLeaveDelayMs: D.PRESENCE_LEAVE_DELAY_MS,
      maxChannelPublishRate: D.MAX_CHANNEL_PUBLISH_RATE_PER_S,
      connectionStateTtlMs: D.CONNECTION_STATE_TTL_MS,
      maxIdleIntervalMs: D.MAX_IDLE_INTERVAL_MS,
      maxConnectionBufferBytes: D.MAX_CONNECTION_BUFFER_BYTES,
      maxNodeMemoryBytes: 0,
      occupancyIntervalMs: D.OCCUPANCY_INTERVAL_MS,
      channelInactiveDelayMs: D.CHANNEL_INACTIVE_DELAY_MS,
    });
    expect(t).not.toHaveProperty('file');
  });

  it('fills in the limits a document leaves out and keeps the ones it gives', () => {
    const t = validateTopology({ ...minimal(), limits: { maxMessageSize: 1000 } });
    expect(t.limits.maxMessageSize).toBe(1000);
    expect(t.limits.maxFrameSize).toBe(D.MAX_FRAME_SIZE_BYTES);
  });

  it('records the file it came from', () => {
    expect(validateTopology(minimal(), '/etc/regions/eu.yaml').file).toBe('/etc/regions/eu.yaml');
  });

  it('accepts the same port on different hosts', () => {
    expect(() => validateTopology(twoNodes({ host: '10.0.0.2', port: 8001, meshPort: 9001 }))).not.toThrow();
  });

  it('accepts a NATS region that names its servers', () => {
    const doc = minimal();
    (doc.regions as Doc[])[0] = { ...(doc.regions as Doc[])[0], transport: 'nats', nats: { servers: ['nats://x:4222'] } };
    expect(validateTopology(doc).regions[0]!.transport).toBe('nats');
  });

  describe('naming the bad path', () => {
    it.each([0, -1, 65536])('rejects port %s as regions[0].nodes[1].port: must be 1..65535', (port) => {
      expect(problemsOf(twoNodes({ port }))).toEqual(['regions[0].nodes[1].port: must be 1..65535']);
    });

    it('rejects a fractional port under its path', () => {
      const problems = problemsOf(twoNodes({ port: 8001.5 }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^regions\[0\]\.nodes\[1\]\.port: /);
    });

    it('rejects a bad meshPort under its own path', () => {
      expect(problemsOf(twoNodes({ meshPort: -1 }))).toContain('regions[0].nodes[1].meshPort: must be 1..65535');
    });

    it('rejects a node name with bad characters', () => {
      const problems = problemsOf(twoNodes({ name: 'bad name' }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^regions\[0\]\.nodes\[1\]\.name: /);
    });

    it('rejects a missing required field', () => {
      const doc = minimal();
      delete doc.deployment;
      expect(problemsOf(doc).some((p) => p.startsWith('deployment: '))).toBe(true);
    });

    it('rejects a short key secret', () => {
      const doc = minimal();
      doc.apps = [{ id: 'app1', keys: [{ id: 'k1', secret: 'short' }] }];
      expect(problemsOf(doc)).toContain('apps[0].keys[0].secret: must be at least 8 characters');
    });

    it("rejects a control port one of the deployment's endpoints has", () => {
      const doc = minimal();
      const first = (doc.regions as { nodes: { port: number }[] }[])[0]!.nodes[0]!;
      doc.control = { port: first.port };
      expect(problemsOf(doc).some((p) => /port \d+ on 127\.0\.0\.1 is already used by control/.test(p))).toBe(true);
    });

    it.each(['has:colon-secret', 'has.dot-secret', 'has space-secret'])('rejects a key secret the SDKs could not read: %s', (secret) => {
      const doc = minimal();
      doc.apps = [{ id: 'app1', keys: [{ id: 'k1', secret }] }];
      expect(problemsOf(doc)).toContain("apps[0].keys[0].secret: must have no ':', '.' or white space (the SDKs could not read the key)");
    });

    it.each([
      ['regions', []],
      ['apps', []],
    ])('rejects empty %s', (field, value) => {
      const problems = problemsOf({ ...minimal(), [field]: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${field}: `));
    });

    it('rejects a region with no nodes', () => {
      const doc = minimal();
      doc.regions = [{ name: 'eu', nodes: [] }];
      expect(problemsOf(doc)).toContain('regions[0].nodes: a region needs at least one node');
    });

    it('rejects a document that is not an object', () => {
      expect(problemsOf('hello')[0]).toMatch(/^\(top level\): /);
      expect(problemsOf(null)[0]).toMatch(/^\(top level\): /);
    });

    it('rejects an unknown key at the top level', () => {
      const problems = problemsOf({ ...minimal(), colour: 'blue' });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^\(top level\): .*colour/);
    });

    it('rejects an unknown key on a node, naming the node', () => {
      const problems = problemsOf(twoNodes({ prot: 8080 }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^regions\[0\]\.nodes\[1\]: .*prot/);
    });

    it('takes limits.maxConnectionsPerNode as a whole number of at least one, absent by default', () => {
      expect(validateTopology(minimal()).limits.maxConnectionsPerNode).toBeUndefined();
      expect(validateTopology({ ...minimal(), limits: { maxConnectionsPerNode: 5000 } }).limits.maxConnectionsPerNode).toBe(5000);
      expect(problemsOf({ ...minimal(), limits: { maxConnectionsPerNode: 0 } })[0]).toMatch(/^limits\.maxConnectionsPerNode: /);
      expect(problemsOf({ ...minimal(), limits: { maxConnectionsPerNode: 2.5 } })[0]).toMatch(/^limits\.maxConnectionsPerNode: /);
    });

    it('rejects an unknown key in limits', () => {
      expect(problemsOf({ ...minimal(), limits: { maxMessageSise: 5 } })[0]).toMatch(/^limits: .*maxMessageSise/);
    });

    it('reports every problem at once', () => {
      const doc = twoNodes({ port: 0, meshPort: 70000 });
      doc.apps = [{ id: 'app1', keys: [{ id: 'k1', secret: 'x' }] }];
      expect(problemsOf(doc).sort()).toEqual([
        'apps[0].keys[0].secret: must be at least 8 characters',
        'regions[0].nodes[1].meshPort: must be 1..65535',
        'regions[0].nodes[1].port: must be 1..65535',
      ]);
    });

    it('names the file in the error message', () => {
      try {
        validateTopology({ ...minimal(), regions: [] }, 'eu.yaml');
        expect.unreachable();
      } catch (e) {
        expect((e as Error).message).toMatch(/^eu\.yaml: invalid topology:/);
        expect((e as Error).message).toContain('regions: ');
      }
    });
  });

  describe('contradictions', () => {
    it('rejects a node name used twice, even across regions', () => {
      const doc = multiRegion(minimal());
      doc.regions = [
        { name: 'eu', link: { port: 7001 }, nodes: [{ name: 'n1', port: 8001, meshPort: 9001, grpcPort: 10001 }] },
        { name: 'us', link: { port: 7002 }, nodes: [{ name: 'n1', port: 8002, meshPort: 9002, grpcPort: 10002 }] },
      ];
      const problems = problemsOf(doc);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^regions\[1\]\.nodes\[0\]\.name: duplicate node "n1"/);
    });

    it('rejects a port used twice on one host, naming both users', () => {
      expect(problemsOf(twoNodes({ port: 8001 }))).toEqual([
        'regions[0].nodes[1].port: port 8001 on 127.0.0.1 is already used by regions[0].nodes[0].port',
      ]);
    });

    it('rejects a port used twice under two spellings of one address, or once on a wildcard address; takes one port on two addresses', () => {
      expect(problemsOf(twoNodes({ host: 'localhost', port: 8001 }))).toEqual([
        'regions[0].nodes[1].port: port 8001 on localhost is already used by regions[0].nodes[0].port (on 127.0.0.1)',
      ]);
      expect(problemsOf(twoNodes({ host: '0.0.0.0', port: 8001 }))).toEqual([
        'regions[0].nodes[1].port: port 8001 on 0.0.0.0 is already used by regions[0].nodes[0].port (on 127.0.0.1)',
      ]);
      expect(problemsOf(twoNodes({ host: '::', meshPort: 9001 }))).toEqual([
        'regions[0].nodes[1].meshPort: port 9001 on :: is already used by regions[0].nodes[0].meshPort (on 127.0.0.1)',
      ]);
      // Two loopback addresses, or IPv4 and IPv6 loopback: two sockets.
      expect(() => validateTopology(twoNodes({ host: '127.0.0.2', port: 8001, meshPort: 9001 }))).not.toThrow();
      expect(() => validateTopology(twoNodes({ host: '::1', port: 8001, meshPort: 9001 }))).not.toThrow();
    });

    it('rejects a mesh port that clashes with another node\'s client port', () => {
      expect(problemsOf(twoNodes({ meshPort: 8001 }))).toEqual([
        'regions[0].nodes[1].meshPort: port 8001 on 127.0.0.1 is already used by regions[0].nodes[0].port',
      ]);
    });

    it('rejects a node whose port and meshPort are the same', () => {
      expect(problemsOf(twoNodes({ port: 8005, meshPort: 8005 }))).toEqual([
        'regions[0].nodes[1].meshPort: port 8005 on 127.0.0.1 is already used by regions[0].nodes[1].port',
      ]);
    });

    it('rejects a gRPC port that another node uses', () => {
      expect(problemsOf(twoNodes({ grpcPort: 9001 }))).toEqual([
        'regions[0].nodes[1].grpcPort: port 9001 on 127.0.0.1 is already used by regions[0].nodes[0].meshPort',
      ]);
    });

    it('rejects a balancer port that a node uses', () => {
      const doc = minimal();
      doc.regions = [{ name: 'eu', balancer: { port: 8001 }, nodes: [{ name: 'n1', port: 8001, meshPort: 9001 }] }];
      expect(problemsOf(doc)).toEqual([
        'regions[0].nodes[0].port: port 8001 on 127.0.0.1 is already used by regions[0].balancer',
      ]);
    });

    it('rejects a region name used twice', () => {
      const doc = multiRegion(minimal());
      doc.regions = [
        { name: 'eu', link: { port: 7001 }, nodes: [{ name: 'n1', port: 8001, meshPort: 9001, grpcPort: 10001 }] },
        { name: 'eu', link: { port: 7002 }, nodes: [{ name: 'n2', port: 8002, meshPort: 9002, grpcPort: 10002 }] },
      ];
      expect(problemsOf(doc)).toEqual(['regions[1].name: duplicate region "eu"']);
    });

    it('asks a deployment of several regions for link addresses, gRPC ports, a deployment secret and a link security choice', () => {
      const doc = minimal();
      doc.regions = [
        { name: 'eu', nodes: [{ name: 'n1', port: 8001, meshPort: 9001 }] },
        { name: 'us', nodes: [{ name: 'n2', port: 8002, meshPort: 9002 }] },
      ];
      expect(problemsOf(doc).sort()).toEqual(
        [
          'secrets.deployment: required when there is more than one region',
          'links: give links.tls (certificates) or set links.plaintext: true (local use only)',
          'regions[0].link: required when there is more than one region (where peers reach its globalmaster)',
          'regions[0].nodes[0].grpcPort: required when there is more than one region',
          'regions[1].link: required when there is more than one region (where peers reach its globalmaster)',
          'regions[1].nodes[0].grpcPort: required when there is more than one region',
        ].sort(),
      );
    });

    it('rejects region links that are both TLS and plain text', () => {
      const doc = multiRegion(minimal());
      doc.links = { plaintext: true, tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } };
      doc.regions = [
        { name: 'eu', link: { port: 7001 }, nodes: [{ name: 'n1', port: 8001, meshPort: 9001, grpcPort: 10001 }] },
        { name: 'us', link: { port: 7002 }, nodes: [{ name: 'n2', port: 8002, meshPort: 9002, grpcPort: 10002 }] },
      ];
      expect(problemsOf(doc)).toEqual(['links: tls and plaintext: true contradict each other']);
    });

    it('rejects an app id or key id used twice', () => {
      const doc = minimal();
      doc.apps = [
        { id: 'a', keys: [{ id: 'k', secret: 'secret123' }, { id: 'k', secret: 'secret456' }] },
        { id: 'a', keys: [{ id: 'k', secret: 'secret789' }] },
      ];
      expect(problemsOf(doc).sort()).toEqual(['apps[0].keys[1].id: duplicate key "k"', 'apps[1].id: duplicate app "a"']);
    });

    it('rejects a key capability with an unknown operation', () => {
      const doc = minimal();
      doc.apps = [{ id: 'a', keys: [{ id: 'k', secret: 'secret123', capability: { 'chat:*': ['publish', 'yell'] } }] }];
      const problems = problemsOf(doc);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^apps\[0\]\.keys\[0\]\.capability: .*yell/);
    });

    it('rejects a key capability with no operations for a resource', () => {
      const doc = minimal();
      doc.apps = [{ id: 'a', keys: [{ id: 'k', secret: 'secret123', capability: { chat: [] } }] }];
      expect(problemsOf(doc)[0]).toMatch(/^apps\[0\]\.keys\[0\]\.capability: /);
    });

    it('rejects maxMessageSize larger than maxFrameSize', () => {
      expect(problemsOf({ ...minimal(), limits: { maxMessageSize: 2000, maxFrameSize: 1000 } })).toEqual([
        'limits.maxMessageSize: must not exceed limits.maxFrameSize (1000)',
      ]);
    });

    it("rejects retention that could make a channel's state too large to move between nodes in one frame, naming what to lower", () => {
      // The defaults fit: 64 MiB of history, a 48 MiB dedup window (120 encoded), 200 members of 64 KiB in the one region.
      expect(() => validateTopology(minimal())).not.toThrow();
      const tooBig = problemsOf({ ...minimal(), retention: { maxBytesPerChannel: 200 * 2 ** 20 } });
      expect(tooBig).toHaveLength(1);
      expect(tooBig[0]).toMatch(/^retention: a channel's state could take 333\.7 MiB \(history 200\.0 MiB, dedup window 120\.0 MiB encoded, 200 presence members in each of 1 region\(s\), of up to 65536 bytes, 12\.7 MiB\), more than one node frame carries when the channel moves between nodes \(256\.0 MiB\): lower retention\.maxBytesPerChannel/);
      expect(problemsOf({ ...minimal(), limits: { maxPresenceMembers: 5000 } })).toHaveLength(1);
      // History that cannot hold one message of the largest size.
      expect(problemsOf({ ...minimal(), retention: { maxBytesPerChannel: 65536 } })).toEqual([
        'retention.maxBytesPerChannel: 65536 bytes cannot hold one message of limits.maxMessageSize (65536) with its entry\'s fields (1 KiB)',
      ]);
    });

    it('accepts maxMessageSize equal to maxFrameSize', () => {
      expect(() => validateTopology({ ...minimal(), limits: { maxMessageSize: 1000, maxFrameSize: 1000 } })).not.toThrow();
    });

    it('rejects a NATS region without NATS servers', () => {
      const doc = minimal();
      doc.regions = [{ name: 'eu', transport: 'nats', nodes: [{ name: 'n1', port: 8001, meshPort: 9001 }] }];
      expect(problemsOf(doc)).toEqual(['regions[0].nats: required when transport is "nats"']);
    });
  });
});
