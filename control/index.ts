import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { agentConnectRoutes, agentRoutes } from "./api/agents.ts";
import { authRoutes } from "./api/auth.ts";
import { clusterRoutes } from "./api/clusters.ts";
import { clusterDohRoutes, dohRoutes } from "./api/dns.ts";
import { historyRoutes } from "./api/history.ts";
import { marathonRoutes } from "./api/marathon/index.ts";
import { debugRoutes, metronomeRoutes } from "./api/metronome.ts";
import { dnsSettingsRoutes, mesosDnsRoutes } from "./api/mesos-dns.ts";
import { DCX_VERSION, masterRoutes } from "./api/master.ts";
import { operatorRoutes } from "./api/operator.ts";
import { schedulerRoutes } from "./api/scheduler.ts";
import { requireFramework, serviceAccountRoutes } from "./api/service-accounts.ts";
import { taskLogRoutes } from "./api/task-logs.ts";
import { ApiError, renderError } from "./errors.ts";
import type { AppEnv } from "./http/env.ts";
import { MAX_BODY_BYTES, requireMember, requireUser, withDb } from "./http/middleware.ts";
import { uiRoutes } from "./ui/index.tsx";

/** Everything under `/c/:cluster` that a member of the cluster may call. */
const clusterScoped = new Hono<AppEnv>()
  .use(requireUser, requireMember)
  .route("/agents", agentRoutes)
  .route("/v2/tasks", taskLogRoutes)
  .route("/v2", marathonRoutes)
  .route("/v1", metronomeRoutes)
  .route("/debug", debugRoutes)
  .route("/mesos_dns/v1", mesosDnsRoutes)
  .route("/dns", dnsSettingsRoutes)
  .route("/history", historyRoutes)
  .route("/", operatorRoutes)
  .route("/", masterRoutes);

const app = new Hono<AppEnv>()
  .use(withDb)
  .use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError("payload_too_large", `Request body is larger than ${MAX_BODY_BYTES} bytes.`);
      },
    }),
  )
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
  .route("/c/:cluster", clusterScoped)
  // The web UI: `/`, `/login`, `/signup`, `/logout`, `/ui/...`; its styles and scripts are static assets (`/assets/...`).
  .route("/", uiRoutes)
  .notFound((c) => renderError(new ApiError("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), c))
  .onError(renderError);

// Only handlers and Durable Object classes may be exported from the entry module.

/** The app's type, for typed `hc` clients (CLI, UI). */
export type AppType = typeof app;

export default app;
export { Cluster } from "./cluster/cluster.ts";
