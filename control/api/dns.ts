import { Hono, type Context } from "hono";
import { isCachedClusterAgentCredential } from "../accounts/agent-credentials.ts";
import { clusterForMember } from "../accounts/clusters.ts";
import { userForToken } from "../accounts/users.ts";
import { isWellFormedToken, tokenKind } from "../crypto.ts";
import { MAX_MESSAGE_SIZE, decodeBase64Url, decodeMessage, decodeQuery, encodeResponse, jsonToQuery, minTtl, parseJsonQuery } from "../dns/index.ts";
import { ApiError, unauthenticated } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { bearerToken, waitUntilOf } from "../http/middleware.ts";
import { DNS_LEASE_HEADER } from "../../protocol/index.ts";
import { edgeCachedAnswer, edgeResolve } from "../dns/edge.ts";
import { DNS_MESSAGE, forward, jsonAnswer, upstreamOf } from "../operations/dns.ts";
import { clusterForDnsKey } from "../operations/dns-keys-cache.ts";

const DNS_JSON = "application/dns-json";

/**
 * RFC 8484 POST (`application/dns-message`): the message's bytes. The body is read once, from
 * the request itself (Hono's cached copy is for handlers that read it twice).
 */
async function postedBytes(c: Context<AppEnv>): Promise<Uint8Array> {
  const headers = c.req.raw.headers;
  const contentType = headers.get("Content-Type");
  if (contentType !== DNS_MESSAGE) {
    const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== DNS_MESSAGE) throw new ApiError("unsupported_media_type", `POST a DNS message as ${DNS_MESSAGE}, not '${type || "(none)"}'.`);
  }
  if (Number(headers.get("Content-Length") ?? 0) > MAX_MESSAGE_SIZE) throw tooLarge();
  const bytes = await c.req.raw.bytes();
  if (bytes.length > MAX_MESSAGE_SIZE) throw tooLarge();
  return bytes;
}

/** RFC 8484 GET (`?dns=`, base64url without padding): the message's bytes. */
function getBytes(dns: string): Uint8Array {
  const bytes = decodeBase64Url(dns);
  if (!bytes) throw new ApiError("malformed", "The dns parameter must be base64url without padding (RFC 8484).");
  if (bytes.length > MAX_MESSAGE_SIZE) throw tooLarge();
  return bytes;
}

/** The JSON dialect (`?name=&type=`, or any GET that accepts `application/dns-json`). */
async function jsonDialect(c: Context<AppEnv>, clusterId: string, host: string): Promise<Response> {
  const url = new URL(c.req.url);
  if (!url.searchParams.has("name") && !(c.req.raw.headers.get("Accept") ?? "").includes(DNS_JSON))
    throw new ApiError("malformed", "Send a DNS query: GET ?dns=<base64url>, POST application/dns-message, or GET ?name=&type= for JSON.");
  const parsed = parseJsonQuery(url.searchParams);
  if (!parsed.ok)
    throw new ApiError("malformed", `The ${parsed.parameter} parameter ${parsed.message}.`, [{ path: `/${parsed.parameter}`, errors: [parsed.message] }]);
  const { body, ttl, leaseMs } = await jsonAnswer(c.env, clusterId, jsonToQuery(parsed), host, waitUntilOf(c));
  return jsonResponse(body, ttl, leaseMs);
}

const tooLarge = () => new ApiError("payload_too_large", `A DNS message is at most ${MAX_MESSAGE_SIZE} bytes.`);

/**
 * Answers a DoH request for `clusterId` (RFC 8484 GET or POST, or the JSON dialect): cluster
 * names from the Worker's copy of the zone (dns/edge.ts), outside names from the upstream. A
 * GET answered from the kept answers never waits: it is the hot path of resolvers.
 */
function answer(c: Context<AppEnv>, clusterId: string): Response | Promise<Response> {
  const host = requestHost(c);
  if (c.req.method === "POST") return postedBytes(c).then((bytes) => wireAnswer(c, clusterId, bytes, host));
  // Read without parsing the URL (Hono scans the query string); only the JSON dialect needs it parsed.
  const dns = c.req.query("dns");
  return dns === undefined ? jsonDialect(c, clusterId, host) : wireAnswer(c, clusterId, getBytes(dns), host);
}

/**
 * Answers a wire query: from the answers kept with the zone's copy when these bytes were
 * answered before (dns/answer-cache.ts), else decoded and resolved, and kept when they may be.
 */
function wireAnswer(c: Context<AppEnv>, clusterId: string, bytes: Uint8Array, host: string): Response | Promise<Response> {
  const kept = edgeCachedAnswer(c.env, clusterId, host, bytes, waitUntilOf(c));
  return kept !== undefined ? dnsResponse(kept.bytes, kept.ttl, kept.leaseMs) : resolveWire(c, clusterId, bytes, host);
}

