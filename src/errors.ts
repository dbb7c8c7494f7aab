/**
 * The one error catalogue. Codes and messages follow Ably's `protocol/errors.json`
 * (ably/ably-common); every failure that reaches a client is an AblyError with a
 * numeric `code` and an HTTP-like `statusCode`. Mappers to the wire live at the edges
 * (`toErrorInfo` for ProtocolMessage.error and REST bodies).
 */

export const ErrorCodes = {
  badRequest: { code: 40000, statusCode: 400, message: 'bad request' },
  invalidRequestBody: { code: 40001, statusCode: 400, message: 'invalid request body' },
  invalidParameterName: { code: 40002, statusCode: 400, message: 'invalid parameter name' },
  invalidParameterValue: { code: 40003, statusCode: 400, message: 'invalid parameter value' },
  invalidHeader: { code: 40004, statusCode: 400, message: 'invalid header' },
  invalidCredential: { code: 40005, statusCode: 400, message: 'invalid credential' },
  invalidConnectionId: { code: 40006, statusCode: 400, message: 'invalid connection id' },
  invalidMessageId: { code: 40007, statusCode: 400, message: 'invalid message id' },
  messageTooLarge: { code: 40009, statusCode: 413, message: 'maximum message length exceeded' },
  invalidChannelName: { code: 40010, statusCode: 400, message: 'invalid channel name' },
  invalidClientId: { code: 40012, statusCode: 400, message: 'invalid client id' },
  invalidMessageData: { code: 40013, statusCode: 400, message: 'invalid message data or encoding' },
  unsupportedProtocolVersion: { code: 40017, statusCode: 400, message: 'unsupported protocol version' },
  batchError: { code: 40020, statusCode: 400, message: 'batch error' },
  invalidPublish: { code: 40030, statusCode: 400, message: 'invalid publish request' },
  invalidPublishId: { code: 40031, statusCode: 400, message: 'invalid publish request (invalid client-specified id)' },
  unauthorized: { code: 40100, statusCode: 401, message: 'unauthorized' },
  invalidCredentials: { code: 40101, statusCode: 401, message: 'invalid credentials' },
  incompatibleCredentials: { code: 40102, statusCode: 401, message: 'incompatible credentials' },
  timestampNotCurrent: { code: 40104, statusCode: 401, message: 'timestamp not current' },
  nonceReplayed: { code: 40105, statusCode: 401, message: 'nonce value replayed' },
  tokenError: { code: 40140, statusCode: 401, message: 'token error' },
  tokenRevoked: { code: 40141, statusCode: 401, message: 'token revoked' },
  tokenExpired: { code: 40142, statusCode: 401, message: 'token expired' },
  tokenUnrecognised: { code: 40143, statusCode: 401, message: 'token unrecognised' },
  invalidJwt: { code: 40144, statusCode: 401, message: 'invalid JWT format' },
  invalidTokenFormat: { code: 40145, statusCode: 401, message: 'invalid token format' },
  notPermitted: { code: 40160, statusCode: 401, message: 'operation not permitted with provided capability' },
  requiresIdentifiedClient: { code: 40161, statusCode: 401, message: 'operation not permitted as it requires an identified client' },
  ownRequiresIdentifiedClient: { code: 40166, statusCode: 401, message: 'changing one\'s own messages requires an identified client' },
  revokeWithToken: { code: 40162, statusCode: 401, message: 'tokens cannot be revoked with token auth' },
  forbidden: { code: 40300, statusCode: 403, message: 'forbidden' },
  notFound: { code: 40400, statusCode: 404, message: 'not found' },
  methodNotAllowed: { code: 40500, statusCode: 405, message: 'method not allowed' },
  rateLimited: { code: 42910, statusCode: 429, message: 'rate limit exceeded (nonfatal): request rejected' },
  connectionRateLimited: { code: 42911, statusCode: 429, message: 'max per-connection publish rate limit exceeded (nonfatal): unable to publish message' },
  channelRateLimited: { code: 42913, statusCode: 429, message: 'max per-channel publish rate limit exceeded (nonfatal): unable to publish message' },
  internal: { code: 50000, statusCode: 500, message: 'internal error' },
  internalChannel: { code: 50001, statusCode: 500, message: 'internal channel error' },
  internalConnection: { code: 50002, statusCode: 500, message: 'internal connection error' },
  timeout: { code: 50003, statusCode: 500, message: 'timeout error' },
  overloaded: { code: 50004, statusCode: 503, message: 'request failed due to overloaded instance' },
  connectionFailed: { code: 80000, statusCode: 400, message: 'connection failed' },
  disconnected: { code: 80003, statusCode: 400, message: 'disconnected' },
  connectionExpired: { code: 80008, statusCode: 400, message: 'unable to recover connection (connection expired)' },
  protocolError: { code: 80013, statusCode: 400, message: 'protocol error' },
  connectionTimedOut: { code: 80014, statusCode: 400, message: 'connection timed out' },
  superseded: { code: 80016, statusCode: 400, message: 'operation on superseded connection' },
  connectionClosed: { code: 80017, statusCode: 400, message: 'connection closed' },
  invalidConnectionKey: { code: 80018, statusCode: 400, message: 'invalid connection id (invalid format)' },
  subscribeRateExceeded: { code: 80020, statusCode: 400, message: 'continuity loss due to maximum subscribe message rate exceeded' },
  channelFailed: { code: 90000, statusCode: 400, message: 'channel operation failed' },
  channelInvalidState: { code: 90001, statusCode: 400, message: 'channel operation failed (invalid channel state)' },
  channelEpochExpired: { code: 90002, statusCode: 400, message: 'channel operation failed (epoch expired or never existed)' },
  channelMessagesExpired: { code: 90003, statusCode: 404, message: 'unable to recover channel (messages expired)' },
  channelMessageLimit: { code: 90004, statusCode: 404, message: 'unable to recover channel (message limit exceeded)' },
  channelNoMatchingEpoch: { code: 90005, statusCode: 404, message: 'unable to recover channel (no matching epoch)' },
  channelNoResponse: { code: 90007, statusCode: 408, message: 'channel operation failed (no response from server)' },
  tooManyChannels: { code: 90010, statusCode: 400, message: 'maximum number of channels per connection/request exceeded' },
  presenceNoClientId: { code: 91000, statusCode: 400, message: 'unable to enter presence channel (no clientId)' },
  presenceInvalidState: { code: 91001, statusCode: 400, message: 'unable to enter presence channel (invalid channel state)' },
  presenceNotEntered: { code: 91002, statusCode: 400, message: 'unable to leave presence channel that is not entered' },
  presenceMemberLimit: { code: 91003, statusCode: 400, message: 'unable to enter presence channel (maximum member limit exceeded)' },
  presenceOutOfSync: { code: 91005, statusCode: 400, message: 'presence state is out of sync' },
  mutableMessagesNotEnabled: { code: 93002, statusCode: 400, message: 'message updates, deletes and appends are not enabled on this channel' },
  presenceImplicitLeave: { code: 91100, statusCode: 400, message: 'member implicitly left presence channel (connection closed)' },
} as const;

