import { CLUSTER_ROOT, DCOS_PATHS } from "../api/dcos-paths.ts";
import type { OperationDoc, RouteSection } from "./types.ts";

/**
 * Routes the Worker serves twice: at the cluster root and under an alias mount (DC/OS's
 * `/service/marathon`, `/service/metronome`, `/mesos`). A route under an alias is documented
 * from its canonical route (same method, the path without the alias), so a route added to a
 * service needs one doc however many places serve it.
 */

/** An alias mount and the prefix its routes stand for, both Hono paths. */
export interface AliasMount {
  mount: string;
  canonical: string;
}

/** Every alias mount, from the list control/index.ts mounts the services with. */
export const ALIAS_MOUNTS: readonly AliasMount[] = Object.values(DCOS_PATHS).map((path) => ({ mount: `${CLUSTER_ROOT}${path}`, canonical: CLUSTER_ROOT }));

/** The tag of the aliased operations; its operations come from the canonical routes' docs, so it lists none itself. */
export const aliasSection: RouteSection = {
  tag: "DC/OS paths",
  description:
    "The same Marathon, Metronome and Mesos routes under DC/OS's Admin Router paths (`/c/{cluster}/service/marathon/…`, `/c/{cluster}/service/metronome/…`, `/c/{cluster}/mesos/…`), so a tool written for a DC/OS cluster URL works with `/c/{cluster}` as that URL. Each answers exactly as the route it names.",
  routes: {},
};

/** A route under an alias mount, and the route it stands for. */
export interface AliasedRoute {
  alias: AliasMount;
  /** The canonical route's key, `METHOD /hono/path`. */
  canonicalKey: string;
}

/** `GET /c/:cluster/service/marathon/v2/apps` → its alias and `GET /c/:cluster/v2/apps`; undefined for a route under no alias. */
export function aliasedRoute(key: string): AliasedRoute | undefined {
  const [method, path = ""] = key.split(" ");
  const alias = ALIAS_MOUNTS.find((a) => path === a.mount || path.startsWith(`${a.mount}/`));
  if (!alias) return undefined;
  return { alias, canonicalKey: `${method} ${alias.canonical}${path.slice(alias.mount.length)}` };
}

/** The OpenAPI path of a route under a Hono path prefix (`/c/:cluster` → `/c/{cluster}`). */
const templatedPrefix = (honoPath: string) => honoPath.replace(/:(\w+)/g, "{$1}");

/**
 * The doc of an aliased route, made from one doc of its canonical route (whose documented
 * path is `canonicalPath`): the same parameters, body and responses under the alias's path,
 * its summary naming the canonical operation. Undefined when the canonical path is not under
 * the alias's canonical prefix (a doc whose `path` names some other route).
 */
export function aliasDoc(alias: AliasMount, method: string, canonicalPath: string, doc: OperationDoc): OperationDoc | undefined {
  const from = templatedPrefix(alias.canonical);
  if (canonicalPath !== from && !canonicalPath.startsWith(`${from}/`)) return undefined;
  const path = templatedPrefix(alias.mount) + canonicalPath.slice(from.length);
  const description = [doc.summary, doc.description].filter(Boolean).join(". ");
  return { ...doc, path, summary: `Same as \`${method} ${canonicalPath}\``, description };
}
