import { describe, expect, it } from 'vitest';
import { TopologyError, validateTopology } from '../../../src/config/topology.js';

function doc(region: Record<string, unknown>): Record<string, unknown> {
  return {
    deployment: 'test',
    apps: [{ id: 'app1', keys: [{ id: 'k1', secret: 'secret123' }] }],
    regions: [{ name: 'eu', nodes: [{ name: 'n1', port: 8001, meshPort: 9001 }], ...region }],
  };
}

function problemsOf(d: unknown): string[] {
  try {
    validateTopology(d);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).problems;
  }
  throw new Error('expected a TopologyError, but the document was accepted');
}

describe('topology: regions on NATS', () => {
  it('accepts a NATS region with servers and a token or a user and password', () => {
    const t = validateTopology(doc({ transport: 'nats', nats: { servers: ['nats://10.0.0.1:4222'], token: 'env:NATS_TOKEN' } }));
    expect(t.regions[0]!.transport).toBe('nats');
    expect(t.regions[0]!.nats).toEqual({ servers: ['nats://10.0.0.1:4222'], token: 'env:NATS_TOKEN' });
    expect(() => validateTopology(doc({ transport: 'nats', nats: { servers: ['nats://a:4222'], user: 'ably', pass: 'env:P' } }))).not.toThrow();
  });

  it('names the region whose NATS settings are missing or contradict each other', () => {
    expect(problemsOf(doc({ transport: 'nats' }))).toContain('regions[0].nats: required when transport is "nats"');
    expect(problemsOf(doc({ transport: 'nats', nats: { servers: ['nats://a:4222'], token: 't', user: 'u', pass: 'p' } }))).toContain(
      'regions[0].nats: a token and a user/pass contradict each other',
    );
    expect(problemsOf(doc({ transport: 'nats', nats: { servers: ['nats://a:4222'], user: 'u' } }))).toContain('regions[0].nats: user and pass go together');
    expect(problemsOf(doc({ transport: 'nats', nats: { servers: [] } }))[0]).toMatch(/^regions\[0\]\.nats\.servers/);
  });
});
