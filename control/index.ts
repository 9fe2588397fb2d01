import { Hono } from "hono";
import type { RouterRoute } from "hono/types";
import { bodyLimit } from "hono/body-limit";
import { agentConnectRoutes, agentRoutes } from "./api/agents.ts";
import { authRoutes } from "./api/auth.ts";
import { clusterRoutes } from "./api/clusters.ts";
import { diagnosticsRoutes } from "./api/diagnostics.ts";
import { clusterDohRoutes, dohRoutes } from "./api/dns.ts";
import { CLUSTER_ROOT, DCOS_PATHS } from "./api/dcos-paths.ts";
import { historyRoutes } from "./api/history.ts";
import { marathonRoutes } from "./api/marathon/index.ts";
import { capabilityRoutes } from "./api/capabilities.ts";
import { marathonSystemRoutes } from "./api/marathon/system.ts";
import { debugRoutes, metronomeRoutes, metronomeServiceRoutes } from "./api/metronome.ts";
import { testHookRoutes } from "./api/test-hooks.ts";
import { dnsSettingsRoutes, mesosDnsRoutes } from "./api/mesos-dns.ts";
import { DCX_VERSION, masterRoutes } from "./api/master.ts";
import { cosmosServiceRoutes, packageRoutes } from "./api/packages/index.ts";
import { prometheusRoutes } from "./api/prometheus.ts";
import { operatorRoutes } from "./api/operator.ts";
import { schedulerRoutes } from "./api/scheduler.ts";
import { requireFramework, serviceAccountRoutes } from "./api/service-accounts.ts";
import { taskLogRoutes } from "./api/task-logs.ts";
import { vipRoutes } from "./api/vips.ts";
import { isProxiedPath, publicIngressRoutes, serviceProxyRoutes } from "./api/service-proxy/index.ts";
import { weightRoutes } from "./api/weights.ts";
import { secretListRoutes, secretRoutes } from "./api/secrets.ts";
import { accountsDb } from "./accounts/db.ts";
import { purgeExpired } from "./accounts/account.ts";
import { ApiError, renderError } from "./errors.ts";
import { securityHeaders } from "./http/security.ts";
import type { AppEnv } from "./http/env.ts";
import { MAX_BODY_BYTES, requireMember, requireUser, withDb } from "./http/middleware.ts";
import { openApiRoutes } from "./openapi/routes.ts";
import { uiRoutes } from "./ui/index.tsx";

/** Marathon's API: `/v2` and its root routes (`/ping`, `/metrics`, `/logging`). */
const marathonService = new Hono<AppEnv>().route("/v2/tasks", taskLogRoutes).route("/v2", marathonRoutes).route("/", marathonSystemRoutes);

/** Metronome's API: `/v1` and its root routes (`/ping`, `/info`, `/leader`, `/v1/metrics`, `/v0`). */
const metronomeService = new Hono<AppEnv>().route("/v1", metronomeRoutes).route("/", metronomeServiceRoutes);

/**
 * Everything under `/c/:cluster` that a member of the cluster may call. Each service is
 * served at the cluster root and under DC/OS's Admin Router paths (`/service/marathon`,
 * `/service/metronome`, `/mesos`, `/mesos_dns`), so a tool written for a DC/OS cluster URL
 * works with `$DCX/c/$CLUSTER` as that URL. The two built-in services are named before any
 * other `/service/<name>`, as Admin Router names them. The DC/OS paths are DCOS_PATHS, which
 * the OpenAPI document reads too (a route under one is documented from its root route).
 */
const clusterScoped = new Hono<AppEnv>()
  .use(requireUser, requireMember)
  .route("/agents", agentRoutes)
  .route(DCOS_PATHS.marathon, marathonService)
  .route(DCOS_PATHS.metronome, metronomeService)
  .route(DCOS_PATHS.mesos, masterRoutes)
  .route("/", marathonService)
  .route("/", metronomeService)
  .route("/debug", debugRoutes)
  .route("/debug", testHookRoutes)
  .route("/mesos_dns/v1", mesosDnsRoutes)
  .route("/dns", dnsSettingsRoutes)
  .route("/vips", vipRoutes)
  .route("/history", historyRoutes)
  .route("/diagnostics", diagnosticsRoutes)
  .route("/metrics/prometheus", prometheusRoutes)
  .route("/capabilities", capabilityRoutes)
  .route("/weights", weightRoutes)
  .route("/secrets/v1/secret/default", secretRoutes)
  .route("/secrets", secretListRoutes)
  .route(`${DCOS_PATHS.mesos}/weights`, weightRoutes)
  .route("/package", packageRoutes)
  .route("/cosmos/service", cosmosServiceRoutes)
  .route("/", operatorRoutes)
  .route("/", masterRoutes);

const apiBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError("payload_too_large", `Request body is larger than ${MAX_BODY_BYTES} bytes.`);
  },
});

const app = new Hono<AppEnv>()
  .use(securityHeaders)
  .use(withDb)
  // The service proxy streams bodies of any size to tasks; every other route reads at most MAX_BODY_BYTES.
  .use((c, next) => (isProxiedPath(new URL(c.req.url).pathname) ? next() : apiBodyLimit(c, next)))
  .get("/health", (c) => c.json({ healthy: true, version: DCX_VERSION }))
  .route("/auth", authRoutes)
  .route("/clusters/:id/service-accounts", serviceAccountRoutes)
  .route("/clusters", clusterRoutes)
  .route("/dns", dohRoutes)
  // Agents authenticate with join tokens or credentials, not user tokens: mounted before the member check.
  .route("/c/:cluster/agent", agentConnectRoutes)
  .route("/c/:cluster/dns-query", clusterDohRoutes)
  // Frameworks authenticate with service accounts (or a member's token): mounted before the member check.
  .use("/c/:cluster/api/v1/scheduler", requireFramework)
  .route("/c/:cluster/api/v1/scheduler", schedulerRoutes)
  .route(CLUSTER_ROOT, clusterScoped)
  // After the cluster's routes: their member check authenticates it, and `/service/marathon` and `/service/metronome` are theirs.
  .route(`${CLUSTER_ROOT}/service`, serviceProxyRoutes)
  .route("/public/:cluster", publicIngressRoutes)
  // `/openapi.json` and `/docs`, generated from this app's own route table.
  .route("/", openApiRoutes(routeTable))
  // The web UI: `/`, `/login`, `/signup`, `/logout`, `/ui/...`; its styles and scripts are static assets (`/assets/...`).
  .route("/", uiRoutes)
  .notFound((c) => renderError(new ApiError("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), c))
  .onError(renderError);

/** The app's route table, read by the OpenAPI document once the app is built. */
function routeTable(): readonly RouterRoute[] {
  return app.routes;
}

// Only handlers and Durable Object classes may be exported from the entry module.

/** The app's type, for typed `hc` clients (CLI, UI). */
export type AppType = typeof app;

/** The cron trigger (wrangler.toml `triggers`): purges expired tokens, ended secrets and old login failures. */
async function scheduled(_controller: ScheduledController, env: Env): Promise<void> {
  await purgeExpired(accountsDb(env.DB));
}

/**
 * The Worker's handlers: the Hono app itself (its `fetch`; tests read its route table,
 * `routes`), with the cron trigger's `scheduled` beside it.
 */
export default Object.assign(app, { scheduled }) satisfies ExportedHandler<Env>;
export { Cluster } from "./cluster/cluster.ts";
export { AgentGateway } from "./gateway/gateway.ts";
