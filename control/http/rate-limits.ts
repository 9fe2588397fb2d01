import { ApiError } from "../errors.ts";

/**
 * Requests per client address, counted by the Workers Rate Limiting bindings declared in
 * wrangler.toml (`ratelimits`): Cloudflare counts them at the edge in production, and
 * wrangler/miniflare simulate them locally (fixed windows of the configured period).
 */
const LIMITERS = {
  signup: "SIGNUP_LIMITER",
  login: "LOGIN_LIMITER",
} as const satisfies Record<string, keyof Env>;
export type AddressLimit = keyof typeof LIMITERS;

/** Both bindings count over 60-second windows (wrangler.toml): a refused client may retry after one. */
const PERIOD_SECONDS = 60;

/** Counts one request of `kind` from `address`; a 429 naming the limit when it is spent. */
export async function limitByAddress(env: Env, kind: AddressLimit, address: string): Promise<void> {
  const binding = LIMITERS[kind];
  const { success } = await env[binding].limit({ key: `${kind}:${address}` });
  if (success) return;
  throw new ApiError("rate_limited", `Too many ${kind} requests from your address (limit ${binding}); try again in ${PERIOD_SECONDS} s.`, [], {
    "Retry-After": String(PERIOD_SECONDS),
  });
}
