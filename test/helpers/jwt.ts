/** JWTs in tests. */
import { createHmac } from 'node:crypto';

/**
 * A JWT as a customer's auth server would sign it (HS256 with the key secret), issued now
 * for an hour unless `claims` say otherwise (a claim given as undefined is left out).
 */
export function signJwt(claims: Record<string, unknown>, keyName = 'app.root', secret = 'rootsecret'): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT', kid: keyName });
  const body = b64({ iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
