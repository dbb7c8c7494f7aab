/**
 * The NATS subjects of a region, built here and nowhere else:
 *
 *   ablyng.<deployment>.<region>.p<N>.node.<node>   directed traffic to one node (`send`)
 *   ablyng.<deployment>.<region>.p<N>.control       the region's control traffic (`broadcast`:
 *                                                   heartbeats and other region-wide messages)
 *
 * `p<N>` is the node protocol (`protocol-version.ts`): nodes of two versions in one
 * region never hear each other's traffic. A node listens to every version's control
 * subject (`ablyng.<deployment>.<region>.*.control`, and the unversioned
 * `ablyng.<deployment>.<region>.control` of builds from before versions) to log a node
 * of another build.
 *
 * Everything a region sends lives under `ablyng.<deployment>.<region>.>`, which is what NATS
 * permissions should grant a region's nodes (publish and subscribe) and nothing else.
 * Deployment, region and node names are topology names (letters, digits, `-`, `_`), so
 * they are valid subject tokens as they are; `isSubjectToken` guards the rest.
 */

import { NODE_PROTOCOL } from './protocol-version.js';

export const SUBJECT_ROOT = 'ablyng';

/** A single subject token: no separators, wildcards or whitespace, not empty. */
export function isSubjectToken(s: string): boolean {
  return s.length > 0 && !/[.*>\s]/.test(s);
}

function token(s: string, what: string): string {
  if (!isSubjectToken(s)) throw new Error(`${what} "${s}" cannot be a NATS subject token`);
  return s;
}

export interface RegionSubjects {
  /** Directed traffic to `node`. */
  node(node: string): string;
  /** The region's control traffic (broadcasts), of this node protocol. */
  readonly control: string;
  /** The subscriptions that take every version's control subject, this one's included. */
  readonly anyControl: readonly string[];
  /** The node protocol of a control subject `anyControl` matched (0: a build from before versions). */
  versionOf(controlSubject: string): number;
  /** Every subject of the region (`…>`), for permissions and monitoring. */
  readonly all: string;
}

export function regionSubjects(deployment: string, region: string, protocol = NODE_PROTOCOL): RegionSubjects {
  const base = `${SUBJECT_ROOT}.${token(deployment, 'deployment')}.${token(region, 'region')}`;
  const prefix = `${base}.p${protocol}`;
  return {
    node: (node) => `${prefix}.node.${token(node, 'node')}`,
    control: `${prefix}.control`,
    anyControl: [`${base}.*.control`, `${base}.control`],
    versionOf: (subject) => Number(/^p([1-9]\d*)$/.exec(subject.slice(base.length + 1, -'.control'.length))?.[1] ?? 0),
    all: `${base}.>`,
  };
}

/** The connection name a node shows in NATS monitoring (`/connz`). */
export function connectionName(deployment: string, region: string, node: string): string {
  return `${SUBJECT_ROOT}.${deployment}.${region}.${node}`;
}
