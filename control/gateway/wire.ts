/**
 * What the agent gateways and the Cluster object say to each other, and where an agent's
 * socket lives. Shared by the Worker's agent route, the gateway object and the Cluster object;
 * it imports none of them.
 *
 * A cluster's agent sockets are spread over G gateway objects named `<cluster>:gw:<n>`
 * (0 ≤ n < G). An agent's gateway is chosen by rendezvous hashing of its id over the G
 * gateways, so the same agent lands on the same gateway for a given G, and raising G to G+1
 * moves only the ~1/(G+1) agents that hash highest on the new gateway. Routing spreads load;
 * correctness does not depend on it: every session id names the gateway that holds it
 * (`sessionIdFor`), and the Cluster object addresses a session through that gateway.
 */

/** Headers the Worker sets on the upgrade it forwards to a gateway; never taken from the client. */
export const JOIN_TOKEN_HEADER = "x-dcx-join-token-id";
export const CREDENTIAL_HEADER = "x-dcx-agent-credential";
/** The cluster's gateway count (G) the Worker routed the upgrade with: the gateway admits its share of the rate, 1/G. */
export const GATEWAY_COUNT_HEADER = "x-dcx-gateway-count";

/** One agent socket's news, in the order the gateway saw it. Opens and closes travel in the same stream as frames. */
export type GatewayEvent =
  | { kind: "open"; sessionId: string; connectedAt: number; credential?: string; joinTokenId?: string }
  | { kind: "text"; sessionId: string; text: string }
  | { kind: "binary"; sessionId: string; data: ArrayBuffer }
  | { kind: "close"; sessionId: string; code: number; reason: string };

/** What a gateway's admission did since its last report: sessions it held over the rate, and those it turned away. */
export interface AdmissionReport {
  held: number;
  refused: number;
}

/** One thing the Cluster object asks of a session's socket, in the order it asked. */
export type LinkOp =
  | { sessionId: string; text: string }
  | { sessionId: string; data: ArrayBuffer }
  /** The session now speaks for `agentId` (a join session after its register). */
  | { sessionId: string; bind: string }
  | { sessionId: string; close: { code: number; reason: string } };

/** A gateway's view of one open socket, for the Cluster object's liveness sweep. */
export interface SessionReport {
  sessionId: string;
  /** The agent the session speaks for, once known (at connect for a credential, at register for a join). */
  agentId?: string;
  joinTokenId?: string;
  connectedAt: number;
  /** When the runtime last answered its heartbeat (auto-response), 0 if never. */
  lastHeartbeat: number;
}

/** The gateway object's name for gateway `n` of a cluster. */
export function gatewayName(clusterId: string, n: number): string {
  return `${clusterId}:gw:${n}`;
}

/** The cluster id and gateway number a gateway object's name carries, or undefined for another name. */
export function parseGatewayName(name: string): { clusterId: string; n: number } | undefined {
  const match = /^(.+):gw:(\d{1,6})$/.exec(name);
  return match ? { clusterId: match[1] ?? "", n: Number(match[2]) } : undefined;
}

/** A new session id that names its gateway: `g<n>.<uuid>`. */
export function sessionIdFor(n: number): string {
  return `g${n}.${crypto.randomUUID()}`;
}

/** The gateway a session id names; undefined for ids of sockets the Cluster object held itself (before gateways). */
export function gatewayOfSession(sessionId: string): number | undefined {
  const match = /^g(\d{1,6})\./.exec(sessionId);
  return match ? Number(match[1]) : undefined;
}

/**
 * The gateway of `key` (an agent id, or what stands for a join session) among `count`:
 * rendezvous (highest random weight) hashing, so growing `count` moves only the keys whose
 * new gateway wins, about 1/count of them.
 */
export function gatewayFor(key: string, count: number): number {
  let best = 0;
  let bestScore = -1;
  for (let n = 0; n < Math.max(1, count); n++) {
    const score = hash32(`${n}:${key}`);
    if (score > bestScore) {
      best = n;
      bestScore = score;
    }
  }
  return best;
}

/** FNV-1a over UTF-16 code units, then murmur3's finalizer to spread the bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * How many gateways a cluster of `agents` agents needs at `perGateway` sockets each, never
 * fewer than it has (`current`): gateways are only ever added, so every socket stays on a
 * gateway the Cluster object knows to ask.
 */
export function gatewaysNeeded(agents: number, perGateway: number, current: number): number {
  return Math.max(current, 1, Math.ceil(agents / Math.max(1, perGateway)));
}
