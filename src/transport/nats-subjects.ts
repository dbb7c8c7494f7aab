/**
 * The NATS subjects of a region, built here and nowhere else:
 *
 *   ablyng.<deployment>.<region>.node.<node>   directed traffic to one node (`send`)
 *   ablyng.<deployment>.<region>.control       the region's control traffic (`broadcast`:
 *                                              heartbeats and other region-wide messages)
 *
 * Everything a region sends lives under `ablyng.<deployment>.<region>.>`, which is what NATS
 * permissions should grant a region's nodes (publish and subscribe) and nothing else.
 * Deployment, region and node names are topology names (letters, digits, `-`, `_`), so
 * they are valid subject tokens as they are; `isSubjectToken` guards the rest.
 */

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
  /** The region's control traffic (broadcasts). */
  readonly control: string;
  /** Every subject of the region (`…>`), for permissions and monitoring. */
  readonly all: string;
}

export function regionSubjects(deployment: string, region: string): RegionSubjects {
  const prefix = `${SUBJECT_ROOT}.${token(deployment, 'deployment')}.${token(region, 'region')}`;
  return {
    node: (node) => `${prefix}.node.${token(node, 'node')}`,
    control: `${prefix}.control`,
    all: `${prefix}.>`,
  };
}

/** The connection name a node shows in NATS monitoring (`/connz`). */
export function connectionName(deployment: string, region: string, node: string): string {
  return `${SUBJECT_ROOT}.${deployment}.${region}.${node}`;
}
