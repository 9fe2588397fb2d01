import { CAPABILITIES } from "../api/capabilities.ts";
import { LogsQuery } from "../api/task-logs.ts";
import type { RouteSection } from "./types.ts";

/** The routes of DCX itself: the service, accounts, clusters, agents, DNS, history and metrics. */

const created = (what: string) => ({ 201: what });
/** The paging of an audit log: `?limit=&before=`. */
const AUDIT_PAGE = {
  limit: { description: "At most this many (1–200, default 50).", type: "integer" },
  before: { description: "The previous page's `next`." },
} as const;

export const serviceSection: RouteSection = {
  tag: "Service",
  description: "The Worker itself: health and this reference.",
  auth: "none",
  routes: {
    "GET /health": { summary: "Health of the control plane", responses: { 200: "`{healthy: true, version}`" } },
    "GET /openapi.json": { summary: "This document (OpenAPI 3.1)" },
    "GET /docs": { summary: "This document as a page", responses: { 200: { description: "An HTML page.", contentType: "text/html" } } },
  },
};

export const accountSection: RouteSection = {
  tag: "Accounts",
  description: "Sign up, log in and out. An API token is sent as `Authorization: Bearer <token>` (or DC/OS's `token=<token>`).",
  routes: {
    "POST /auth/signup": { summary: "Create an account, its first cluster and an API token", auth: "none", responses: created("`{user, token, cluster}`") },
    "POST /auth/login": {
      summary: "Get a new API token",
      auth: "none",
      responses: { 200: "`{user, token}`", 429: "Too many failed logins for this email (`Retry-After`)." },
    },
    "POST /auth/logout": { summary: "Revoke the token this request carries", responses: { 204: { description: "Revoked." } } },
    "GET /auth/me": { summary: "Who the token belongs to, and their clusters" },
    "GET /auth/sessions": { summary: "Your API tokens and sessions (the one making this request is marked)" },
    "DELETE /auth/sessions/:sessionId": { summary: "Revoke one of your tokens or sessions", responses: { 204: { description: "Revoked." } } },
    "POST /auth/password": { summary: "Change your password; every other session is revoked, this one stays", responses: { 204: { description: "Changed." } } },
    "GET /auth/audit": { summary: "Your account's audit log, newest first", query: AUDIT_PAGE, responses: { 200: "`{entries, next}`" } },
    "DELETE /auth/account": {
      summary: "Delete your account and the clusters you own (the password is checked)",
      responses: { 204: { description: "Deleted." } },
    },
  },
};

export const clusterSection: RouteSection = {
  tag: "Clusters",
  description: "Clusters, their agent join tokens and their DNS keys, and what a cluster can do. A cluster that is not yours is a 404.",
  routes: {
    "GET /clusters": { summary: "Your clusters" },
    "POST /clusters": { summary: "Create a cluster", responses: created("`{cluster}`") },
    "GET /clusters/:id": { summary: "One cluster" },
    "DELETE /clusters/:id": {
      summary: "Delete a cluster you own: its Durable Object is wiped, then its rows",
      responses: { 204: { description: "Deleted." } },
    },
    "POST /clusters/:id/service-accounts": {
      summary: "Create a service account for frameworks (its secret is shown once); QUOTA_SERVICE_ACCOUNTS bounds them",
      responses: created("The account and its `secret`."),
    },
    "GET /clusters/:id/service-accounts": { summary: "The cluster's service accounts, without secrets" },
    "DELETE /clusters/:id/service-accounts/:accountId": { summary: "Revoke a service account", responses: { 200: "`{serviceAccount}`, revoked" } },
    "GET /clusters/:id/audit": {
      summary: "The cluster's audit log (cluster and account changes merged), newest first",
      query: AUDIT_PAGE,
      responses: { 200: "`{entries, next}`" },
    },
    "POST /clusters/:id/agent-tokens": { summary: "Create an agent join token (its secret is shown once)", responses: created("`{id, token}`") },
    "GET /clusters/:id/agent-tokens": { summary: "The cluster's join tokens, without secrets" },
    "DELETE /clusters/:id/agent-tokens/:tokenId": { summary: "Revoke a join token", responses: { 200: "`{token}`, revoked" } },
    "POST /clusters/:id/dns-keys": { summary: "Create a DNS key and its DoH URL (the key is shown once)", responses: created("`{id, key, url}`") },
    "GET /clusters/:id/dns-keys": { summary: "The cluster's DNS keys, without secrets" },
    "DELETE /clusters/:id/dns-keys/:keyId": { summary: "Revoke a DNS key", responses: { 200: "`{key}`, revoked" } },
    "GET /c/:cluster/capabilities": {
      summary: "What the cluster can do, as DC/OS's Cosmos lists it for the DC/OS CLI (`{capabilities: [{name}]}`)",
      description: `Only what DCX has is named: ${CAPABILITIES.map((name) => `\`${name}\``).join(", ")}. No \`LOGGING_V2\`: task output is at \`/v2/tasks/{taskId}/logs\`, not DC/OS's \`/system/v1/logs\`.`,
      responses: { 200: { description: "The capabilities.", contentType: "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1" } },
    },
  },
};

