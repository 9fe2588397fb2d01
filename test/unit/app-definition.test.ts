import { describe, expect, it } from "vitest";
import {
  AppPatch,
  READ_ONLY_FIELDS,
  appConstraints,
  appHostname,
  appIdSegments,
  marathonTaskIdPrefix,
  mergeAppPatch,
  normalizeAppId,
} from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { expectRoundTrip, valid } from "./app-fixture.ts";
import { hostPortRequest } from "../../control/cluster/frameworks/marathon/task-ports.ts";

const BASE = { id: "/web", cmd: "run" };
/** A Docker app on the bridge with the given port mappings. */
const bridged = (portMappings: unknown[]) => ({ ...BASE, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" }, portMappings } });

describe("defaults", () => {
  it("fills in every Marathon default for a minimal {id, cmd} app", () => {
    expect(valid({ id: "web", cmd: "sleep 100" })).toEqual({
      id: "/web",
      cmd: "sleep 100",
      cpus: 1,
      mem: 128,
      disk: 0,
      gpus: 0,
      instances: 1,
      env: {},
      labels: {},
      portDefinitions: [{ port: 0, protocol: "tcp" }],
      requirePorts: false,
      constraints: [],
      healthChecks: [],
      readinessChecks: [],
      backoffSeconds: 1,
      backoffFactor: 1.15,
      maxLaunchDelaySeconds: 300,
      killSelection: "YOUNGEST_FIRST",
      unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 },
    });
  });

  it("gives each app its own default objects", () => {
    const a = valid(BASE);
    const b = valid(BASE);
    a.env["X"] = "1";
    a.portDefinitions.push({ port: 80, protocol: "tcp" });
    a.upgradeStrategy.minimumHealthCapacity = 0;
    expect(b.env).toEqual({});
    expect(b.portDefinitions).toEqual([{ port: 0, protocol: "tcp" }]);
    expect(b.upgradeStrategy.minimumHealthCapacity).toBe(1);
  });

  it("treats an empty args array as absent, as Marathon does", () => {
    const app = valid({ ...BASE, args: [] });
    expect(app.cmd).toBe("run");
    expect(app).not.toHaveProperty("args");
  });

  it("means no ports when portDefinitions is []", () => {
    expect(valid({ ...BASE, portDefinitions: [] }).portDefinitions).toEqual([]);
  });

  it("fills in health check defaults and probes the first port", () => {
    const app = valid({ ...BASE, healthChecks: [{}, { protocol: "COMMAND", command: { value: "true" } }, { protocol: "TCP", port: 8080 }] });
    expect(app.healthChecks[0]).toEqual({
      protocol: "HTTP",
      portIndex: 0,
      gracePeriodSeconds: 300,
      intervalSeconds: 60,
      timeoutSeconds: 20,
      maxConsecutiveFailures: 3,
      delaySeconds: 15,
      ignoreHttp1xx: false,
      ipProtocol: "IPv4",
    });
    expect(app.healthChecks[1]?.portIndex).toBeUndefined();
    expect(app.healthChecks[2]).toMatchObject({ protocol: "TCP", port: 8080 });
    expect(app.healthChecks[2]?.portIndex).toBeUndefined();
  });

  it("chooses the container type from the presence of a docker image", () => {
    expect(valid({ ...BASE, container: { docker: { image: "nginx" } } }).container?.type).toBe("DOCKER");
    expect(valid({ ...BASE, container: { volumes: [] } }).container?.type).toBe("MESOS");
    expect(valid({ ...BASE, container: { docker: { image: "nginx" } } }).container?.docker).toEqual({
      image: "nginx",
      forcePullImage: false,
      privileged: false,
      parameters: [],
    });
  });
});

describe("Marathon's own examples", () => {
  it("accepts basic-0 from the Marathon docs and round-trips it", () => {
    const app = valid({
      id: "/basic-0",
      cmd: "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
      cpus: 0.1,
      mem: 10.0,
      instances: 1,
    });
    expect(app).toMatchObject({ id: "/basic-0", cpus: 0.1, mem: 10, instances: 1, disk: 0 });
    expect(app.cmd).toBe("while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done");
    expectRoundTrip(app);
  });

  it("accepts basic-3 (Docker, bridge, docker.portMappings) with a health check from health-checks.md", () => {
    const app = valid({
      id: "basic-3",
      cmd: "python3 -m http.server 8080",
      cpus: 0.5,
      mem: 32.0,
      container: {
        type: "DOCKER",
        docker: { image: "python:3", network: "BRIDGE", portMappings: [{ containerPort: 8080, hostPort: 0 }] },
      },
      healthChecks: [
        {
          path: "/api/health",
          portIndex: 0,
          protocol: "HTTP",
          gracePeriodSeconds: 300,
          intervalSeconds: 60,
          timeoutSeconds: 20,
          maxConsecutiveFailures: 3,
          ignoreHttp1xx: false,
        },
      ],
    });
    expect(app.container).toEqual({
      type: "DOCKER",
      docker: { image: "python:3", network: "BRIDGE", forcePullImage: false, privileged: false, parameters: [] },
      portMappings: [{ containerPort: 8080, hostPort: 0, servicePort: 0, protocol: "tcp" }],
      volumes: [],
    });
    expect(app.portDefinitions).toEqual([]);
    expect(app.healthChecks[0]).toMatchObject({ path: "/api/health", portIndex: 0, delaySeconds: 15 });
    expectRoundTrip(app);
  });

  it("accepts the current basic-3 (networks + container.portMappings), keeping networks as given", () => {
    const app = valid({
      id: "basic-3",
      cmd: "python3 -m http.server 8080",
      cpus: 0.5,
      mem: 32.0,
      networks: [{ mode: "container/bridge" }],
      container: { type: "DOCKER", docker: { image: "python:3" }, portMappings: [{ containerPort: 8080, hostPort: 0 }] },
    });
    expect(app["networks"]).toEqual([{ mode: "container/bridge" }]);
    expect(app.portDefinitions).toEqual([]);
    expect(hostPortRequest(app)).toHaveLength(1);
    expectRoundTrip(app);
  });

  it("runs a Docker image's own command when neither cmd nor args is given", () => {
    const app = valid({ id: "/nginx", container: { type: "DOCKER", docker: { image: "nginx:1.27" } } });
    expect(app.cmd).toBeUndefined();
    expect(app.args).toBeUndefined();
    expectRoundTrip(app);
  });
});

describe("fields DCX does not model", () => {
  it("keeps unknown top-level fields as given", () => {
    const extras = {
      fetch: [{ uri: "https://example.com/app.tgz", extract: true }],
      dependencies: ["/db"],
      vendorThing: { nested: [1, 2] },
    };
    const app = valid({ ...BASE, ...extras });
    expect(app).toMatchObject(extras);
    expectRoundTrip(app);
  });

  it("drops read-only fields, so GET → edit → PUT round-trips", () => {
    const stored = valid({ ...BASE, instances: 3 });
    const fromGet = {
      ...stored,
      version: "2015-09-29T15:59:51.164Z",
      versionInfo: { lastScalingAt: "2015-09-29T15:59:51.164Z", lastConfigChangeAt: "2015-09-29T15:59:51.164Z" },
      tasksRunning: 3,
      tasksStaged: 0,
      tasksHealthy: 0,
      tasksUnhealthy: 0,
      deployments: [{ id: "5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43" }],
      tasks: [{ id: "web.1", appId: "/web" }],
      lastTaskFailure: { appId: "/web", message: "boom" },
    };
    const edited = valid({ ...fromGet, cpus: 0.5 });
    expect(edited).toEqual({ ...stored, cpus: 0.5 });
    for (const field of READ_ONLY_FIELDS) expect(edited).not.toHaveProperty(field);
  });
});

describe("app id helpers", () => {
  it.each([
    ["web", "/web"],
    ["/web", "/web"],
    ["/shop/web/", "/shop/web"],
    ["shop/web", "/shop/web"],
    ["/a.b/c-d/e1", "/a.b/c-d/e1"],
  ])("normalizes %s to %s", (raw, id) => {
    expect(normalizeAppId(raw)).toBe(id);
    expect(normalizeAppId(id)).toBe(id);
  });

  it("rejects invalid ids with the reason", () => {
    expect(() => normalizeAppId("/Shop")).toThrow(/app id '\/Shop' segment 'Shop' is invalid/);
    expect(() => normalizeAppId("/a//b")).toThrow(/empty segment/);
    expect(() => normalizeAppId("")).toThrow(/root group/);
  });

  it("derives segments, the Marathon task id prefix and the hostname", () => {
    expect(appIdSegments("/shop/web")).toEqual(["shop", "web"]);
    expect(marathonTaskIdPrefix("/shop/web")).toBe("shop_web");
    expect(marathonTaskIdPrefix("web")).toBe("web");
    expect(appHostname("/shop/web")).toBe("web.shop");
    expect(appHostname("/a/b/c")).toBe("c.b.a");
  });
});

describe("constraints", () => {
  it("accepts every operator in its valid forms and normalizes @hostname", () => {
    const app = valid({
      ...BASE,
      constraints: [
        ["@hostname", "UNIQUE"],
        ["rack", "CLUSTER"],
        ["rack", "CLUSTER", "r1"],
        ["zone", "GROUP_BY"],
        ["zone", "GROUP_BY", "3"],
        ["rack", "LIKE", "r[0-9]+"],
        ["rack", "UNLIKE", "r9"],
        ["hostname", "MAX_PER", "2"],
        ["os", "IS", "linux"],
      ],
    });
    expect(app.constraints[0]).toEqual(["hostname", "UNIQUE"]);
    expect(appConstraints(app)).toEqual([
      { field: "hostname", operator: "UNIQUE" },
      { field: "rack", operator: "CLUSTER" },
      { field: "rack", operator: "CLUSTER", value: "r1" },
      { field: "zone", operator: "GROUP_BY" },
      { field: "zone", operator: "GROUP_BY", value: "3" },
      { field: "rack", operator: "LIKE", value: "r[0-9]+" },
      { field: "rack", operator: "UNLIKE", value: "r9" },
      { field: "hostname", operator: "MAX_PER", value: "2" },
      { field: "os", operator: "IS", value: "linux" },
    ]);
    expectRoundTrip(app);
  });
});

describe("acceptedResourceRoles", () => {
  it("keeps the roles given, and leaves them out when absent (private agents only)", () => {
    expect(valid(BASE).acceptedResourceRoles).toBeUndefined();
    for (const roles of [["slave_public"], ["*"], ["slave_public", "*"]]) {
      const app = valid({ ...BASE, acceptedResourceRoles: roles });
      expect(app.acceptedResourceRoles).toEqual(roles);
      expectRoundTrip(app);
    }
  });

  it("refuses an empty list and roles no agent offers, naming the field", () => {
    const paths = (roles: unknown) => {
      const result = parseAppDefinition({ ...BASE, acceptedResourceRoles: roles });
      return result.ok ? [] : result.details.map((d) => d.path);
    };
    expect(paths([])).toEqual(["/acceptedResourceRoles"]);
    expect(paths(["public"])).toEqual(["/acceptedResourceRoles/0"]);
    expect(paths("slave_public")).toEqual(["/acceptedResourceRoles"]);
  });
});

describe("ports", () => {
  it("converts deprecated ports into port definitions", () => {
    const app = valid({ ...BASE, ports: [8080, 0] });
    expect(app.portDefinitions).toEqual([
      { port: 8080, protocol: "tcp" },
      { port: 0, protocol: "tcp" },
    ]);
    expect(app).not.toHaveProperty("ports");
    expectRoundTrip(app);
  });

  it("accepts ports alongside equal portDefinitions, as Marathon's own GET shows them", () => {
    const app = valid({ ...BASE, ports: [80], portDefinitions: [{ port: 80, name: "http" }] });
    expect(app.portDefinitions).toEqual([{ port: 80, protocol: "tcp", name: "http" }]);
  });

  it("stores both spellings of tcp+udp as udp,tcp", () => {
    const app = valid({ ...BASE, portDefinitions: [{ protocol: "tcp,udp" }, { protocol: "udp,tcp" }] });
    expect(app.portDefinitions.map((d) => d.protocol)).toEqual(["udp,tcp", "udp,tcp"]);
  });

  it("accepts duplicate zero ports and requirePorts with nonzero ports", () => {
    expect(valid({ ...BASE, portDefinitions: [{ port: 0 }, { port: 0 }] }).portDefinitions).toHaveLength(2);
    expect(valid({ ...BASE, requirePorts: true, portDefinitions: [{ port: 80 }] }).requirePorts).toBe(true);
  });

  it("gives a bridged container one default mapping and no port definitions", () => {
    const app = valid({ ...BASE, container: { docker: { image: "nginx", network: "BRIDGE" } } });
    expect(app.container?.portMappings).toEqual([{ containerPort: 0, hostPort: 0, servicePort: 0, protocol: "tcp" }]);
    expect(app.portDefinitions).toEqual([]);
    expectRoundTrip(app);
  });

  it("counts host ports per instance", () => {
    expect(hostPortRequest(valid({ ...BASE, cpus: 0.5, mem: 64, disk: 10, gpus: 1, ports: [0, 0] }))).toEqual([0, 0]);
    const dns = valid(
      bridged([{ containerPort: 53, hostPort: 53, protocol: "tcp" }, { containerPort: 53, hostPort: 53, protocol: "udp" }, { containerPort: 80 }]),
    );
    expect(dns.container?.portMappings?.[2]?.hostPort).toBe(0);
    // The fixed port mapped for tcp and udp is held once.
    expect(hostPortRequest(dns)).toEqual([53, 0]);
  });
});

describe("env", () => {
  it("accepts references to the app's secrets and keeps them", () => {
    const app = valid({ ...BASE, secrets: { db: { source: "team/db" } }, env: { DB_PASSWORD: { secret: "db" }, MODE: "prod" } });
    expect(app.env).toEqual({ DB_PASSWORD: { secret: "db" }, MODE: "prod" });
    expect(app.secrets).toEqual({ db: { source: "team/db" } });
    expectRoundTrip(app);
  });

  it("refuses a reference to a secret the app does not declare, and a source that is not a store path", () => {
    const issues = (json: unknown) => {
      const r = parseAppDefinition(json);
      return r.ok ? [] : r.details.map((d) => `${d.path}: ${d.errors.join()}`);
    };
    expect(issues({ ...BASE, env: { DB_PASSWORD: { secret: "db" } } })).toEqual([
      expect.stringContaining("/env/DB_PASSWORD: references an undefined secret named 'db'"),
    ]);
    expect(issues({ ...BASE, secrets: { db: { source: "../etc/passwd" } } })).toEqual([
      expect.stringContaining("/secrets/db/source: must be segments of letters"),
    ]);
    expect(issues({ ...BASE, secrets: { db: { path: "x" } } })).toContainEqual(expect.stringContaining('/secrets/db: Unrecognized key: "path"'));
  });
});

describe("mergeAppPatch", () => {
  const stored = valid({ id: "/web", cmd: "run", mem: 512, instances: 2, labels: { tier: "front" } });

  it("changes only the patched field", () => {
    const merged = mergeAppPatch(stored, { cpus: 2 });
    expect(merged).toEqual({ ok: true, app: { ...stored, cpus: 2 } });
  });

  it("fills in no defaults in the patch itself", () => {
    expect(AppPatch.parse({ cpus: 2 })).toEqual({ cpus: 2 });
  });

  it("reports an invalid patched field at its path", () => {
    expect(mergeAppPatch(stored, { mem: -1 })).toEqual({ ok: false, details: [{ path: "/mem", errors: [expect.stringMatching(/>=0/)] }] });
    const check = mergeAppPatch(stored, { healthChecks: [{ protocol: "COMMAND" }] });
    expect(check.ok ? [] : check.details.map((d) => d.path)).toEqual(["/healthChecks/0/command"]);
  });

  it("checks rules across fields on the merged app", () => {
    const merged = mergeAppPatch(stored, { backoffSeconds: 600 });
    expect(merged.ok ? [] : merged.details.map((d) => d.path)).toEqual(["/maxLaunchDelaySeconds"]);
  });

  it("replaces cmd with args and ports with new ports", () => {
    const merged = mergeAppPatch(stored, { args: ["serve", "--port", "80"], ports: [80] });
    expect(merged.ok).toBe(true);
    if (!merged.ok) return;
    expect(merged.app.cmd).toBeUndefined();
    expect(merged.app.args).toEqual(["serve", "--port", "80"]);
    expect(merged.app.portDefinitions).toEqual([{ port: 80, protocol: "tcp" }]);
  });

  it("replaces args with cmd", () => {
    const withArgs = valid({ id: "/web", args: ["serve"], container: { docker: { image: "app:1" } } });
    const merged = mergeAppPatch(withArgs, { cmd: "serve --verbose" });
    expect(merged.ok && merged.app.cmd).toBe("serve --verbose");
    expect(merged.ok && merged.app.args).toBeUndefined();
  });

  it("drops the host port default when the patch moves the app to bridge networking", () => {
    const merged = mergeAppPatch(stored, { container: { docker: { image: "nginx", network: "BRIDGE" } } });
    expect(merged.ok).toBe(true);
    if (!merged.ok) return;
    expect(merged.app.portDefinitions).toEqual([]);
    expect(merged.app.container?.portMappings).toHaveLength(1);
  });

  it("refuses to change the id but accepts the same id in another spelling", () => {
    expect(mergeAppPatch(stored, { id: "/other" })).toMatchObject({ ok: false, details: [{ path: "/id" }] });
    expect(mergeAppPatch(stored, { id: "web", instances: 5 })).toMatchObject({ ok: true, app: { id: "/web", instances: 5 } });
  });

  it("drops read-only fields and keeps unknown ones from a patch", () => {
    const merged = mergeAppPatch(stored, { version: "2020-01-01T00:00:00Z", tasksRunning: 2, vendorThing: 1 });
    expect(merged).toEqual({ ok: true, app: { ...stored, vendorThing: 1 } });
  });
});