export type ErrorName = keyof typeof ErrorCodes;

/** The wire form of an error: Ably's ErrorInfo. */
export interface ErrorInfo {
  code: number;
  statusCode: number;
  message: string;
  href?: string;
}

export class AblyError extends Error {
  readonly code: number;
  readonly statusCode: number;

  constructor(code: number, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AblyError';
    this.code = code;
    this.statusCode = statusCode;
  }

  /** Builds an error from the catalogue; `detail` is appended to the catalogue's text. */
  static of(name: ErrorName, detail?: string, cause?: unknown): AblyError {
    const e = ErrorCodes[name];
    const message = detail ? `${e.message}: ${detail}` : e.message;
    return new AblyError(e.code, e.statusCode, message, cause === undefined ? undefined : { cause });
  }

  /** Rebuilds an error that crossed a process boundary as ErrorInfo. */
  static fromInfo(info: ErrorInfo): AblyError {
    return new AblyError(info.code, info.statusCode, info.message);
  }

  /** Whether this error is one of the catalogue's entries. */
  is(name: ErrorName): boolean {
    return this.code === ErrorCodes[name].code;
  }

  toInfo(): ErrorInfo {
    return {
      code: this.code,
      statusCode: this.statusCode,
      message: this.message,
      href: `https://help.ably.io/error/${this.code}`,
    };
  }
}

/** Any thrown value as an AblyError; unknown failures become 50000 with the cause kept. */
export function toAblyError(err: unknown): AblyError {
  if (err instanceof AblyError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return AblyError.of('internal', detail, err);
}

export function toErrorInfo(err: unknown): ErrorInfo {
  return toAblyError(err).toInfo();
}

/** Whether an error should make a client renew its token (Ably: 40140 ≤ code < 40150). */
export function isTokenError(code: number): boolean {
  return code >= 40140 && code < 40150;
}