/** A wire query not answered from the kept answers: decoded, resolved (or forwarded), and kept when it may be. */
async function resolveWire(c: Context<AppEnv>, clusterId: string, bytes: Uint8Array, host: string): Promise<Response> {
  const decoded = decodeQuery(bytes);
  // A message whose header parsed gets a DNS error (FORMERR, NOTIMP); anything else is not DNS.
  if (!decoded.ok) {
    if (decoded.reply) return dnsResponse(decoded.reply, 0);
    throw new ApiError("malformed", `Not a DNS query: ${decoded.reason}.`);
  }
  const { query } = decoded;
  const { resolution, leaseMs, answers } = await edgeResolve(c.env, clusterId, { name: query.name, type: query.type }, host, waitUntilOf(c));
  if (!resolution.outside) {
    const options = { recursionAvailable: upstreamOf(c.env) !== null };
    const cached = answers.remember(bytes, query, resolution, options);
    const encoded = cached ? cached.take(query.id) : encodeResponse(query, resolution, options);
    return dnsResponse(encoded, cached ? cached.ttl : minTtl(resolution), leaseMs);
  }
  const forwarded = await forward(c.env, query, bytes);
  const reply = decodeMessage(forwarded);
  return dnsResponse(forwarded, reply.ok ? minTtl(reply.packet) : 0);
}

/**
 * The host the query was sent to (its zone is built per host: the master's and agents' names
 * follow it), as URL's `hostname` reads it, from the Host header the URL is made of: no URL to
 * parse on each query. The port goes; an IPv6 literal keeps its brackets.
 */
function requestHost(c: Context<AppEnv>): string {
  const header = c.req.raw.headers.get("Host");
  if (!header) return new URL(c.req.url).hostname;
  const end = header.startsWith("[") ? header.indexOf("]") + 1 : header.indexOf(":");
  return (end > 0 ? header.slice(0, end) : header).toLowerCase();
}

/** Cache-Control follows the answer's smallest TTL; the lease header only comes with cluster names. */
function headers(type: string, ttl: number, leaseMs: number | undefined): Record<string, string> {
  const out: Record<string, string> = { "Content-Type": type, "Cache-Control": cacheControl(ttl) };
  if (leaseMs !== undefined) out[DNS_LEASE_HEADER] = String(Math.floor(leaseMs));
  return out;
}

function dnsResponse(bytes: Uint8Array, ttl: number, leaseMs?: number): Response {
  return new Response(bytes, { headers: headers(DNS_MESSAGE, ttl, leaseMs) });
}

function jsonResponse(body: unknown, ttl: number, leaseMs?: number): Response {
  return new Response(JSON.stringify(body), { headers: headers(DNS_JSON, ttl, leaseMs) });
}

const cacheControl = (ttl: number) => (ttl > 0 ? `max-age=${ttl}` : "no-cache");

/**
 * `/dns/{key}/dns-query`: DNS-over-HTTPS for DNS clients, which cannot send an auth header, so
 * the key travels in the path. An unknown or revoked key is a 401 that says nothing about
 * whether any cluster exists.
 */
export const dohRoutes = new Hono<AppEnv>().on(["GET", "POST"], "/:key/dns-query", async (c) => {
  const clusterId = await clusterForDnsKey(c.get("db"), c.req.param("key"));
  if (!clusterId) throw new ApiError("unauthenticated", "Invalid DNS key.");
  return answer(c, clusterId);
});

/**
 * `/c/:cluster/dns-query`: the same endpoint for the cluster's agents (their DNS forwarders
 * authenticate with the agent credential) and its members (user token).
 */
export const clusterDohRoutes = new Hono<AppEnv>().on(["GET", "POST"], "/", async (c) => {
  const clusterId = c.req.param("cluster") ?? "";
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw unauthenticated("Send the agent credential or an API token as a Bearer token.");
  if (!isWellFormedToken(token)) throw unauthenticated("Malformed credential: DCX tokens are a 'dcx?_' prefix and 43 base64url characters.");
  const db = c.get("db");
  if (tokenKind(token) === "agent") {
    // Checked in D1 (through this isolate's cache): a wrong credential never wakes the cluster's object.
    if (!(await isCachedClusterAgentCredential(db, clusterId, token, waitUntilOf(c)))) throw unauthenticated("Invalid agent credential.");
  } else {
    const user = await userForToken(db, token, waitUntilOf(c));
    if (!user) throw unauthenticated("Invalid or expired API token.");
    await clusterForMember(db, user.id, clusterId, waitUntilOf(c));
  }
  return answer(c, clusterId);
});