export const agentSection: RouteSection = {
  tag: "Agents",
  description: "The machines of a cluster.",
  routes: {
    "GET /c/:cluster/agent/connect": {
      summary: "An agent's WebSocket (`Upgrade: websocket`)",
      description: "Authenticated by a join token or the agent's own credential as a Bearer token; the frames are DCX's agent protocol.",
      responses: { 101: { description: "Switching protocols." }, 426: { description: "Not a WebSocket upgrade." } },
    },
    "GET /c/:cluster/agents": { summary: "The agent registry" },
    "GET /c/:cluster/agents/:agentId": { summary: "One agent" },
    "DELETE /c/:cluster/agents/:agentId": {
      summary: "Remove an agent: its socket closes, its credential stops working, its tasks are replaced",
      responses: { 204: { description: "Removed." } },
    },
    "GET /c/:cluster/agents/:agentId/diagnostics": {
      summary: "One agent's self-checks (connection, cgroups, docker, DNS forwarder, disk) and the master's clock check",
    },
    "GET /c/:cluster/diagnostics": { summary: "Every agent's self-checks: `{healthy, nodes: [{agentId, hostname, state, healthy, reportedAt, checks}]}`" },
    "POST /c/:cluster/diagnostics/bundle": {
      summary: "A zip of the cluster's state and every connected agent's checks and recent log lines, collected over the agents' sockets",
      query: { timeoutMs: { description: "How long to wait for each agent's answer, 100–30,000 ms (default 10,000)." } },
      responses: {
        200: { description: "The bundle (`Content-Disposition: attachment`).", contentType: "application/zip" },
        429: { description: "Two bundles are already being collected for this cluster." },
      },
    },
  },
};

const dohQuery = {
  dns: { description: "An RFC 8484 query: a DNS message, base64url without padding." },
  name: { description: "The JSON dialect: the name to resolve." },
  type: { description: "The JSON dialect: the record type (default A)." },
} as const;
const dohResponses = {
  200: {
    description:
      "A DNS message (`application/dns-message`), or JSON (`application/dns-json`). `Cache-Control: max-age` is the answer's smallest TTL; for the cluster's own names `DCX-DNS-Lease-Ms` says how long a resolver may keep the answer under the Worker's DNS lease (0 for a confirmed negative answer).",
    contentType: "application/dns-message",
  },
};

