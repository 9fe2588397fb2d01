import { z } from "zod";
import { defaultPortMapping, type Container, type PortMapping } from "./app-container.ts";
import { Labels, type Issue } from "./app-fields.ts";

/**
 * An app's networking: Marathon 1.5+'s `networks`, or the deprecated `container.docker.network`,
 * reduced to the one mode its tasks run with. DCX runs tasks on the host network, or Docker
 * containers on Docker's bridge (or no network). Container (virtual, CNI) networks are refused
 * at admission: agents have none to join, and the master could not learn a task's container IP
 * for DNS and health checks.
 */

const NETWORK_MODES = ["container", "container/bridge", "host"] as const;

/**
 * `network.Network`. Marathon's default `mode` is `container`; it is not filled in, so GET
 * returns what was posted (and an entry without a mode is refused like a container network).
 */
export const Network = z.strictObject({
  mode: z.enum(NETWORK_MODES).optional(),
  name: z.string().min(1).optional(),
  labels: Labels.optional(),
});
export type Network = z.output<typeof Network>;

/** The network a task runs on, in the launch frame's words. */
export type NetworkMode = "HOST" | "BRIDGE" | "NONE";

/** The fields of an app that decide its network. */
export interface Networked {
  networks?: Network[] | undefined;
  container?: Container | undefined;
}

/** The network the app's tasks run on: `networks` when given, else `container.docker.network`, else the host's. */
export function appNetwork(app: Networked): NetworkMode {
  const first = app.networks?.[0];
  if (first !== undefined) return first.mode === "container/bridge" ? "BRIDGE" : "HOST";
  const docker = app.container?.docker?.network;
  return docker === "BRIDGE" || docker === "NONE" ? docker : "HOST";
}

/** The app's port mappings: as given, or Marathon's one default mapping for a bridged container that lists none. */
export function effectivePortMappings(app: Networked): PortMapping[] | undefined {
  const given = app.container?.portMappings;
  return given === undefined && appNetwork(app) === "BRIDGE" ? [defaultPortMapping()] : given;
}

function entryIssues(n: Network, index: number, container: Container | undefined): Issue[] {
  const at = ["networks", index];
  if (n.mode === undefined || n.mode === "container") {
    const defaulted = n.mode === undefined ? 'defaults to "container": ' : "";
    return [{ path: [...at, "mode"], message: `${defaulted}container networks are not supported; use "host" or "container/bridge"` }];
  }
  if (n.mode === "host") {
    return n.name === undefined && n.labels === undefined ? [] : [{ path: at, message: "host networks may not have names or labels" }];
  }
  if (n.name !== undefined) return [{ path: [...at, "name"], message: "bridge networks may not have names" }];
  if (container?.type !== "DOCKER") {
    return [{ path: [...at, "mode"], message: "container/bridge needs a Docker container (container.type DOCKER); other tasks run on the host network" }];
  }
  return [];
}

/** `networks` and the deprecated `docker.network` may both be given only when they agree. */
function dockerNetworkIssues(app: Networked): Issue[] {
  const docker = app.container?.docker?.network;
  const mode = app.networks?.[0]?.mode;
  if (docker === undefined || mode === undefined) return [];
  const agree = (docker === "BRIDGE" && mode === "container/bridge") || (docker === "HOST" && mode === "host");
  if (agree) return [];
  return [{ path: ["container", "docker", "network"], message: `${docker} contradicts networks (${mode}); give networks alone, docker.network is deprecated` }];
}

/** Docker publishes ports only from a bridged container; elsewhere a mapping would silently map nothing. */
function mappingIssues(app: Networked): Issue[] {
  const network = appNetwork(app);
  if (network === "BRIDGE" || (app.container?.portMappings?.length ?? 0) === 0) return [];
  const on = network === "NONE" ? "docker network NONE" : "the host network";
  return [{ path: ["container", "portMappings"], message: `are only used with bridge networking (networks [{"mode": "container/bridge"}]), not on ${on}` }];
}

/** Marathon's network rules (`NetworkValidation`, `AppValidation`), and DCX's limits, across the app's fields. */
export function networkIssues(app: Networked): Issue[] {
  const networks = app.networks ?? [];
  const issues = networks.flatMap((n, i) => entryIssues(n, i, app.container));
  if (networks.length > 1) issues.push({ path: ["networks"], message: "must list one network: host or container/bridge" });
  return [...issues, ...dockerNetworkIssues(app), ...mappingIssues(app)];
}
