/**
 * HTTP plumbing for the REST API: format negotiation, bounded body reading, replies,
 * and Ably error responses (`{error:{code,statusCode,message}}` with X-Ably-ErrorCode).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AblyError, toAblyError } from '../errors.js';
import { decodeBody, encodeBody } from '../protocol/codec.js';
import type { WireFormat } from '../protocol/types.js';

const MSGPACK = 'application/x-msgpack';
const JSON_TYPE = 'application/json';

/**
 * The request's target as a URL, or null where it is not one (`//[`, `//a b`, a port past
 * 65535: Node's HTTP parser lets them through and `new URL` throws on them).
 */
export function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** Paths a browser page of another origin may not read: the node's own, not the app's (no credentials guard them). */
const NOT_CROSS_ORIGIN = new Set(['/health', '/metrics']);
/** Headers a browser may read of a cross-origin answer: paging links and Ably's error headers. */
const EXPOSED = 'link, x-ably-errorcode, x-ably-errormessage';
const METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * CORS, so that the SDK in a browser page of any origin can use the REST API: it sends
 * `Authorization` with `credentials: 'include'`, so every such call is preflighted and the
 * origin must be echoed (not `*`), with credentials allowed. Sets the headers on `res`;
 * answers a preflight (OPTIONS) itself, and says whether it did.
 */
export function cors(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (NOT_CROSS_ORIGIN.has((req.url ?? '/').split('?')[0]!)) return false;
  if (origin) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('access-control-expose-headers', EXPOSED);
    res.setHeader('vary', 'Origin');
  }
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(204, {
    'access-control-allow-methods': METHODS,
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type, accept, x-ably-version, ably-agent',
    'access-control-max-age': '86400',
    'content-length': '0',
  });
  res.end();
  return true;
}

/** The format a response should use: msgpack when the client asks for it. */
export function responseFormat(req: IncomingMessage, query: URLSearchParams): WireFormat {
  const f = query.get('format');
  if (f === 'msgpack' || f === 'json') return f;
  return (req.headers.accept ?? '').includes(MSGPACK) ? 'msgpack' : 'json';
}

/** The format of the request body, from its Content-Type. */
export function requestFormat(req: IncomingMessage): WireFormat {
  return (req.headers['content-type'] ?? '').includes(MSGPACK) ? 'msgpack' : 'json';
}

/** Reads the whole body, refusing more than `max` bytes (413, 40009). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > max) {
      reject(AblyError.of('messageTooLarge', `request body of ${declared} bytes exceeds ${max}`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(AblyError.of('messageTooLarge', `request body exceeds ${max} bytes`));
        // The rest is read and dropped, so that the 413 reaches the client (a body sent
        // without a length, chunked); one that goes on past four times the limit is cut off.
        req.removeAllListeners('data');
        let dropped = 0;
        req.on('data', (more: Buffer) => {
          dropped += more.length;
          if (dropped > 4 * max) req.destroy();
        });
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function readDecodedBody(req: IncomingMessage, max: number): Promise<unknown> {
  const buf = await readBody(req, max);
  if (buf.length === 0) throw AblyError.of('invalidRequestBody', 'request body is empty');
  return decodeBody(buf, requestFormat(req));
}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  format: WireFormat,
  headers: Record<string, string> = {},
): void {
  const buf = encodeBody(body, format);
  res.writeHead(status, {
    'content-type': format === 'msgpack' ? MSGPACK : JSON_TYPE,
    'content-length': String(buf.length),
    ...headers,
  });
  res.end(buf);
}

/**
 * An Ably error response. The content-type is exactly `application/json` or
 * `application/x-msgpack` (ably-js parses error bodies only then).
 */
export function sendError(res: ServerResponse, err: unknown, format: WireFormat): void {
  const e = toAblyError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, e.statusCode, { error: e.toInfo() }, format, {
    'x-ably-errorcode': String(e.code),
    // Well-formed first: a lone surrogate from the client's input (a clientId, a JSON
    // parser's message quoting half an emoji) made encodeURIComponent throw, here where
    // nothing catches, and the node stopped.
    'x-ably-errormessage': encodeURIComponent(e.message.toWellFormed()).slice(0, 512),
  });
}
