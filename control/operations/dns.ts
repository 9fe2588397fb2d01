import { edgeResolve } from "../dns/edge.ts";
import { ApiError } from "../errors.ts";
import {
  type DnsQuery,
  type JsonResponse,
  decodeMessage,
  emptyAnswer,
  encodeQuery,
  encodeResponse,
  minTtl,
  renderJson,
  renderJsonPacket,
  withMessageId,
} from "../dns/index.ts";

/** The content type of a DNS message in DoH (RFC 8484). */
export const DNS_MESSAGE = "application/dns-message";
const UPSTREAM_TIMEOUT_MS = 3000;

/** The upstream DoH resolver for outside names, or null when forwarding is off (`DNS_UPSTREAM=off`). */
export function upstreamOf(env: Env): string | null {
  const value: string = env.DNS_UPSTREAM;
  return value === "off" || value === "" ? null : value;
}

/** Asks the upstream resolver (names outside the cluster's zones); SERVFAIL when it fails, REFUSED when forwarding is off. */
export async function forward(env: Env, query: DnsQuery, bytes: Uint8Array): Promise<Uint8Array> {
  const upstream = upstreamOf(env);
  if (upstream === null) return encodeResponse(query, emptyAnswer("REFUSED"), { recursionAvailable: false });
  try {
    const res = await fetch(upstream, {
      method: "POST",
      headers: { "Content-Type": DNS_MESSAGE, Accept: DNS_MESSAGE },
      body: bytes,
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.ok && decodeMessage(body).ok) return withMessageId(body, query.id);
  } catch {
    // Timeout or network error: answered as SERVFAIL below.
  }
  return encodeResponse(query, emptyAnswer("SERVFAIL"));
}

/**
 * The JSON-dialect answer to one question, as the DoH endpoint gives it: from the cluster's
 * zone, or from the upstream resolver for outside names. The UI's DNS page asks through here.
 * `leaseMs` is set for cluster names (see protocol/dns-lease.ts).
 */
export async function jsonAnswer(
  env: Env,
  clusterId: string,
  query: DnsQuery,
  host: string,
  waitUntil?: (work: Promise<unknown>) => void,
): Promise<{ body: JsonResponse; ttl: number; leaseMs?: number }> {
  const { resolution, leaseMs } = await edgeResolve(env, clusterId, { name: query.name, type: query.type }, host, waitUntil);
  if (!resolution.outside) return { body: renderJson(query, resolution, upstreamOf(env) !== null), ttl: minTtl(resolution), leaseMs };
  const forwarded = decodeMessage(await forward(env, query, encodeQuery(query.name, query.type)));
  if (!forwarded.ok) throw new ApiError("unavailable", "The upstream resolver's answer could not be read.");
  return { body: renderJsonPacket(forwarded.packet), ttl: minTtl(forwarded.packet) };
}
