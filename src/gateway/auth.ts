/**
 * Authentication at the edge: realtime query params (`key=`, `access_token=`) and REST
 * headers (`Authorization: Basic …` / `Bearer …`), turned into Credentials.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AblyError } from '../errors.js';
import { parseBasic, type Credentials, type KeyStore } from '../auth/keys.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { RevocableToken } from '../auth/revocations.js';

export interface Authenticator {
  keys: KeyStore;
  tokens: TokenAuthority;
  now(): number;
  /** When the earliest revocation matching a revocable token applies, or null (RevocationStore.revokedAt). */
  revokedAt?(token: RevocableToken): number | null;
}

/** Refuses a revoked token (40141): one a revocation matches that applies by now. */
export function checkNotRevoked(a: Authenticator, creds: Credentials): void {
  if (!creds.revocable || !a.revokedAt) return;
  const at = a.revokedAt(creds.revocable);
  if (at !== null && at <= a.now()) throw AblyError.of('tokenRevoked', `the token was revoked (tokens of ${creds.revocable.keyName} issued before a revocation that applies from ${new Date(at).toISOString()})`);
}

function checkClientId(clientId: string | null | undefined): string | null {
  if (clientId === undefined || clientId === null || clientId === '') return null;
  if (clientId === '*') throw AblyError.of('invalidClientId', 'clientId "*" cannot be used to connect');
  if (clientId.length > 1024) throw AblyError.of('invalidClientId', 'clientId longer than 1024 characters');
  return clientId;
}

/**
 * Credentials for a key or token plus an optional requested clientId. A key holder may
 * act as any clientId; a token's clientId must match the one asked for (40102).
 */
export function authenticate(
  a: Authenticator,
  given: { key?: string | null; token?: string | null; clientId?: string | null },
): Credentials {
  const clientId = checkClientId(given.clientId);
  if (given.key) {
    return a.keys.keyCredentials(a.keys.verify(given.key), clientId);
  }
  if (given.token) {
    const creds = a.tokens.verify(given.token, a.now());
    checkNotRevoked(a, creds);
    if (clientId !== null) {
      if (creds.clientId === null) {
        throw AblyError.of('incompatibleCredentials', `clientId "${clientId}" requested but the token is anonymous`);
      }
      if (creds.clientId !== '*' && creds.clientId !== clientId) {
        throw AblyError.of('incompatibleCredentials', `clientId "${clientId}" does not match the token's "${creds.clientId}"`);
      }
      if (creds.clientId === '*') return { ...creds, clientId };
    }
    return creds;
  }
  throw AblyError.of('unauthorized', 'no credentials: give key= or access_token=');
}

/** REST: credentials from the Authorization header (or `key=` / `access_token=` query params). */
export function authenticateRest(
  a: Authenticator,
  headers: IncomingHttpHeaders,
  query: URLSearchParams,
): Credentials {
  const auth = headers.authorization;
  const headerClientId = headers['x-ably-clientid'];
  const clientId =
    typeof headerClientId === 'string' && headerClientId
      ? Buffer.from(headerClientId, 'base64').toString('utf8')
      : null;
  if (auth) {
    const lower = auth.toLowerCase();
    if (lower.startsWith('basic ')) return authenticate(a, { key: parseBasic(auth), clientId });
    if (lower.startsWith('bearer ')) {
      // ably-js base64-encodes every token it sends as Bearer, JWTs included.
      const raw = auth.slice('bearer '.length).trim();
      const decoded = Buffer.from(raw, 'base64').toString('utf8');
      const token = /^[\x21-\x7e]+$/.test(decoded) && decoded.length > 0 ? decoded : raw;
      return authenticate(a, { token, clientId });
    }
    throw AblyError.of('invalidCredential', 'Authorization must be Basic or Bearer');
  }
  const key = query.get('key');
  const token = query.get('access_token') ?? query.get('accessToken');
  return authenticate(a, { key, token, clientId });
}

/**
 * In-band re-auth (AUTH): credentials from a new token for an existing connection. The
 * app may not change, nor a specific clientId; a wildcard token keeps the connection's.
 */
export function reauthenticate(a: Authenticator, current: Credentials, token: unknown): Credentials {
  if (typeof token !== 'string' || token.length === 0) throw AblyError.of('badRequest', 'AUTH needs auth.accessToken');
  const creds = authenticate(a, { token });
  if (creds.appId !== current.appId) throw AblyError.of('incompatibleCredentials', 'the new token is for another app');
  const had = current.clientId;
  const specific = (c: string | null) => c !== null && c !== '*';
  if (specific(had) && creds.clientId !== had && creds.clientId !== '*') {
    throw AblyError.of('incompatibleCredentials', `the new token's clientId (${creds.clientId ?? 'none'}) is not the connection's (${had})`);
  }
  return specific(had) && creds.clientId === '*' ? { ...creds, clientId: had } : creds;
}
