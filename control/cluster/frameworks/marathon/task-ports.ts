import type { App } from "./app-definition.ts";
import { appNetwork } from "./app-network.ts";

/**
 * The ports of one Marathon task: what the app declares, which host ports placement is asked
 * for, and which host port each declared port ends up with. The request and the mapping back
 * must agree on the order (port definitions, or bridge port mappings, in the app's order), so
 * both live here.
 */

/** One port the app declares: a port definition (host network) or a port mapping (bridge). */
export interface DeclaredPort {
  /**
   * The port the app asks for, which Marathon names `PORT_<requested>`: a definition's port
   * (its service port, or its host port with requirePorts), or a mapping's container port.
   * 0 when it asks for none: a mapping's container port is then its host port.
   */
  requested: number;
  /** The host port to hold: 0 for any free one. */
  hostPort: number;
  name?: string | undefined;
  protocol: "tcp" | "udp" | "udp,tcp";
}

/**
 * The app's service ports (Marathon's cluster-wide ports for load balancers), in declaration
 * order: those of its port definitions, or of its port mappings on a bridge network.
 */
export function servicePorts(app: App): number[] {
  return appNetwork(app) === "BRIDGE" ? (app.container?.portMappings ?? []).map((m) => m.servicePort) : app.portDefinitions.map((d) => d.port);
}

/** The app with its service ports set, in the order `servicePorts` gives them. */
export function withServicePortsSet(app: App, ports: readonly number[]): App {
  if (appNetwork(app) === "BRIDGE" && app.container) {
    return {
      ...app,
      container: { ...app.container, portMappings: (app.container.portMappings ?? []).map((m, i) => ({ ...m, servicePort: ports[i] ?? m.servicePort })) },
    };
  }
  return { ...app, portDefinitions: app.portDefinitions.map((d, i) => ({ ...d, port: ports[i] ?? d.port })) };
}

/** The app's ports in declaration order. Validation allows port definitions or port mappings, never both. */
export function declaredPorts(app: App): DeclaredPort[] {
  if (appNetwork(app) === "BRIDGE") {
    return (app.container?.portMappings ?? []).map((m) => ({ requested: m.containerPort, hostPort: m.hostPort, name: m.name, protocol: m.protocol }));
  }
  return app.portDefinitions.map((d) => ({ requested: d.port, hostPort: app.requirePorts ? d.port : 0, name: d.name, protocol: d.protocol }));
}

/**
 * Which requested host port each declared port uses. A fixed host port declared twice (one
 * mapping for tcp, one for udp) is one reservation: placement must not be asked for it twice,
 * since one host cannot hand out the same port twice.
 */
function reservations(ports: readonly DeclaredPort[]): { requested: number[]; slots: number[] } {
  const requested: number[] = [];
  const slots = ports.map(({ hostPort }) => {
    const shared = hostPort === 0 ? -1 : requested.indexOf(hostPort);
    return shared >= 0 ? shared : requested.push(hostPort) - 1;
  });
  return { requested, slots };
}

/** The host ports one instance asks placement for (0 = any free port), in placement's request order. */
export function hostPortRequest(app: App): number[] {
  return reservations(declaredPorts(app)).requested;
}

/** The host port of each declared port, given the ports placement assigned for `hostPortRequest(app)`. */
export function taskHostPorts(app: App, assigned: readonly number[]): number[] {
  return reservations(declaredPorts(app)).slots.map((slot) => assigned[slot] ?? 0);
}
