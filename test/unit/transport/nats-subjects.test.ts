import { describe, expect, it } from 'vitest';
import { connectionName, isSubjectToken, regionSubjects } from '../../../src/transport/nats-subjects.js';

describe('NATS subjects', () => {
  it('names one subject per node and one for the region’s control traffic, under the region’s prefix', () => {
    const s = regionSubjects('prod', 'eu-west');
    expect(s.node('eu-1')).toBe('ablyng.prod.eu-west.node.eu-1');
    expect(s.control).toBe('ablyng.prod.eu-west.control');
    expect(s.all).toBe('ablyng.prod.eu-west.>');
    expect(connectionName('prod', 'eu-west', 'eu-1')).toBe('ablyng.prod.eu-west.eu-1');
  });

  it('refuses names that are not a single subject token', () => {
    for (const bad of ['', 'a.b', 'a*', '>', 'a b', 'a\tb']) expect(isSubjectToken(bad)).toBe(false);
    for (const good of ['eu-1', 'n_2', 'A9']) expect(isSubjectToken(good)).toBe(true);
    expect(() => regionSubjects('prod', 'eu.west')).toThrow(/region "eu.west"/);
    expect(() => regionSubjects('prod', 'eu').node('x.y')).toThrow(/node "x.y"/);
  });
});
