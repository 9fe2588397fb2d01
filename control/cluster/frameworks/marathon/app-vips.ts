import { ipv4ToNumber, L4LB_DOMAIN } from "../../../../protocol/vips.ts";
import { domainFrag } from "../../../dns/names.ts";
import type { Issue } from "./app-fields.ts";
import { appNetwork, type Networked } from "./app-network.ts";

/**
 * VIP labels on an app's ports, as DC/OS's Minuteman reads them (dcos-net
 * `dcos_l4lb_mesos_poller.erl`): any label whose key starts with `VIP` or `vip`, on a port
 * definition (host networking) or a port mapping (bridge), valued `<name>:<port>` for a named
 * VIP (`/shop/web:80`) or `<ipv4>:<port>` for an IP VIP, split on the last `:`.
 */

/** A port as far as VIPs care: its labels and protocol. */
export interface LabelledPort {
  labels?: Record<string, string> | undefined;
  protocol: string;
}

/** One VIP label of one declared port. */
export interface VipLabel {
  /** Index of the port in the app's declared ports, which is also its index in a task's `ports`. */
  portIndex: number;
  /** The label's key, e.g. `VIP_0`. */
  key: string;
  /** A named VIP (address allocated from the cluster's range), or an IP VIP (address given). */
  kind: "named" | "ip";
  /** Named: the sanitised name (`shopweb`), which keys its address. IP: the address. */
  name: string;
  /** The VIP's port, which clients connect to. */
  port: number;
}

/** A label key that declares a VIP. */
export const isVipKey = (key: string): boolean => key.startsWith("VIP") || key.startsWith("vip");

/** The DNS name a named VIP answers at: `<name>.marathon.l4lb.thisdcos.directory`. */
export const vipFqdn = (name: string): string => `${name}.marathon.${L4LB_DOMAIN}`;

/** Longest DNS name (RFC 1035), which the VIP's full name must fit in. */
const MAX_NAME_LENGTH = 253;

/**
 * Reads one label value into a VIP, or says what is wrong with it. Names are sanitised as
 * dcos-net's `mesos_state:domain_frag`: per dot-separated part lowercased, `_` and `.` turned
 * into `-`, every other character outside `[a-z0-9-]` dropped (so `/shop/web` is `shopweb`).
 */
export function readVipLabel(value: string): { kind: "named" | "ip"; name: string; port: number } | string {
  const colon = value.lastIndexOf(":");
  if (colon < 0) return `'${value.slice(0, 80)}' is not <name>:<port> or <ip>:<port>, e.g. /web:80`;
  const head = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `the port after the last ':' must be a number from 1 to 65535, not '${portText.slice(0, 20)}'`;
  if (ipv4ToNumber(head) !== undefined) return { kind: "ip", name: head, port };
  const name = domainFrag(head);
  if (name === "") return `the name '${head.slice(0, 80)}' has no letters or digits left once sanitised; use e.g. /web:${port}`;
  if (vipFqdn(name).length > MAX_NAME_LENGTH) return `the name is too long for DNS: ${vipFqdn(name).length} characters, at most ${MAX_NAME_LENGTH}`;
  return { kind: "named", name, port };
}

/** The ports VIP labels sit on, in declaration order, and the body field they are in. */
export function labelledPorts(
  app: Networked & { portDefinitions?: LabelledPort[] | undefined },
  mappings: LabelledPort[] | undefined,
): { field: string[]; ports: LabelledPort[] } {
  if (appNetwork(app) === "BRIDGE") return { field: ["container", "portMappings"], ports: mappings ?? [] };
  return { field: ["portDefinitions"], ports: app.portDefinitions ?? [] };
}

/** Every VIP label of the ports, with the problems of those that cannot be used (path relative to `field`). */
export function scanVipLabels(ports: readonly LabelledPort[]): { vips: VipLabel[]; issues: Issue[] } {
  const vips: VipLabel[] = [];
  const issues: Issue[] = [];
  const seen = new Map<string, number>();
  ports.forEach((p, portIndex) => {
    for (const [key, value] of Object.entries(p.labels ?? {})) {
      if (!isVipKey(key)) continue;
      const at = [portIndex, "labels", key];
      const read = readVipLabel(value);
      if (typeof read === "string") {
        issues.push({ path: at, message: read });
        continue;
      }
      if (p.protocol === "udp") {
        issues.push({ path: at, message: "VIPs balance TCP connections; this port's protocol is udp (use tcp or udp,tcp)" });
        continue;
      }
      const id = `${read.kind}:${read.name}:${read.port}`;
      const other = seen.get(id);
      if (other !== undefined && other !== portIndex) {
        issues.push({ path: at, message: `${value} is already the VIP of port ${other}: one VIP leads to one port of each task` });
        continue;
      }
      seen.set(id, portIndex);
      vips.push({ portIndex, key, ...read });
    }
  });
  return { vips, issues };
}

/** The VIPs a validated app declares (its labels were checked when it was admitted). */
export function vipsOf(app: Networked & { portDefinitions: LabelledPort[] }): VipLabel[] {
  return scanVipLabels(labelledPorts(app, app.container?.portMappings).ports).vips;
}

/** The problems of an app body's VIP labels, at their body paths (`/portDefinitions/0/labels/VIP_0`). */
export function vipLabelIssues(app: Networked & { portDefinitions?: LabelledPort[] | undefined }, mappings: LabelledPort[] | undefined): Issue[] {
  const { field, ports } = labelledPorts(app, mappings);
  return scanVipLabels(ports).issues.map((issue) => ({ ...issue, path: [...field, ...issue.path] }));
}
