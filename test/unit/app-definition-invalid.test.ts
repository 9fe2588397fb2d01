import { describe, expect, it } from "vitest";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import type { FieldError } from "../../protocol/messages.ts";

/** Bad app definitions: each must answer 422 with Marathon's details at exactly the field's path. */

function invalid(json: unknown): FieldError[] {
  const result = parseAppDefinition(json);
  if (result.ok) throw new Error(`expected a 422, got ${JSON.stringify(result.app)}`);
  return result.details;
}

const BASE = { id: "/web", cmd: "run" };
/** An app running `image` in Docker on the host network. */
const dockerImage = (image: string) => ({ ...BASE, container: { docker: { image } } });
/** A Docker app on the bridge with the given port mappings. */
const bridged = (portMappings: unknown[]) => ({ ...BASE, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" }, portMappings } });
/** A Docker app with the given volumes. */
const withVolumes = (volumes: unknown[]) => ({ ...BASE, container: { docker: { image: "nginx" }, volumes } });

type InvalidCase = [name: string, json: unknown, paths: string[], message: RegExp];

const INVALID: InvalidCase[] = [
  ["id with uppercase", { ...BASE, id: "/Upper" }, ["/id"], /segment 'Upper' is invalid/],
  ["id segment starting with -", { ...BASE, id: "/-x" }, ["/id"], /segment '-x'/],
  ["id segment ending with -", { ...BASE, id: "/x-" }, ["/id"], /segment 'x-'/],
  ["id with an empty segment", { ...BASE, id: "/a//b" }, ["/id"], /empty segment/],
  ["id with a space", { ...BASE, id: "/my app" }, ["/id"], /segment 'my app'/],
  ["id with ..", { ...BASE, id: "/a/../b" }, ["/id"], /'\.\.'/],
  ["id that is the root", { ...BASE, id: "/" }, ["/id"], /root group/],
  ["id ending in a reserved word", { ...BASE, id: "/web/tasks" }, ["/id"], /reserved/],
  ["id missing", { cmd: "run" }, ["/id"], /expected string/],
  ["id too long for a task id", { ...BASE, id: `/${"a".repeat(50)}/`.repeat(8) + "b" }, ["/id"], /characters long; at most 400/],
  ["id with a part longer than a DNS label", { ...BASE, id: `/shop/${"w".repeat(64)}` }, ["/id"], /part of 64 characters; at most 63, as a DNS label/],
  ["negative cpus", { ...BASE, cpus: -1 }, ["/cpus"], />=0\.001/],
  ["zero cpus", { ...BASE, cpus: 0 }, ["/cpus"], />=0\.001/],
  ["negative mem", { ...BASE, mem: -1 }, ["/mem"], />=0/],
  ["negative disk", { ...BASE, disk: -5 }, ["/disk"], />=0/],
  ["fractional gpus", { ...BASE, gpus: 1.5 }, ["/gpus"], /int/],
  ["fractional instances", { ...BASE, instances: 1.5 }, ["/instances"], /int/],
  ["negative instances", { ...BASE, instances: -1 }, ["/instances"], />=0/],
  ["cmd with args", { ...BASE, args: ["-v"] }, ["/cmd"], /may not be combined with args/],
  ["neither cmd nor args nor image", { id: "/web" }, ["/cmd"], /is required/],
  ["empty cmd", { ...BASE, cmd: "" }, ["/cmd"], />=1 characters/],
  ["unknown constraint operator", { ...BASE, constraints: [["hostname", "UNIQUELY"]] }, ["/constraints/0"], /unknown operator 'UNIQUELY'/],
  ["lowercase constraint operator", { ...BASE, constraints: [["hostname", "unique"]] }, ["/constraints/0"], /\(uppercase\)/],
  ["UNIQUE with a value", { ...BASE, constraints: [["hostname", "UNIQUE", "x"]] }, ["/constraints/0"], /UNIQUE takes no value/],
  [
    "LIKE with a bad regex",
    {
      ...BASE,
      constraints: [
        ["rack", "LIKE", "r.*"],
        ["rack", "LIKE", "(r"],
      ],
    },
    ["/constraints/1"],
    /not a valid regular expression/,
  ],
  ["UNLIKE without a value", { ...BASE, constraints: [["rack", "UNLIKE"]] }, ["/constraints/0"], /regular expression value/],
  ["MAX_PER 0", { ...BASE, constraints: [["rack", "MAX_PER", "0"]] }, ["/constraints/0"], /positive integer/],
  ["MAX_PER without a value", { ...BASE, constraints: [["rack", "MAX_PER"]] }, ["/constraints/0"], /positive integer/],
  ["GROUP_BY with a word", { ...BASE, constraints: [["rack", "GROUP_BY", "many"]] }, ["/constraints/0"], /positive integer/],
  ["IS without a value", { ...BASE, constraints: [["os", "IS"]] }, ["/constraints/0"], /IS needs a value/],
  ["constraint with one field", { ...BASE, constraints: [["hostname"]] }, ["/constraints/0"], /2 or 3 fields/],
  ["constraint value that is a number", { ...BASE, constraints: [["rack", "MAX_PER", 2]] }, ["/constraints/0/2"], /expected string/],
  ["port clash in portDefinitions", { ...BASE, portDefinitions: [{ port: 80 }, { port: 81 }, { port: 80 }] }, ["/portDefinitions/2/port"], /unique.*index 0/],
  ["port clash in deprecated ports", { ...BASE, ports: [8080, 8080] }, ["/ports/1"], /unique/],
  ["duplicate port names", { ...BASE, portDefinitions: [{ name: "http" }, { name: "http" }] }, ["/portDefinitions/1/name"], /names must be unique/],
  ["requirePorts with port 0", { ...BASE, requirePorts: true, portDefinitions: [{ port: 0 }] }, ["/portDefinitions/0/port"], /nonzero/],
  ["requirePorts with the default port", { ...BASE, requirePorts: true }, ["/requirePorts"], /nonzero/],
  ["ports plus different portDefinitions", { ...BASE, ports: [80], portDefinitions: [{ port: 81 }] }, ["/ports"], /may not be combined/],
  ["port above 65535", { ...BASE, portDefinitions: [{ port: 70000 }] }, ["/portDefinitions/0/port"], /<=65535/],
  ["unknown port protocol", { ...BASE, portDefinitions: [{ protocol: "icmp" }] }, ["/portDefinitions/0/protocol"], /tcp/],
  ["uppercase port name", { ...BASE, portDefinitions: [{ name: "HTTP" }] }, ["/portDefinitions/0/name"], /lowercase/],
  ["backoffFactor 0.5", { ...BASE, backoffFactor: 0.5 }, ["/backoffFactor"], />=1/],
  ["negative backoffSeconds", { ...BASE, backoffSeconds: -1 }, ["/backoffSeconds"], />=0/],
  [
    "maxLaunchDelaySeconds below backoffSeconds",
    { ...BASE, backoffSeconds: 10, maxLaunchDelaySeconds: 5 },
    ["/maxLaunchDelaySeconds"],
    /at least backoffSeconds \(10\)/,
  ],
  ["bogus killSelection", { ...BASE, killSelection: "RANDOM" }, ["/killSelection"], /YOUNGEST_FIRST/],
  [
    "unreachableStrategy inactive > expunge",
    { ...BASE, unreachableStrategy: { inactiveAfterSeconds: 600, expungeAfterSeconds: 60 } },
    ["/unreachableStrategy/inactiveAfterSeconds"],
    /expungeAfterSeconds \(60\)/,
  ],
  ["unreachableStrategy as an unknown word", { ...BASE, unreachableStrategy: "enabled" }, ["/unreachableStrategy"], /"disabled"/],
  ["upgradeStrategy capacity 1.5", { ...BASE, upgradeStrategy: { minimumHealthCapacity: 1.5 } }, ["/upgradeStrategy/minimumHealthCapacity"], /<=1/],
  ["negative maximumOverCapacity", { ...BASE, upgradeStrategy: { maximumOverCapacity: -0.1 } }, ["/upgradeStrategy/maximumOverCapacity"], />=0/],
  [
    "health check timeout above interval",
    { ...BASE, healthChecks: [{ intervalSeconds: 10, timeoutSeconds: 11 }] },
    ["/healthChecks/0/timeoutSeconds"],
    /must not exceed intervalSeconds \(10\)/,
  ],
  ["health check interval 0", { ...BASE, healthChecks: [{ intervalSeconds: 0, timeoutSeconds: 1 }] }, ["/healthChecks/0/intervalSeconds"], />=1/],
  ["health check timeout 0", { ...BASE, healthChecks: [{ timeoutSeconds: 0 }] }, ["/healthChecks/0/timeoutSeconds"], />=1/],
  ["health check port 0", { ...BASE, healthChecks: [{ port: 0 }] }, ["/healthChecks/0/port"], /from 1 to 65535/],
  ["health check path without a leading /", { ...BASE, healthChecks: [{ path: "health" }] }, ["/healthChecks/0/path"], /must start with '\/'/],
  ["health check path with CR LF", { ...BASE, healthChecks: [{ path: "/h\r\nX-Injected: 1" }] }, ["/healthChecks/0/path"], /control characters/],
  [
    "health check path with a bare LF",
    { ...BASE, healthChecks: [{ protocol: "TCP" }, { path: "/h\nGET /admin" }] },
    ["/healthChecks/1/path"],
    /control characters/,
  ],
  ["health check path with a space", { ...BASE, healthChecks: [{ path: "/h HTTP/1.0" }] }, ["/healthChecks/0/path"], /spaces/],
  [
    "readiness check path with a tab",
    { ...BASE, portDefinitions: [{ port: 0, name: "http" }], readinessChecks: [{ name: "r", portName: "http", path: "/r\t" }] },
    ["/readinessChecks/0/path"],
    /control characters/,
  ],
  [
    "path on a TCP check",
    { ...BASE, healthChecks: [{ protocol: "MESOS_TCP", path: "/health" }] },
    ["/healthChecks/0/path"],
    /only used with HTTP and HTTPS checks, not MESOS_TCP/,
  ],
  ["negative gracePeriodSeconds", { ...BASE, healthChecks: [{ gracePeriodSeconds: -1 }] }, ["/healthChecks/0/gracePeriodSeconds"], />=0/],
  ["fractional maxConsecutiveFailures", { ...BASE, healthChecks: [{ maxConsecutiveFailures: 1.5 }] }, ["/healthChecks/0/maxConsecutiveFailures"], /int/],
  ["ignoreHttp1xx as a string", { ...BASE, healthChecks: [{ ignoreHttp1xx: "yes" }] }, ["/healthChecks/0/ignoreHttp1xx"], /boolean/],
  ["17 health checks", { ...BASE, healthChecks: Array.from({ length: 17 }, () => ({ protocol: "TCP" })) }, ["/healthChecks"], /<=16/],
  [
    "health check with port and portIndex",
    { ...BASE, healthChecks: [{ port: 8080, portIndex: 0 }] },
    ["/healthChecks/0/portIndex"],
    /may not be combined with port/,
  ],
  ["COMMAND check without command", { ...BASE, healthChecks: [{ protocol: "COMMAND" }] }, ["/healthChecks/0/command"], /required for protocol COMMAND/],
  ["command on an HTTP check", { ...BASE, healthChecks: [{ command: { value: "true" } }] }, ["/healthChecks/0/command"], /only used with protocol COMMAND/],
  ["health check with an unknown protocol", { ...BASE, healthChecks: [{ protocol: "GOPHER" }] }, ["/healthChecks/0/protocol"], /HTTP/],
  ["health check portIndex past the ports", { ...BASE, healthChecks: [{ portIndex: 1 }] }, ["/healthChecks/0/portIndex"], /one of the app's 1 port/],
  [
    "TCP check on an app without ports",
    { ...BASE, portDefinitions: [], healthChecks: [{ protocol: "TCP" }] },
    ["/healthChecks/0/portIndex"],
    /give port instead/,
  ],
  ["misspelt health check field", { ...BASE, healthChecks: [{ intervalSecond: 5 }] }, ["/healthChecks/0"], /intervalSecond/],
  [
    "readiness check naming no port of the app",
    { ...BASE, portDefinitions: [{ name: "http" }], readinessChecks: [{ portName: "admin" }] },
    ["/readinessChecks/0/portName"],
    /'admin', which is not one of the app's port names \(http\)/,
  ],
  ["readiness check on an app with unnamed ports", { ...BASE, readinessChecks: [{}] }, ["/readinessChecks/0/portName"], /no port of the app has a name/],
  [
    "readiness check timeout above interval",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ intervalSeconds: 5, timeoutSeconds: 6 }] },
    ["/readinessChecks/0/timeoutSeconds"],
    /must not exceed intervalSeconds \(5\)/,
  ],
  [
    "readiness check with no ready status",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ httpStatusCodesForReady: [] }] },
    ["/readinessChecks/0/httpStatusCodesForReady"],
    />=1 items/,
  ],
  [
    "readiness check ready on status 42",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ httpStatusCodesForReady: [200, 42] }] },
    ["/readinessChecks/0/httpStatusCodesForReady/1"],
    />=100/,
  ],
  [
    "readiness check with protocol TCP",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ protocol: "TCP" }] },
    ["/readinessChecks/0/protocol"],
    /HTTP/,
  ],
  [
    "two readiness checks of one name",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{}, {}] },
    ["/readinessChecks/1/name"],
    /unique: 'readinessCheck' is also at index 0/,
  ],
  [
    "readiness check with an empty name",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ name: "" }] },
    ["/readinessChecks/0/name"],
    />=1 characters/,
  ],
  [
    "misspelt readiness check field",
    { ...BASE, portDefinitions: [{ name: "http-api" }], readinessChecks: [{ intervalSecond: 5 }] },
    ["/readinessChecks/0"],
    /intervalSecond/,
  ],
  ["DOCKER without docker", { ...BASE, container: { type: "DOCKER" } }, ["/container/docker/image"], /required for container type DOCKER/],
  ["docker without image", { ...BASE, container: { type: "DOCKER", docker: { forcePullImage: true } } }, ["/container/docker/image"], /expected string/],
  [
    "portMappings on the HOST network",
    { ...BASE, container: { docker: { image: "nginx", network: "HOST" }, portMappings: [{ containerPort: 80 }] } },
    ["/container/portMappings"],
    /bridge networking.*host network/,
  ],
  [
    "portMappings without a network (host)",
    { ...BASE, container: { docker: { image: "nginx" }, portMappings: [{ containerPort: 80 }] } },
    ["/container/portMappings"],
    /bridge networking/,
  ],
  ["portMappings on host networks", { ...bridged([{ containerPort: 80 }]), networks: [{ mode: "host" }] }, ["/container/portMappings"], /bridge networking/],
  ["portMappings with portDefinitions", { ...bridged([{ containerPort: 80 }]), portDefinitions: [{ port: 0 }] }, ["/portDefinitions"], /bridge networking/],
  [
    "fixed hostPort also a portDefinition's port",
    { ...bridged([{ containerPort: 80, hostPort: 8080 }]), portDefinitions: [{ port: 8080 }] },
    ["/portDefinitions"],
    /bridge networking/,
  ],
  ["duplicate portMapping names", bridged([{ name: "web" }, { name: "web" }]), ["/container/portMappings/1/name"], /unique/],
  [
    "two mappings on one host port and protocol",
    bridged([
      { containerPort: 80, hostPort: 8080 },
      { containerPort: 81, hostPort: 8080 },
    ]),
    ["/container/portMappings/1/hostPort"],
    /host port 8080\/tcp is also mapped at index 0/,
  ],
  [
    "udp,tcp overlapping a udp mapping's host port",
    bridged([
      { containerPort: 53, hostPort: 53, protocol: "udp" },
      { containerPort: 54, hostPort: 53, protocol: "udp,tcp" },
    ]),
    ["/container/portMappings/1/hostPort"],
    /53\/udp/,
  ],
  [
    "one container port and protocol mapped twice",
    bridged([{ containerPort: 80 }, { containerPort: 80 }]),
    ["/container/portMappings/1/containerPort"],
    /container port 80\/tcp is also mapped at index 0/,
  ],
  [
    "containerPort 0 meaning a container port already mapped",
    bridged([{ containerPort: 8080 }, { hostPort: 8080 }]),
    ["/container/portMappings/1/containerPort"],
    /same as hostPort/,
  ],
  ["negative containerPort", bridged([{ containerPort: -1 }]), ["/container/portMappings/0/containerPort"], />=0/],
  ["hostPort above 65535", bridged([{ containerPort: 80, hostPort: 70000 }]), ["/container/portMappings/0/hostPort"], /<=65535/],
  ["fractional hostPort", bridged([{ containerPort: 80, hostPort: 80.5 }]), ["/container/portMappings/0/hostPort"], /int/],
  ["unknown portMapping protocol", bridged([{ containerPort: 80, protocol: "sctp" }]), ["/container/portMappings/0/protocol"], /tcp/],
  ["unknown container type", { ...BASE, container: { type: "RKT" } }, ["/container/type"], /"MESOS"\|"DOCKER"/],
  ["MESOS container with a docker image", { ...BASE, container: { type: "MESOS", docker: { image: "nginx" } } }, ["/container/type"], /use type DOCKER/],
  ["empty image", dockerImage(""), ["/container/docker/image"], /must not be empty/],
  ["image with a space", dockerImage("nginx latest"), ["/container/docker/image"], /whitespace/],
  ["image with an uppercase repository", dockerImage("library/Nginx"), ["/container/docker/image"], /'Nginx' must be lowercase/],
  ["image ending in ':'", dockerImage("nginx:"), ["/container/docker/image"], /must not end with ':'/],
  ["image tag starting with '-'", dockerImage("nginx:-rc1"), ["/container/docker/image"], /tag '-rc1'/],
  ["image digest too short", dockerImage("nginx@sha256:abc123"), ["/container/docker/image"], /64 lowercase hex/],
  ["image with an empty path component", dockerImage("registry.example.com//nginx"), ["/container/docker/image"], /empty path component/],
  [
    "docker network USER",
    { ...BASE, container: { docker: { image: "nginx", network: "USER" } } },
    ["/container/docker/network"],
    /USER \(container networks\) is not supported/,
  ],
  ["a container network", { ...bridged([]), networks: [{ mode: "container", name: "dcos" }] }, ["/networks/0/mode"], /container networks are not supported/],
  ["a network without a mode", { ...bridged([]), networks: [{ name: "dcos" }] }, ["/networks/0/mode"], /defaults to "container"/],
  [
    "networks contradicting docker.network",
    { ...BASE, networks: [{ mode: "host" }], container: { docker: { image: "nginx", network: "BRIDGE" } } },
    ["/container/docker/network"],
    /contradicts networks \(host\)/,
  ],
  ["a bridge network without Docker", { ...BASE, networks: [{ mode: "container/bridge" }] }, ["/networks/0/mode"], /needs a Docker container/],
  ["two networks", { ...bridged([]), networks: [{ mode: "host" }, { mode: "container/bridge" }] }, ["/networks"], /one network/],
  ["a host network with a name", { ...BASE, networks: [{ mode: "host", name: "h" }] }, ["/networks/0"], /names or labels/],
  [
    "a persistent volume",
    withVolumes([{ containerPath: "data", mode: "RW", persistent: { size: 100 } }]),
    ["/container/volumes/0"],
    /persistent volumes are not supported/,
  ],
  [
    "an external volume",
    withVolumes([{ containerPath: "/data", mode: "RW", external: { name: "v", provider: "dvdi" } }]),
    ["/container/volumes/0"],
    /external volumes are not supported/,
  ],
  ["a volume without hostPath", withVolumes([{ containerPath: "/data", mode: "RW" }]), ["/container/volumes/0/hostPath"], /is required/],
  [
    "a relative hostPath",
    withVolumes([{ containerPath: "/data", hostPath: "data", mode: "RW" }]),
    ["/container/volumes/0/hostPath"],
    /absolute path on the agent/,
  ],
  [
    "a relative containerPath",
    withVolumes([{ containerPath: "data", hostPath: "/srv", mode: "RW" }]),
    ["/container/volumes/0/containerPath"],
    /absolute path in the container/,
  ],
  [
    "volumes without Docker",
    { ...BASE, container: { volumes: [{ containerPath: "/data", hostPath: "/srv", mode: "RO" }] } },
    ["/container/volumes"],
    /only mounted into Docker containers/,
  ],
  [
    "portMappings in both places",
    { ...BASE, container: { docker: { image: "nginx", portMappings: [] }, portMappings: [] } },
    ["/container/docker/portMappings"],
    /may not be combined/,
  ],
  ["bad volume mode", { ...BASE, container: { volumes: [{ containerPath: "/data", hostPath: "/srv", mode: "RWX" }] } }, ["/container/volumes/0/mode"], /RO/],
  ["env value that is a number", { ...BASE, env: { WORKERS: 4 } }, ["/env/WORKERS"], /must be a string or \{"secret"/],
  ["env name with =", { ...BASE, env: { "A=B": "x" } }, ["/env/A=B"], /without '='/],
  ["labels value that is a number", { ...BASE, labels: { tier: 1 } }, ["/labels/tier"], /expected string/],
  ["empty user", { ...BASE, user: "" }, ["/user"], />=1 characters/],
  ["negative taskKillGracePeriodSeconds", { ...BASE, taskKillGracePeriodSeconds: -1 }, ["/taskKillGracePeriodSeconds"], />=0/],
  ["a body that is not an object", ["not", "an", "app"], ["/"], /expected object/],
];

describe("invalid definitions answer 422 details at the exact path", () => {
  it.each(INVALID)("%s", (_name, json, paths, message) => {
    const details = invalid(json);
    expect(details.map((d) => d.path)).toEqual(paths);
    expect(details[0]?.errors.join(" | ")).toMatch(message);
  });

  it("covers at least 30 cases", () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(30);
  });

  it("collects several issues on one field in that field's errors", () => {
    const details = invalid({ ...BASE, portDefinitions: [{ name: "X".repeat(70) }] });
    expect(details).toHaveLength(1);
    expect(details[0]?.path).toBe("/portDefinitions/0/name");
    expect(details[0]?.errors).toHaveLength(2);
  });

  it("reports problems in different fields together", () => {
    const details = invalid({ ...BASE, cpus: 0, mem: -1, killSelection: "x" });
    expect(details.map((d) => d.path)).toEqual(["/cpus", "/mem", "/killSelection"]);
  });
});
