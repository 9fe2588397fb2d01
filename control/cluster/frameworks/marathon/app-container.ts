import { z } from "zod";
import { Labels, NetworkProtocol, Port, PortName, duplicateNames, type Issue } from "./app-fields.ts";
import { imageProblem } from "./docker-image.ts";

/**
 * `appContainer.Container` (reference §1.2) as DCX runs it: a Docker container (the agent's
 * docker driver) or no image at all (the exec driver, a process on the host). What Marathon
 * accepts but no DCX agent could run (UCR images, persistent or external volumes, container
 * networks) is refused here with the field's path, rather than launched to fail or dropped.
 *
 * Invariant, as in `app-fields.ts`: the output parses back to itself.
 */

const PortMapping = z.strictObject({
  /** 0 means "the host port this instance gets", resolved when the task is launched. */
  containerPort: Port.default(0),
  /** 0 asks for any free host port. Bridge networking maps every mapping to a host port. */
  hostPort: Port.default(0),
  servicePort: Port.default(0),
  protocol: NetworkProtocol.default("tcp"),
  name: PortName.optional(),
  labels: Labels.optional(),
});
export type PortMapping = z.output<typeof PortMapping>;

const Image = z.string().superRefine((image, ctx) => {
  const problem = imageProblem(image);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

const DockerContainer = z.strictObject({
  image: Image,
  forcePullImage: z.boolean().default(false),
  privileged: z.boolean().default(false),
  parameters: z.array(z.strictObject({ key: z.string().min(1), value: z.string() })).default([]),
  /** Deprecated in favour of the app's `networks`; USER is accepted by the schema only to be refused by name. */
  network: z.enum(["BRIDGE", "HOST", "NONE", "USER"]).optional(),
  /** Deprecated place for `container.portMappings`, still used by Marathon's own examples; moved there. */
  portMappings: z.array(PortMapping).optional(),
});

const VolumeFields = z.strictObject({
  containerPath: z.string().min(1),
  hostPath: z.string().min(1).optional(),
  mode: z.enum(["RO", "RW"]),
  // Marathon's persistent and external volumes: known here so they are refused by name, not as unknown keys.
  persistent: z.unknown().optional(),
  external: z.unknown().optional(),
});

function volumeIssues(v: z.output<typeof VolumeFields>): Issue[] {
  const instead = "DCX mounts host paths only: give hostPath";
  if (v.persistent !== undefined) return [{ path: [], message: `persistent volumes are not supported (DCX has no resident tasks); ${instead}` }];
  if (v.external !== undefined) return [{ path: [], message: `external volumes are not supported; ${instead}` }];
  const issues: Issue[] = [];
  if (v.hostPath === undefined) issues.push({ path: ["hostPath"], message: `is required: ${instead} (persistent and external volumes are not supported)` });
  else if (!v.hostPath.startsWith("/")) issues.push({ path: ["hostPath"], message: "must be an absolute path on the agent" });
  // Docker refuses a relative mount target when the container is created.
  if (!v.containerPath.startsWith("/")) issues.push({ path: ["containerPath"], message: "must be an absolute path in the container" });
  return issues;
}

/** A host-path volume (`DockerVolume`): the only kind an agent can mount. */
const Volume = VolumeFields.transform((v, ctx) => {
  const issues = volumeIssues(v);
  for (const issue of issues) ctx.addIssue({ code: "custom", ...issue });
  if (issues.length > 0 || v.hostPath === undefined) return z.NEVER;
  return { containerPath: v.containerPath, hostPath: v.hostPath, mode: v.mode };
});

const ContainerFields = z.strictObject({
  type: z.enum(["MESOS", "DOCKER"]).optional(),
  docker: DockerContainer.optional(),
  portMappings: z.array(PortMapping).optional(),
  volumes: z.array(Volume).default([]),
});
type ContainerFields = z.output<typeof ContainerFields>;

/** The port mappings a container gives, and where, since Marathon still reads the deprecated place. */
function givenPortMappings(c: ContainerFields): { path: string[]; mappings: PortMapping[] } | undefined {
  if (c.portMappings !== undefined) return { path: ["portMappings"], mappings: c.portMappings };
  if (c.docker?.portMappings !== undefined) return { path: ["docker", "portMappings"], mappings: c.docker.portMappings };
  return undefined;
}

/**
 * Mappings that bind a port and protocol an earlier mapping binds: on the host (hostPort), or
 * in the container (containerPort, where 0 stands for a fixed hostPort), which would also make
 * `PORT_<containerPort>` ambiguous. One issue per mapping, the host side first.
 */
function portClashes(mappings: PortMapping[], at: string[]): Issue[] {
  const seen = { hostPort: new Map<string, number>(), containerPort: new Map<string, number>() };
  const issues: Issue[] = [];
  mappings.forEach((m, index) => {
    const bound = { hostPort: m.hostPort, containerPort: m.containerPort || m.hostPort };
    for (const side of ["hostPort", "containerPort"] as const) {
      const clash = claim(seen[side], bound[side], m.protocol, index);
      if (clash === undefined) continue;
      const note = side === "containerPort" && m.containerPort === 0 ? " (containerPort 0 means the same as hostPort)" : "";
      const where = side === "hostPort" ? "host" : "container";
      issues.push({ path: [...at, index, side], message: `${where} port ${clash.port} is also mapped at index ${clash.first}${note}` });
      return;
    }
  });
  return issues;
}

/** Records `port` for each protocol of `protocols`; the first one already taken, if any. */
function claim(taken: Map<string, number>, port: number, protocols: string, index: number): { port: string; first: number } | undefined {
  if (port === 0) return undefined;
  for (const protocol of protocols.split(",")) {
    const key = `${port}/${protocol}`;
    const first = taken.get(key);
    if (first !== undefined) return { port: key, first };
    taken.set(key, index);
  }
  return undefined;
}

function containerIssues(c: ContainerFields): Issue[] {
  const issues: Issue[] = [];
  const type = containerType(c);
  if (c.type === "DOCKER" && c.docker === undefined) {
    issues.push({ path: ["docker", "image"], message: "is required for container type DOCKER" });
  }
  if (type === "MESOS" && c.docker !== undefined) {
    issues.push({
      path: ["type"],
      message: "MESOS runs no images in DCX (no Mesos containerizer): use type DOCKER to run docker.image, or drop docker to run cmd on the host",
    });
  }
  if (c.docker?.network === "USER") {
    issues.push({ path: ["docker", "network"], message: "USER (container networks) is not supported: use BRIDGE or HOST" });
  }
  if (type !== "DOCKER" && c.volumes.length > 0) {
    issues.push({ path: ["volumes"], message: "are only mounted into Docker containers (type DOCKER); tasks without one see the host's filesystem" });
  }
  if (c.portMappings !== undefined && c.docker?.portMappings !== undefined) {
    issues.push({ path: ["docker", "portMappings"], message: "may not be combined with container.portMappings, which replaces it" });
  }
  const given = givenPortMappings(c);
  if (given === undefined) return issues;
  return [...issues, ...duplicateNames(given.mappings, given.path), ...portClashes(given.mappings, given.path)];
}

/** RAML's default is DOCKER when a docker image is given, MESOS otherwise, so a bare `{volumes}` stays Mesos. */
function containerType(c: ContainerFields): "MESOS" | "DOCKER" {
  return c.type ?? (c.docker === undefined ? "MESOS" : "DOCKER");
}

function normalizeContainer(c: ContainerFields) {
  const type = containerType(c);
  const mappings = givenPortMappings(c)?.mappings;
  const docker = c.docker === undefined ? undefined : withoutPortMappings(c.docker);
  const base = docker === undefined ? { ...c, type } : { ...c, type, docker };
  return mappings === undefined ? base : { ...base, portMappings: mappings };
}

function withoutPortMappings<T extends { portMappings?: unknown }>(docker: T): Omit<T, "portMappings"> {
  const { portMappings: _moved, ...rest } = docker;
  return rest;
}

/** `appContainer.Container`, with `type` filled in and the deprecated `docker.portMappings` moved. */
export const Container = ContainerFields.superRefine((c, ctx) => {
  for (const issue of containerIssues(c)) ctx.addIssue({ code: "custom", ...issue });
}).transform(normalizeContainer);
export type Container = z.output<typeof Container>;

/** The single mapping Marathon gives a bridged container that lists none. */
export function defaultPortMapping(): PortMapping {
  return { containerPort: 0, hostPort: 0, servicePort: 0, protocol: "tcp" };
}
