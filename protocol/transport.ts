/**
 * Where a client of the control plane may talk plain text. The agent and the CLI send bearer
 * credentials (the agent's join token and credential, the user's API token) on every request, so
 * over `http:`/`ws:` anyone on the path could read and replay them. Loopback never leaves the
 * machine; any other host needs TLS unless the operator says `--insecure`.
 */

/** Whether `hostname` (as `URL.hostname` gives it) names this machine's loopback: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "[::1]" || host === "::1") return true;
  // URL already normalises IPv4 (`127.1` becomes `127.0.0.1`), so a dotted quad is all there is to match.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Why `url` may not be used without `--insecure`: a plain-text scheme to a host that is not
 * loopback. Undefined when it is fine (TLS, or loopback).
 */
export function plainTextRefusal(url: URL): string | undefined {
  if (url.protocol !== "http:" && url.protocol !== "ws:") return undefined;
  if (isLoopbackHost(url.hostname)) return undefined;
  const secure = url.protocol === "http:" ? "https" : "wss";
  return `'${url.host}' is not loopback and ${url.protocol.slice(0, -1)} is plain text, which would expose the token on the network: use ${secure}://, or pass --insecure to accept that`;
}
