import { describe, expect, it } from "vitest";
import { type App, parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { launchRequest } from "../../control/cluster/frameworks/marathon/demand.ts";
import { taskLaunch } from "../../control/cluster/frameworks/marathon/task-launch.ts";
import { hostPortRequest, taskHostPorts } from "../../control/cluster/frameworks/marathon/task-ports.ts";
import { TaskLaunch } from "../../protocol/messages.ts";

/** The launch frame of a Marathon task: host ports, Marathon's port variables, and the Docker container. */

function app(json: Record<string, unknown>): App {
  const result = parseAppDefinition({ id: "/web", cpus: 0.5, mem: 64, ...json });
  if (!result.ok) throw new Error(JSON.stringify(result.details));
  return result.app;
}

/** Places like the allocator would: dynamic ports from 31000 up, fixed ones as asked. Returns the frame, checked against the protocol. */
function launched(a: App): TaskLaunch {
  let next = 31000;
  const assigned = hostPortRequest(a).map((p) => (p === 0 ? next++ : p));
  const frame = taskLaunch(a, "2026-01-01T00:00:00.000Z", "web.instance-1._app.1", "node-1", taskHostPorts(a, assigned));
  return TaskLaunch.parse(JSON.parse(JSON.stringify(frame)));
}

const bridge = (portMappings: unknown[], docker: Record<string, unknown> = {}) =>
  app({ networks: [{ mode: "container/bridge" }], container: { type: "DOCKER", docker: { image: "nginx:1.27", ...docker }, portMappings } });

describe("bridge networking", () => {
  const web = bridge([
    { containerPort: 80, name: "http" },
    { containerPort: 0, protocol: "udp" },
    { containerPort: 53, hostPort: 31053, protocol: "udp,tcp", name: "dns" },
  ]);

  it("asks placement for one host port per mapping, fixed ones as given, in mapping order", () => {
    expect(hostPortRequest(web)).toEqual([0, 0, 31053]);
    expect(launchRequest(web, 2)).toMatchObject({ ports: [0, 0, 31053], driver: "docker", count: 2 });
  });

  it("publishes each mapping from its host port, container port 0 becoming the host port", () => {
    const frame = launched(web);
    expect(frame.ports).toEqual([31000, 31001, 31053]);
    expect(frame.container).toEqual({
      image: "nginx:1.27",
      forcePullImage: false,
      privileged: false,
      network: "BRIDGE",
      parameters: [],
      portMappings: [
        { hostPort: 31000, containerPort: 80, protocol: "tcp" },
        { hostPort: 31001, containerPort: 31001, protocol: "udp" },
        { hostPort: 31053, containerPort: 53, protocol: "udp,tcp" },
      ],
      volumes: [],
    });
  });

  it("sets Marathon's port variables to host ports, PORT_<containerPort> and PORT_<NAME> included", () => {
    expect(launched(web).env).toMatchObject({
      PORT: "31000",
      PORTS: "31000,31001,31053",
      PORT0: "31000",
      PORT1: "31001",
      PORT2: "31053",
      PORT_80: "31000",
      PORT_31001: "31001",
      PORT_53: "31053",
      PORT_HTTP: "31000",
      PORT_DNS: "31053",
      MARATHON_APP_DOCKER_IMAGE: "nginx:1.27",
    });
  });

  it("holds one fixed host port mapped for tcp and for udp once, and gives it to both mappings", () => {
    const dns = bridge([{ containerPort: 53, hostPort: 53, protocol: "tcp" }, { containerPort: 53, hostPort: 53, protocol: "udp" }, { containerPort: 8080 }]);
    expect(hostPortRequest(dns)).toEqual([53, 0]);
    expect(taskHostPorts(dns, [53, 31000])).toEqual([53, 53, 31000]);
    const frame = launched(dns);
    expect(frame.container?.portMappings).toEqual([
      { hostPort: 53, containerPort: 53, protocol: "tcp" },
      { hostPort: 53, containerPort: 53, protocol: "udp" },
      { hostPort: 31000, containerPort: 8080, protocol: "tcp" },
    ]);
    expect(frame.env).toMatchObject({ PORT0: "53", PORT1: "53", PORT2: "31000", PORT_53: "53", PORT_8080: "31000" });
  });

  it("publishes Marathon's default mapping for a bridged container that lists none", () => {
    const frame = launched(app({ networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" } } }));
    expect(frame.container?.portMappings).toEqual([{ hostPort: 31000, containerPort: 31000, protocol: "tcp" }]);
    expect(frame.env).toMatchObject({ PORT0: "31000", PORT_31000: "31000" });
  });

  it("takes the deprecated docker.network BRIDGE and docker.portMappings the same way", () => {
    const old = app({ container: { type: "DOCKER", docker: { image: "nginx", network: "BRIDGE", portMappings: [{ containerPort: 80, hostPort: 0 }] } } });
    expect(launched(old).container).toMatchObject({ network: "BRIDGE", portMappings: [{ hostPort: 31000, containerPort: 80, protocol: "tcp" }] });
  });
});

describe("other networks and drivers", () => {
  it("runs a Docker app on the host network with its port definitions and no mappings", () => {
    const a = app({ container: { docker: { image: "nginx" } }, portDefinitions: [{ port: 10005, name: "http" }] });
    const frame = launched(a);
    expect(frame.container).toMatchObject({ network: "HOST", portMappings: [] });
    expect(frame.ports).toEqual([31000]);
    expect(frame.env).toMatchObject({ PORT0: "31000", PORT_10005: "31000", PORT_HTTP: "31000" });
    expect(launchRequest(a, 1)).toMatchObject({ ports: [0], driver: "docker" });
  });

  it("passes docker.network NONE, the docker options and host volumes through", () => {
    const a = app({
      cmd: "sleep 1",
      container: {
        docker: { image: "busybox", network: "NONE", privileged: true, forcePullImage: true, parameters: [{ key: "hostname", value: "h" }] },
        volumes: [{ containerPath: "/data", hostPath: "/srv/data", mode: "RO" }],
      },
    });
    expect(launched(a)).toMatchObject({
      command: { shell: "sleep 1" },
      container: {
        image: "busybox",
        network: "NONE",
        privileged: true,
        forcePullImage: true,
        parameters: [{ key: "hostname", value: "h" }],
        volumes: [{ containerPath: "/data", hostPath: "/srv/data", mode: "RO" }],
      },
    });
  });

  it("launches an app without Docker under the exec driver, with no container", () => {
    const a = app({ cmd: "run", container: { type: "MESOS" } });
    expect(launched(a).container).toBeUndefined();
    expect(launchRequest(a, 1).driver).toBe("exec");
    expect(launchRequest(app({ cmd: "run" }), 1).driver).toBe("exec");
  });
});

describe("health and readiness checks in the launch frame", () => {
  it("resolves portIndex to the task's host port, folds MESOS_* protocols, and turns seconds into ms", () => {
    const web = app({
      cmd: "serve",
      portDefinitions: [{ name: "http" }, { name: "admin" }],
      healthChecks: [
        { protocol: "MESOS_HTTP", path: "/health", portIndex: 1, intervalSeconds: 2, timeoutSeconds: 1, delaySeconds: 3 },
        { protocol: "HTTPS", ignoreHttp1xx: true },
        { protocol: "TCP", port: 8080, ipProtocol: "IPv6" },
        { protocol: "COMMAND", command: { value: "test -f ready" } },
      ],
      readinessChecks: [{ name: "warm", portName: "admin", path: "/ready", httpStatusCodesForReady: [200, 204], preserveLastResponse: true }],
    });
    const frame = launched(web);
    expect(frame.ports).toEqual([31000, 31001]);
    expect(frame.healthChecks).toEqual([
      { protocol: "HTTP", port: 31001, path: "/health", ignoreHttp1xx: false, ipProtocol: "IPv4", intervalMs: 2000, timeoutMs: 1000, delayMs: 3000 },
      { protocol: "HTTPS", port: 31000, path: "/", ignoreHttp1xx: true, ipProtocol: "IPv4", intervalMs: 60_000, timeoutMs: 20_000, delayMs: 0 },
      { protocol: "TCP", port: 8080, ipProtocol: "IPv6", intervalMs: 60_000, timeoutMs: 20_000, delayMs: 0 },
      { protocol: "COMMAND", command: "test -f ready", intervalMs: 60_000, timeoutMs: 20_000, delayMs: 15_000 },
    ]);
    expect(frame.readinessChecks).toEqual([
      {
        name: "warm",
        protocol: "HTTP",
        port: 31001,
        path: "/ready",
        intervalMs: 30_000,
        timeoutMs: 10_000,
        httpStatusCodesForReady: [200, 204],
        preserveLastResponse: true,
      },
    ]);
  });

  it("on a bridge, checks probe the mapping's published host port", () => {
    const web = bridge([{ containerPort: 80, name: "http" }], {});
    const checked = app({ ...web, healthChecks: [{ protocol: "HTTP", portIndex: 0 }] });
    expect(launched(checked).healthChecks?.[0]).toMatchObject({ protocol: "HTTP", port: 31000 });
  });

  it("an app without checks sends none, so old agents and small frames are unaffected", () => {
    const frame = launched(app({ cmd: "serve" }));
    expect(frame.healthChecks).toBeUndefined();
    expect(frame.readinessChecks).toBeUndefined();
  });
});
