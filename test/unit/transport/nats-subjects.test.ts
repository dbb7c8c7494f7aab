import { describe, expect, it } from 'vitest';
import { connectionName, isSubjectToken, regionSubjects } from '../../../src/transport/nats-subjects.js';
import { NODE_PROTOCOL } from '../../../src/transport/protocol-version.js';

describe('NATS subjects', () => {
  it('names one subject per node and one for the region’s control traffic, under the region’s prefix and the node protocol', () => {
    const s = regionSubjects('prod', 'eu-west');
    expect(s.node('eu-1')).toBe(`ablyng.prod.eu-west.p${NODE_PROTOCOL}.node.eu-1`);
    expect(s.control).toBe(`ablyng.prod.eu-west.p${NODE_PROTOCOL}.control`);
    expect(s.all).toBe('ablyng.prod.eu-west.>');
    const v7 = regionSubjects('prod', 'eu-west', 7);
    expect(v7.node('eu-1')).toBe('ablyng.prod.eu-west.p7.node.eu-1');
    expect(v7.control).toBe('ablyng.prod.eu-west.p7.control');
    expect(connectionName('prod', 'eu-west', 'eu-1')).toBe('ablyng.prod.eu-west.eu-1');
  });

  it('listens to every version’s control subject, and tells which version one is', () => {
    const s = regionSubjects('prod', 'eu', 2);
    expect(s.anyControl).toEqual(['ablyng.prod.eu.*.control', 'ablyng.prod.eu.control']);
    expect(s.versionOf('ablyng.prod.eu.p2.control')).toBe(2);
    expect(s.versionOf('ablyng.prod.eu.p13.control')).toBe(13);
    // Builds from before versions: the bare control subject (and a node of theirs named "control").
    expect(s.versionOf('ablyng.prod.eu.control')).toBe(0);
    expect(s.versionOf('ablyng.prod.eu.node.control')).toBe(0);
    // Not a version we would write (ours is p2): never taken for ours.
    expect(s.versionOf('ablyng.prod.eu.p02.control')).toBe(0);
  });

  it('refuses names that are not a single subject token', () => {
    for (const bad of ['', 'a.b', 'a*', '>', 'a b', 'a\tb']) expect(isSubjectToken(bad)).toBe(false);
    for (const good of ['eu-1', 'n_2', 'A9']) expect(isSubjectToken(good)).toBe(true);
    expect(() => regionSubjects('prod', 'eu.west')).toThrow(/region "eu.west"/);
    expect(() => regionSubjects('prod', 'eu').node('x.y')).toThrow(/node "x.y"/);
  });
});
