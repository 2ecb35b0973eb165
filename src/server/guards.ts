import { createHash, timingSafeEqual } from "node:crypto";
import { DocbatchError } from "../core/errors.js";

/**
 * Checks every request passes before it reaches a route. A server on loopback without a token
 * trusts whoever can reach it, which includes a web page the user has open: such a page can send
 * a simple cross-site POST (cancel, retry, resume), and through DNS rebinding (its own name
 * resolving to 127.0.0.1) read every answer. So:
 * - on loopback without a token, only loopback names are accepted as `Host` (a rebound name is
 *   not one), plus the names given with `--allow-host` (a reverse proxy's);
 * - with or without a token, a request that changes state is refused when the browser says it
 *   comes from another site (`Sec-Fetch-Site`) or another origin (`Origin`);
 * - tokens are compared as hashes, in constant time and without revealing their length.
 */

export interface GuardOptions {
  /** Required as `Authorization: Bearer <token>` on every route but the health checks. */
  token?: string;
  /**
   * Accept only these `Host` names (without port): set when the server listens on loopback
   * without a token. Absent: any host.
   */
  allowedHosts?: readonly string[];
}

/** The names of this machine's loopback interface, as they may appear in a `Host` header. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "::1", "[::1]"];

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Throws the error body's error when the request must not go on. */
export function checkRequest(request: Request, options: GuardOptions, isPublic: boolean): void {
  const url = new URL(request.url);
  const host = request.headers.get("host") ?? url.host;
  if (options.allowedHosts && !hostAllowed(host, options.allowedHosts)) {
    throw new DocbatchError("HOST_NOT_ALLOWED", "This server answers to loopback names only.", {
      details: [{ path: "Host", problem: `${JSON.stringify(host)} is not a name of this server` }],
    });
  }
  if (!SAFE_METHODS.has(request.method)) {
    const site = request.headers.get("sec-fetch-site");
    const origin = request.headers.get("origin");
    // "none": typed by the user or sent by a tool; a browser sends "same-origin" from our own page.
    if (site !== null && site !== "same-origin" && site !== "none") {
      throw crossSite("Sec-Fetch-Site", `${site}: the request comes from another site`);
    }
    if (origin !== null && !sameOrigin(origin, url.protocol, host)) {
      throw crossSite("Origin", `${JSON.stringify(origin)} is not this server`);
    }
  }
  if (options.token && !isPublic && !authorized(request, url, options.token)) {
    throw new DocbatchError("UNAUTHORIZED", "A valid bearer token is required.", {
      details: [{ path: "Authorization", problem: "missing or wrong bearer token" }],
    });
  }
}

/** The `WWW-Authenticate` challenge of a 401 (RFC 6750). */
export function bearerChallenge(request: Request): string {
  const given =
    request.headers.get("authorization") !== null || new URL(request.url).searchParams.has("access_token");
  return given ? 'Bearer realm="docbatch", error="invalid_token"' : 'Bearer realm="docbatch"';
}

function crossSite(path: string, problem: string): DocbatchError {
  return new DocbatchError("CROSS_SITE_REQUEST", "Requests that change state are refused from other sites.", {
    details: [{ path, problem }],
  });
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = hostName(host);
  return allowed.includes(name) || /^127(\.\d{1,3}){3}$/.test(name);
}

/** The name of a `Host` value without its port, lower case; IPv6 keeps its brackets. */
function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1);
  const colon = lower.lastIndexOf(":");
  return colon === -1 ? lower : lower.slice(0, colon);
}

function sameOrigin(origin: string, protocol: string, host: string): boolean {
  try {
    const o = new URL(origin);
    return o.protocol === protocol && o.host === new URL(`${protocol}//${host}`).host;
  } catch {
    return false; // "null" (a sandboxed page, a file) or garbage
  }
}

function authorized(request: Request, url: URL, token: string): boolean {
  const header = request.headers.get("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  // EventSource and plain links cannot send headers: GETs may carry the token in the query.
  const query = request.method === "GET" ? url.searchParams.get("access_token") : null;
  const given = bearer ?? query;
  if (!given) return false;
  // Digests have one length whatever the token's, so the comparison reveals neither.
  return timingSafeEqual(digest(given), digest(token));
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
