import { isIP } from "node:net";

/** An IP literal and a port, as the forwarder binds it and as tasks get it in `DCX_DNS`. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port` or `[v6]:port`. The host must be an IP literal: tasks hand it to a stub
 * resolver, which cannot look up a name to find its DNS server. Port 0 picks a free port.
 * Throws an Error saying what is wrong.
 */
export function parseHostPort(text: string): HostPort {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (match === null) throw new Error(`'${text}' must be host:port, or [v6 address]:port for IPv6`);
  const [, host = "", portText = ""] = match;
  const bracketed = text.startsWith("[");
  const family = isIP(host);
  if (family === 0 || (family === 6) !== bracketed) throw new Error(`'${host}' must be an IPv4 address, or an IPv6 address in brackets`);
  const port = Number(portText);
  if (port > 65_535) throw new Error(`port ${portText} must be between 0 and 65535`);
  return { host, port };
}

/** `host:port`, with IPv6 hosts bracketed so the port stays unambiguous. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for 0.0.0.0 and ::, which accept traffic on every address of the machine. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

/**
 * Where a local client reaches a forwarder bound to `bound`: a wildcard bind is reachable on
 * loopback, which is the one address every task on this machine can use.
 */
export function reachableAddress(bound: HostPort): HostPort {
  if (bound.host === "0.0.0.0") return { host: "127.0.0.1", port: bound.port };
  if (bound.host === "::") return { host: "::1", port: bound.port };
  return bound;
}
