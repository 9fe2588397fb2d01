import type { OperationDoc, RouteSection } from "./types.ts";

/**
 * The web UI's pages. They are HTML for people, listed so that the document names every route
 * the Worker serves; their forms post `application/x-www-form-urlencoded` with the session's
 * CSRF token and answer with a redirect (303) to the page that shows the result.
 */

const page = (summary: string, extra: Partial<OperationDoc> = {}): OperationDoc => ({
  summary,
  responses: { 200: { description: "An HTML page.", contentType: "text/html" } },
  ...extra,
});
const form = (summary: string, extra: Partial<OperationDoc> = {}): OperationDoc => ({
  summary,
  responses: { 303: { description: "Done: on to the page that shows the result." } },
  ...extra,
});

export const uiSection: RouteSection = {
  tag: "Web UI",
  description: "Pages of the web UI, signed in with the session cookie; not an API.",
  auth: "session",
  routes: {
    "GET /": page("The start page: on to your first cluster, or to sign in"),
    "GET /login": page("Sign-in form", { auth: "none" }),
    "POST /login": form("Sign in", { auth: "none" }),
    "GET /signup": page("Sign-up form", { auth: "none" }),
    "POST /signup": form("Sign up", { auth: "none" }),
    "POST /logout": form("Sign out"),
    "GET /ui": page("Your clusters"),
    "POST /ui": form("Create a cluster"),
    "GET /ui/:cluster": page("A cluster's overview"),
    "GET /ui/:cluster/services": page("Services (Marathon apps and groups)"),
    "GET /ui/:cluster/services/*": [page("A service or a group", { path: "/ui/{cluster}/services/{serviceId}" })],
    "POST /ui/:cluster/services/*": [form("Act on a service: scale, restart, destroy, roll back, kill a task", { path: "/ui/{cluster}/services/{serviceId}" })],
    "GET /ui/:cluster/deploy": page("Deploy a service (form or JSON editor)"),
    "POST /ui/:cluster/deploy": form("Deploy a service"),
    "GET /ui/:cluster/tasks/:taskId": page("A task and its output"),
    "GET /ui/:cluster/nodes": page("Nodes (agents)"),
    "GET /ui/:cluster/nodes/:agentId": page("A node"),
    "POST /ui/:cluster/nodes/:agentId": form("Remove a node"),
    "GET /ui/:cluster/jobs": page("Jobs"),
    "GET /ui/:cluster/jobs/:jobId": page("A job and its runs"),
    "POST /ui/:cluster/jobs/:jobId": form("Act on a job: run now, stop a run, delete"),
    "GET /ui/:cluster/deploy-job": page("Create or edit a job"),
    "POST /ui/:cluster/deploy-job": form("Save a job"),
    "GET /ui/:cluster/catalog": page("The Catalog: packages of the cluster's repositories, and the repositories", {
      query: { q: { description: "Only packages whose name, description or tags hold this ('*' is a wildcard)." } },
    }),
    "POST /ui/:cluster/catalog": form("Add or remove a repository"),
    "GET /ui/:cluster/catalog/:name": page("A package: its notes, versions, installs, and its install form", {
      query: { version: { description: "A version other than the newest." } },
    }),
    "POST /ui/:cluster/catalog/:name": form("Install the package with the form's options"),
    "GET /ui/:cluster/dns": page("DNS: look a name up, change the zone"),
    "GET /ui/:cluster/audit": page("The cluster's audit log"),
    "GET /ui/:cluster/frameworks": page(
      "Frameworks: Marathon, Metronome and the Mesos schedulers on the scheduler API, with their tasks, allocation and offers",
    ),
    "POST /ui/:cluster/frameworks": form("Tear an external framework down (its name typed to confirm)"),
    "GET /ui/:cluster/secrets": page("The cluster's secret store: paths and times, never a value; `?edit=<path>` opens the new-value form"),
    "POST /ui/:cluster/secrets": form("Store a secret (`op=create`), give one a new value (`op=update`) or delete one (`op=delete`)"),
    "POST /ui/:cluster/dns": form("Change the zone or TTL"),
    "GET /ui/:cluster/tokens": page("Agent join tokens and DNS keys"),
    "POST /ui/:cluster/tokens": form("Create or revoke a join token or a DNS key"),
  },
};
