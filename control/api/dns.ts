import { Hono, type Context } from "hono";
import { isCachedClusterAgentCredential } from "../accounts/agent-credentials.ts";
import { clusterForMember } from "../accounts/clusters.ts";
import { userForToken } from "../accounts/users.ts";
import { isWellFormedToken, tokenKind } from "../crypto.ts";
import {
  MAX_MESSAGE_SIZE,
  decodeBase64Url,
  decodeMessage,
  decodeQuery,
  encodeResponse,
  jsonToQuery,
  minTtl,
  parseJsonQuery,
  type DnsQuery,
} from "../dns/index.ts";
import { ApiError, unauthenticated } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { bearerToken, waitUntilOf } from "../http/middleware.ts";
import { DNS_LEASE_HEADER } from "../../protocol/index.ts";
import { edgeResolve } from "../dns/edge.ts";
import { DNS_MESSAGE, forward, jsonAnswer, upstreamOf } from "../operations/dns.ts";
import { clusterForDnsKey } from "../operations/dns-keys-cache.ts";

const DNS_JSON = "application/dns-json";

/** The parsed request: a wire query (with its bytes, to forward as sent) or a JSON-dialect one. */
type Request = { kind: "wire"; query: DnsQuery; bytes: Uint8Array } | { kind: "json"; query: DnsQuery } | { kind: "reply"; bytes: Uint8Array };

/** RFC 8484 GET (`?dns=`), POST (`application/dns-message`), or the JSON dialect (`?name=&type=`). */
async function parseRequest(c: Context<AppEnv>): Promise<Request> {
  if (c.req.method === "POST") {
    const type = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== DNS_MESSAGE) throw new ApiError("unsupported_media_type", `POST a DNS message as ${DNS_MESSAGE}, not '${type || "(none)"}'.`);
    if (Number(c.req.header("Content-Length") ?? 0) > MAX_MESSAGE_SIZE)
      throw new ApiError("payload_too_large", `A DNS message is at most ${MAX_MESSAGE_SIZE} bytes.`);
    // The request's own body, read once: Hono's cached copy is for handlers that read it twice.
    const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    if (bytes.length > MAX_MESSAGE_SIZE) throw new ApiError("payload_too_large", `A DNS message is at most ${MAX_MESSAGE_SIZE} bytes.`);
    return wire(bytes);
  }
  // A POST (the usual DoH query) needs no parsed URL: only the GET forms read its query.
  const url = new URL(c.req.url);
  const dns = url.searchParams.get("dns");
  if (dns !== null) {
    const bytes = decodeBase64Url(dns);
    if (!bytes) throw new ApiError("malformed", "The dns parameter must be base64url without padding (RFC 8484).");
    if (bytes.length > MAX_MESSAGE_SIZE) throw new ApiError("payload_too_large", `A DNS message is at most ${MAX_MESSAGE_SIZE} bytes.`);
    return wire(bytes);
  }
  if (url.searchParams.has("name") || (c.req.header("Accept") ?? "").includes(DNS_JSON)) {
    const parsed = parseJsonQuery(url.searchParams);
    if (!parsed.ok)
      throw new ApiError("malformed", `The ${parsed.parameter} parameter ${parsed.message}.`, [{ path: `/${parsed.parameter}`, errors: [parsed.message] }]);
    return { kind: "json", query: jsonToQuery(parsed) };
  }
  throw new ApiError("malformed", "Send a DNS query: GET ?dns=<base64url>, POST application/dns-message, or GET ?name=&type= for JSON.");
}

function wire(bytes: Uint8Array): Request {
  const decoded = decodeQuery(bytes);
  if (decoded.ok) return { kind: "wire", query: decoded.query, bytes };
  // A message whose header parsed gets a DNS error (FORMERR, NOTIMP); anything else is not DNS.
  if (decoded.reply) return { kind: "reply", bytes: decoded.reply };
  throw new ApiError("malformed", `Not a DNS query: ${decoded.reason}.`);
}

/**
 * Answers a DoH request for `clusterId`: cluster names from the Worker's copy of the zone
 * (dns/edge.ts), outside names from the upstream.
 */
async function answer(c: Context<AppEnv>, clusterId: string): Promise<Response> {
  const request = await parseRequest(c);
  if (request.kind === "reply") return dnsResponse(request.bytes, 0);
  const { query } = request;
  const host = requestHost(c);
  if (request.kind === "json") {
    const { body, ttl, leaseMs } = await jsonAnswer(c.env, clusterId, query, host, waitUntilOf(c));
    return jsonResponse(body, ttl, leaseMs);
  }
  const { resolution, leaseMs } = await edgeResolve(c.env, clusterId, { name: query.name, type: query.type }, host, waitUntilOf(c));
  const forwarding = upstreamOf(c.env) !== null;
  if (!resolution.outside) return dnsResponse(encodeResponse(query, resolution, { recursionAvailable: forwarding }), minTtl(resolution), leaseMs);
  const bytes = await forward(c.env, query, request.bytes);
  const decoded = decodeMessage(bytes);
  return dnsResponse(bytes, decoded.ok ? minTtl(decoded.packet) : 0);
}

/**
 * The host the query was sent to (its zone is built per host: the master's and agents' names
 * follow it), as URL's `hostname` reads it, from the Host header the URL is made of: no URL to
 * parse on each query. The port goes; an IPv6 literal keeps its brackets.
 */
function requestHost(c: Context<AppEnv>): string {
  const header = c.req.header("Host");
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
