import { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import { MUX_PATH } from '../protocol.js';
import { clientErrorWithCode, toClientError, type AnyClientError } from './errors.js';
import type { StreamFailure } from './runEventStream.js';

/** The page's address, in a browser (or a worker); `undefined` in Node and during server rendering. */
function pageHref(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  return typeof location?.href === 'string' ? location.href : undefined;
}

const ABSOLUTE_URL = /^[a-z][a-z\d+\-.]*:/i;

/**
 * A client misconfiguration no retry can mend (a relative URL with no page to resolve it
 * against): the subscription fails at once with it instead of retrying forever.
 */
class EndpointError extends Error {
  readonly clientError: AnyClientError;
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
    this.clientError = clientErrorWithCode('BAD_REQUEST', message, 400);
  }
}

/**
 * Checks a resolved `url` option before it is fetched. A relative URL works in a browser,
 * where `fetch` resolves it against the page; in Node, or while a page is rendered on the
 * server, there is nothing to resolve it against.
 */
export function checkEndpoint(url: unknown): string {
  if (typeof url !== 'string' || url === '')
    throw new EndpointError(`trpc-sse: \`url\` must be a non-empty string, got ${String(url)}`);
  if (ABSOLUTE_URL.test(url) || pageHref() !== undefined) return url;
  throw new EndpointError(
    `trpc-sse: the url "${url}" is relative, and there is no page to resolve it against (this is Node, or server rendering): ` +
      `pass an absolute URL such as "http://localhost:3000${url.startsWith('/') ? '' : '/'}${url}"`,
  );
}

/**
 * A URL under the endpoint: `{endpoint}/{segment}` (a procedure path, or {@link MUX_PATH}), with
 * the endpoint's own query and then `query`'s parameters (already encoded); a fragment, which
 * never reaches a server, is dropped.
 */
export function endpointUrl(endpoint: string, segment: string, query: readonly string[] = []): string {
  const hashAt = endpoint.indexOf('#');
  const bare = hashAt === -1 ? endpoint : endpoint.slice(0, hashAt);
  const queryAt = bare.indexOf('?');
  const path = queryAt === -1 ? bare : bare.slice(0, queryAt);
  const params = [...(queryAt === -1 || queryAt === bare.length - 1 ? [] : [bare.slice(queryAt + 1)]), ...query];
  return `${path.replace(/\/+$/, '')}/${segment}${params.length > 0 ? `?${params.join('&')}` : ''}`;
}

/** The multiplexed protocol's URL under the endpoint (PROTOCOL.md §2.1): `{endpoint}/trpc-sse`. */
export function multiplexedUrl(endpoint: string, query: readonly string[] = []): string {
  return endpointUrl(endpoint, MUX_PATH, query);
}

/** What a failed attempt to set a request up comes to: a misconfiguration fails at once, anything else is retried. */
export function setupFailure(cause: unknown): StreamFailure {
  return cause instanceof EndpointError
    ? { kind: 'error', error: cause.clientError, fatal: true }
    : { kind: 'error', error: toClientError(cause) };
}

/** The origin of `url` when it differs from the page's: a request there is subject to CORS. */
function crossOrigin(url: string): { target: string; page: string } | null {
  const href = pageHref();
  if (href === undefined) return null;
  try {
    const page = new URL(href).origin;
    const target = new URL(url, href).origin;
    return target === page ? null : { target, page };
  } catch {
    return null;
  }
}

/**
 * A rejected `fetch`, typed. Browsers report a request blocked by CORS exactly as a network
 * failure (a bare `TypeError: Failed to fetch`), so for a cross-origin URL the message says
 * what the server must allow; the request headers it names are those this request carried.
 */
export function fetchFailure(
  cause: unknown,
  url: string,
  method: string,
  headers: Record<string, string>,
): AnyClientError {
  const origins = cause instanceof TypeError ? crossOrigin(url) : null;
  if (!origins) return toClientError(cause);
  const needed = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => !SAFELISTED.has(name));
  const message =
    `${(cause as Error).message} (${method} ${url}): a network failure, or the browser blocked a cross-origin request (CORS). ` +
    `The server at ${origins.target} must allow origin ${origins.page}, method ${method}` +
    (needed.length > 0 ? ` and the request headers ${needed.join(', ')}` : '') +
    ' (see CORS_REQUEST_HEADERS in trpc-sse/client)';
  const error = TRPCClientError.from<AnyTRPCRouter>(new TypeError(message));
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/** Request headers a browser sends cross-origin without asking (within their value rules). */
const SAFELISTED = new Set(['accept', 'accept-language', 'content-language', 'range']);
