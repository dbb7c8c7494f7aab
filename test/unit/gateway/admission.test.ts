import { describe, expect, it } from 'vitest';
import { atCapacityError, connectionCaps, descriptorsKept, NODE_FD_BASE, NODE_FD_PER_PEER, REST_FD_SHARE } from '../../../src/gateway/admission.js';
import { openFileLimit } from '../../../src/open-files.js';

describe('connectionCaps', () => {
  it("keeps the node's own descriptors (more in a larger region) and REST's share out of the open-file limit", () => {
    expect(descriptorsKept(1)).toBe(NODE_FD_BASE + REST_FD_SHARE);
    expect(descriptorsKept(3)).toBe(NODE_FD_BASE + 2 * NODE_FD_PER_PEER + REST_FD_SHARE);
    expect(connectionCaps(undefined, 20_000, 3)).toEqual({
      connections: 20_000 - descriptorsKept(3),
      sockets: 20_000 - descriptorsKept(3) + REST_FD_SHARE,
      openFiles: 20_000,
      boundBy: 'open files',
    });
  });

  it('takes the configured limit below what the descriptors allow, and what they allow above it', () => {
    expect(connectionCaps(1000, 20_000, 1)).toMatchObject({ connections: 1000, sockets: 20_000 - NODE_FD_BASE, boundBy: 'limits.maxConnectionsPerNode' });
    expect(connectionCaps(50_000, 20_000, 1)).toMatchObject({ connections: 20_000 - descriptorsKept(1), boundBy: 'open files' });
  });

  it('is unbounded where the open-file limit is, unless configured', () => {
    expect(connectionCaps(undefined, Infinity, 3)).toMatchObject({ connections: Infinity, sockets: Infinity, boundBy: 'none' });
    expect(connectionCaps(10, Infinity, 3)).toMatchObject({ connections: 10, sockets: Infinity, boundBy: 'limits.maxConnectionsPerNode' });
  });

  it('leaves one connection at least under a limit smaller than what it keeps', () => {
    expect(connectionCaps(undefined, 100, 1)).toMatchObject({ connections: 1, sockets: 1 + REST_FD_SHARE });
  });

  it('names in its error what bound it', () => {
    expect(atCapacityError(connectionCaps(undefined, 1000, 1)).toInfo()).toMatchObject({ code: 50004, statusCode: 503, message: expect.stringContaining('open-file limit (1000)') });
    expect(atCapacityError(connectionCaps(7, 1000, 1)).message).toContain('holds 7 connections (limits.maxConnectionsPerNode)');
  });
});

describe('openFileLimit', () => {
  it("reads this process's limit (Linux), a number or Infinity", () => {
    const { soft, hard } = openFileLimit();
    expect(soft).toBeGreaterThan(0);
    expect(hard).toBeGreaterThanOrEqual(soft);
    expect(openFileLimit(2 ** 30)).toEqual({ soft: Infinity, hard: Infinity }); // no such process
  });
});
