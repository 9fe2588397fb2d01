import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "../errors.ts";
import { CLUSTERS_PATH, requireClusterPage, requireSession, readFlash, type UiContext, type UiEnv } from "./context.ts";
import { renderPage } from "./layout.tsx";
import { auditPage } from "./pages/audit.tsx";
import { authPages } from "./pages/auth.tsx";
import { catalogPages } from "./pages/catalog.tsx";
import { clustersPage } from "./pages/clusters.tsx";
import { deployPage } from "./pages/deploy.tsx";
import { dnsPage } from "./pages/dns.tsx";
import { jobEditorPage } from "./pages/job-editor.tsx";
import { frameworksPage } from "./pages/frameworks.tsx";
import { secretsPage } from "./pages/secrets.tsx";
import { jobsPage } from "./pages/jobs.tsx";
import { nodePages } from "./pages/nodes.tsx";
import { overviewPage } from "./pages/overview.tsx";
import { servicePages } from "./pages/service.tsx";
import { taskPages } from "./pages/tasks.tsx";
import { tokensPage } from "./pages/tokens.tsx";

/**
 * The web UI: pages rendered on the Worker with Hono JSX. Pages read cluster state through the
 * same Durable Object RPC the API routes call, and change it through POST forms (CSRF-checked);
 * only live updates (event stream, logs, history) are fetched by the pages' scripts from the API,
 * with the session cookie. Styles and scripts are Workers Static Assets under `/assets/`.
 */

/** Errors on a page become a page: a lapsed session goes to the login, everything else says what went wrong. */
function renderUiError(err: unknown, c: UiContext) {
  const apiError = err instanceof ApiError ? err : err instanceof HTTPException ? new ApiError("malformed", err.message || "Bad request.") : undefined;
  if (!apiError) console.error("unhandled UI error", err);
  if (apiError?.code === "unauthenticated") return c.redirect("/login", 303);
  const status = apiError?.status ?? 500;
  const title = status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Something went wrong";
  const message = apiError?.message ?? "Internal error. The request was not completed.";
  return renderPage(
    c,
    { title, status },
    <section aria-labelledby="error-title">
      <h1 id="error-title">{title}</h1>
      <p>{message}</p>
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </section>,
  );
}

/** Pages of one cluster, under `/ui/:cluster`. */
const clusterPages = new Hono<UiEnv>()
  .use(requireSession, requireClusterPage, readFlash)
  .route("/", overviewPage)
  .route("/services", servicePages)
  .route("/deploy", deployPage)
  .route("/tasks", taskPages)
  .route("/nodes", nodePages)
  .route("/jobs", jobsPage)
  .route("/frameworks", frameworksPage)
  .route("/secrets", secretsPage)
  .route("/deploy-job", jobEditorPage)
  .route("/dns", dnsPage)
  .route("/catalog", catalogPages)
  .route("/tokens", tokensPage)
  .route("/audit", auditPage)
  .all("*", (c) => {
    throw new ApiError("not_found", `There is no page at ${new URL(c.req.url).pathname}.`);
  });

/** Mounted at `/` by the Worker's entry: `/`, `/login`, `/signup`, `/logout`, `/ui` (the clusters) and `/ui/:cluster/...`. */
export const uiRoutes = new Hono<UiEnv>().route("/", authPages).route(CLUSTERS_PATH, clustersPage).route("/ui/:cluster", clusterPages).onError(renderUiError);
