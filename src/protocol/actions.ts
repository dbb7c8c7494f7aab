/**
 * ProtocolMessage actions and flags (Ably spec TR2/TR3; ably-js protocolmessagecommon.ts).
 */

export const Action = {
  HEARTBEAT: 0,
  ACK: 1,
  NACK: 2,
  CONNECT: 3,
  CONNECTED: 4,
  DISCONNECT: 5,
  DISCONNECTED: 6,
  CLOSE: 7,
  CLOSED: 8,
  ERROR: 9,
  ATTACH: 10,
  ATTACHED: 11,
  DETACH: 12,
  DETACHED: 13,
  PRESENCE: 14,
  MESSAGE: 15,
  SYNC: 16,
  AUTH: 17,
  ACTIVATE: 18,
  OBJECT: 19,
  OBJECT_SYNC: 20,
  ANNOTATION: 21,
} as const;
export type ActionCode = (typeof Action)[keyof typeof Action];

export const ActionName: Record<number, string> = Object.fromEntries(
  Object.entries(Action).map(([k, v]) => [v, k]),
);

export const Flag = {
  HAS_PRESENCE: 1 << 0,
  HAS_BACKLOG: 1 << 1,
  RESUMED: 1 << 2,
  TRANSIENT: 1 << 4,
  ATTACH_RESUME: 1 << 5,
  HAS_OBJECTS: 1 << 7,
  // channel modes
  PRESENCE: 1 << 16,
  PUBLISH: 1 << 17,
  SUBSCRIBE: 1 << 18,
  PRESENCE_SUBSCRIBE: 1 << 19,
  ANNOTATION_PUBLISH: 1 << 21,
  ANNOTATION_SUBSCRIBE: 1 << 22,
  OBJECT_SUBSCRIBE: 1 << 24,
  OBJECT_PUBLISH: 1 << 25,
} as const;

/** The channel modes this server grants (the four Ably has had since protocol v1, and annotations'). */
export const MODE_MASK = Flag.PRESENCE | Flag.PUBLISH | Flag.SUBSCRIBE | Flag.PRESENCE_SUBSCRIBE | Flag.ANNOTATION_PUBLISH | Flag.ANNOTATION_SUBSCRIBE;

/** The modes an ATTACH that asks for none is given (as its capability allows): all but ANNOTATION_SUBSCRIBE, as Ably's. */
export const DEFAULT_MODES = MODE_MASK & ~Flag.ANNOTATION_SUBSCRIBE;

export const PresenceAction = {
  ABSENT: 0,
  PRESENT: 1,
  ENTER: 2,
  LEAVE: 3,
  UPDATE: 4,
} as const;
export type PresenceActionCode = (typeof PresenceAction)[keyof typeof PresenceAction];