export const dnsSection: RouteSection = {
  tag: "DNS",
  description: "DNS-over-HTTPS with Mesos-DNS names, and Mesos-DNS's HTTP API.",
  routes: {
    "GET /dns/:key/dns-query": {
      summary: "DNS-over-HTTPS (GET), authenticated by the key in the path",
      auth: "none",
      query: dohQuery,
      responses: dohResponses,
    },
    "POST /dns/:key/dns-query": { summary: "DNS-over-HTTPS (POST `application/dns-message`)", auth: "none", responses: dohResponses },
    "GET /c/:cluster/dns-query": {
      summary: "DNS-over-HTTPS for the cluster's agents (agent credential) and members (GET)",
      query: dohQuery,
      responses: dohResponses,
    },
    "POST /c/:cluster/dns-query": { summary: "DNS-over-HTTPS for the cluster's agents and members (POST)", responses: dohResponses },
    "GET /c/:cluster/dns": { summary: "The cluster's DNS zone, TTL and VIP range" },
    "PATCH /c/:cluster/dns": {
      summary: "Change the zone, TTL or VIP range (`vipRange`, a CIDR block); names answer under the new zone at once, named VIPs move to the new range",
      responses: { 200: "`{zone, ttl, vipRange}`", 422: "A field is invalid, or the cluster's VIPs do not fit in the new range." },
    },
    "GET /c/:cluster/vips": {
      summary: "The named and IP VIPs (`VIP_n` port labels) every agent balances, with their backends",
      responses: { 200: "`{range, vips: [{name, ip, port, backends: [{host, port, draining}]}]}`" },
    },
    "GET /c/:cluster/secrets": {
      summary: "The cluster's secret store: `[{path, createdAt, updatedAt}]`, never a value",
    },
    "GET /c/:cluster/secrets/v1/secret/default/:path{.*}": {
      path: "/c/{cluster}/secrets/v1/secret/default/{path}",
      summary: "DC/OS secrets API: with `?list=true`, the paths under `path` (`{array: [...]}`)",
      query: {
        list: { description: "`true` lists the secrets under the path; without it a secret's value is asked for, which DCX refuses.", type: "boolean" },
      },
      responses: { 200: "`{array: [paths]}`", 403: "A value was asked for: DCX never returns one (tasks get it in their environment)." },
    },
    "PUT /c/:cluster/secrets/v1/secret/default/:path{.+}": {
      path: "/c/{cluster}/secrets/v1/secret/default/{path}",
      summary: "Create a secret (`{value}`, at most 64 KiB); apps name it in `secrets` and reference it from `env`",
      responses: { 201: { description: "Created." }, 409: "A secret exists at the path, or the store is full.", 422: "A bad path or value." },
    },
    "PATCH /c/:cluster/secrets/v1/secret/default/:path{.+}": {
      path: "/c/{cluster}/secrets/v1/secret/default/{path}",
      summary: "Change a secret's value; running tasks keep the old one, new launches get the new one",
      responses: { 204: { description: "Changed." }, 404: "No secret at the path.", 422: "A bad path or value." },
    },
    "DELETE /c/:cluster/secrets/v1/secret/default/:path{.+}": {
      path: "/c/{cluster}/secrets/v1/secret/default/{path}",
      summary: "Delete a secret",
      responses: { 204: { description: "Deleted." }, 404: "No secret at the path.", 409: "An app names it in its secrets." },
    },
    "GET /c/:cluster/mesos_dns/v1/version": { summary: "Mesos-DNS: version" },
    "GET /c/:cluster/mesos_dns/v1/config": { summary: "Mesos-DNS: configuration" },
    "GET /c/:cluster/mesos_dns/v1/hosts/:host": { summary: "Mesos-DNS: addresses of a host name" },
    "GET /c/:cluster/mesos_dns/v1/hosts/:host/ports": { summary: "Mesos-DNS: addresses and ports of a host name" },
    "GET /c/:cluster/mesos_dns/v1/services/:service": { summary: "Mesos-DNS: SRV records of a service" },
    "GET /c/:cluster/mesos_dns/v1/enumerate": { summary: "Mesos-DNS: every name of the cluster" },
  },
};

export const observabilitySection: RouteSection = {
  tag: "Observability",
  description: "What the cluster did over time, its metrics, and its tasks' output.",
  routes: {
    "GET /c/:cluster/history/minute": { summary: "A sample of the cluster per minute, for 24 hours" },
    "GET /c/:cluster/history/hour": { summary: "An average of the cluster per hour, for 30 days" },
    "GET /c/:cluster/metrics/prometheus": {
      summary: "The cluster's metrics in Prometheus's text format (0.0.4)",
      responses: { 200: { description: "A Prometheus exposition.", contentType: "text/plain; version=0.0.4" } },
    },
    "GET /c/:cluster/v2/tasks/:taskId/logs": {
      summary: "A task's stdout or stderr, from its agent",
      querySchema: LogsQuery,
      responses: {
        200: { description: "Text, or Server-Sent Events with `follow=true`.", contentType: "text/plain" },
        502: "The agent could not read the output.",
        503: "The task's agent is not connected.",
        504: "The agent did not answer in time.",
      },
    },
    "POST /c/:cluster/debug/clock": { summary: "Move the job schedule clock forward (only with DCX_TEST_CLOCK=on; a 404 otherwise)" },
    "POST /c/:cluster/debug/reset": {
      summary: "Reset every Durable Object of the cluster, as a deploy does (only with DCX_TEST_HOOKS=on; a 404 otherwise)",
      responses: { 202: '`{reset: ["cluster"]}`: the objects reset.' },
    },
  },
};
