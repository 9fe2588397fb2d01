import { ApiError } from "./errors.ts";

/**
 * Per-account quotas, set in the Worker's configuration (wrangler.toml `vars`), so an operator
 * changes them without a release. Clusters and API tokens count per account; everything inside
 * a cluster counts per cluster (an account's total is then bounded by clusters × per cluster),
 * because a cluster's agents and apps live in its own Durable Object and summing across an
 * account's objects would wake them all.
 */
export const QUOTAS = {
  clusters: { variable: "QUOTA_CLUSTERS", what: "clusters per account", fallback: 10 },
  apiTokens: { variable: "QUOTA_API_TOKENS", what: "API tokens and sessions per user", fallback: 50 },
  agents: { variable: "QUOTA_AGENTS", what: "agents per cluster", fallback: 1000 },
  apps: { variable: "QUOTA_APPS", what: "apps per cluster", fallback: 1000 },
  instances: { variable: "QUOTA_INSTANCES", what: "app instances per cluster", fallback: 10000 },
  agentTokens: { variable: "QUOTA_AGENT_TOKENS", what: "live agent join tokens per cluster", fallback: 50 },
  dnsKeys: { variable: "QUOTA_DNS_KEYS", what: "live DNS keys per cluster", fallback: 20 },
  serviceAccounts: { variable: "QUOTA_SERVICE_ACCOUNTS", what: "service accounts per cluster", fallback: 20 },
} as const satisfies Record<string, { variable: keyof Env; what: string; fallback: number }>;
export type Quota = keyof typeof QUOTAS;

/** The configured limit; a missing or unreadable value falls back to the built-in default rather than to no limit. */
export function quotaLimit(env: Env, quota: Quota): number {
  const { variable, fallback } = QUOTAS[quota];
  const n = Number(env[variable]);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

/** The message of a quota refusal: it names the limit, its value and the variable that sets it. */
export function quotaMessage(quota: Quota, limit: number): string {
  const { variable, what } = QUOTAS[quota];
  return `Quota exceeded: at most ${limit} ${what} (${variable}).`;
}

/** A 422 for a change that would pass a quota, naming it; `path` is the field that asked for too much. */
export function quotaExceeded(quota: Quota, limit: number, path = "/"): ApiError {
  const message = quotaMessage(quota, limit);
  return new ApiError("invalid", message, [{ path, errors: [message] }], {}, { quota: { name: QUOTAS[quota].variable, limit } });
}
