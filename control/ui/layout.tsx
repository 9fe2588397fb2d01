import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ClusterSummary, User } from "../accounts/users.ts";
import { CSRF_FIELD } from "../http/session.ts";
import { CLUSTERS_PATH, type Flash, type UiContext } from "./context.ts";

/** The sections of a cluster, in the order the navigation shows them. */
export const SECTIONS = [
  { key: "overview", label: "Overview", path: "" },
  { key: "services", label: "Services", path: "/services" },
  { key: "nodes", label: "Nodes", path: "/nodes" },
  { key: "jobs", label: "Jobs", path: "/jobs" },
  { key: "catalog", label: "Catalog", path: "/catalog" },
  { key: "frameworks", label: "Frameworks", path: "/frameworks" },
  { key: "dns", label: "DNS", path: "/dns" },
  { key: "secrets", label: "Secrets", path: "/secrets" },
  { key: "tokens", label: "Tokens", path: "/tokens" },
  { key: "audit", label: "Audit", path: "/audit" },
] as const;
export type Section = (typeof SECTIONS)[number]["key"];

/**
 * Every page's security headers. The content security policy lets a page load only what the
 * Worker itself serves, so the UI makes no request to any other host, and no inline script
 * or style runs.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export interface PageOptions {
  title: string;
  /** The highlighted navigation entry; none on pages outside a cluster. */
  section?: Section;
  /** Extra scripts from /assets (the graph's uPlot bundle is only loaded where a graph is). */
  scripts?: string[];
  status?: ContentfulStatusCode;
}

/** Renders a full page: the layout around `body`, with the session's user and cluster when there is one. */
export function renderPage(c: UiContext, options: PageOptions, body: Child): Response | Promise<Response> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  const page = (
    <Layout
      title={options.title}
      section={options.section}
      scripts={options.scripts ?? []}
      user={c.get("user")}
      cluster={c.get("cluster")}
      clusters={c.get("clusters") ?? []}
      csrf={c.get("csrf")}
      flash={c.get("flash")}
    >
      {body}
    </Layout>
  );
  return c.html(`<!doctype html>${String(page)}`, options.status ?? 200);
}

interface LayoutProps {
  title: string;
  section: Section | undefined;
  scripts: string[];
  user: User | undefined;
  cluster: ClusterSummary | undefined;
  clusters: ClusterSummary[];
  csrf: string | undefined;
  flash: Flash | undefined;
  children?: Child;
}

function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · DCX`}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/ui.css" />
        {props.csrf ? <meta name="csrf-token" content={props.csrf} /> : null}
        {/* The pages only refresh on events: light plans spare them the groups before and after each deployment. */}
        {props.cluster ? <meta name="dcx-events" content={`/c/${props.cluster.id}/v2/events?plan-format=light`} /> : null}
        <script src="/assets/ui.js" defer></script>
        {props.scripts.map((s) => (
          <script src={`/assets/${s}`} defer></script>
        ))}
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="topbar">
          <a class="brand" href="/" aria-label="DCX home">
            DCX
          </a>
          {props.cluster ? <ClusterSwitcher current={props.cluster} clusters={props.clusters} /> : null}
          {props.user ? <UserMenu user={props.user} csrf={props.csrf ?? ""} /> : null}
          {props.cluster ? <MainNav cluster={props.cluster} section={props.section} /> : null}
        </header>
        <main id="main" tabindex={-1}>
          {props.flash ? <FlashMessage flash={props.flash} /> : null}
          {props.children}
        </main>
        <footer class="footer">{raw("DCX &middot; a data-center OS on Cloudflare Workers")}</footer>
      </body>
    </html>
  );
}

function MainNav(props: { cluster: ClusterSummary; section: Section | undefined }) {
  return (
    <nav class="mainnav" aria-label="Cluster">
      <ul>
        {SECTIONS.map((s) => (
          <li>
            <a href={`/ui/${props.cluster.id}${s.path}`} aria-current={props.section === s.key ? "page" : undefined}>
              {s.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/**
 * A disclosure listing the user's clusters to switch to, and the Clusters page where one is
 * created: plain links, so it works with a keyboard and without scripts.
 */
function ClusterSwitcher(props: { current: ClusterSummary; clusters: ClusterSummary[] }) {
  return (
    <details class="cluster-switcher">
      <summary>{`Cluster: ${props.current.name}`}</summary>
      <ul aria-label="Switch cluster">
        {props.clusters.map((k) => (
          <li>
            <a href={`/ui/${k.id}`} aria-current={k.id === props.current.id ? "true" : undefined}>
              {`${k.name} (${k.id})`}
            </a>
          </li>
        ))}
        <li class="switcher-more">
          <a href={CLUSTERS_PATH}>All clusters · create a cluster</a>
        </li>
      </ul>
    </details>
  );
}

function UserMenu(props: { user: User; csrf: string }) {
  return (
    <form class="usermenu" method="post" action="/logout">
      <span class="user-email">{props.user.email}</span>
      <input type="hidden" name={CSRF_FIELD} value={props.csrf} />
      <button type="submit" class="link-button">
        Log out
      </button>
    </form>
  );
}

function FlashMessage(props: { flash: Flash }) {
  return (
    <p class={`flash flash-${props.flash.kind}`} role={props.flash.kind === "error" ? "alert" : "status"}>
      {props.flash.text}
    </p>
  );
}
