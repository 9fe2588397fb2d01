import { describe, expect, it } from "vitest";
import {
  type App,
  AppPatch,
  READ_ONLY_FIELDS,
  appConstraints,
  appHostname,
  appIdSegments,
  appResources,
  marathonTaskIdPrefix,
  mergeAppPatch,
  normalizeAppId,
  parseAppDefinition,
} from "../../control/cluster/frameworks/marathon/app-definition.ts";
import type { FieldError } from "../../protocol/messages.ts";

function valid(json: unknown): App {
  const result = parseAppDefinition(json);
  if (!result.ok) throw new Error(`expected a valid app, got ${JSON.stringify(result.details)}`);
  return result.app;
}

function invalid(json: unknown): FieldError[] {
  const result = parseAppDefinition(json);
  if (result.ok) throw new Error(`expected a 422, got ${JSON.stringify(result.app)}`);
  return result.details;
}

/** GET → PUT: the stored app, sent back as JSON, must parse to itself. */
function expectRoundTrip(app: App): void {
  expect(valid(JSON.parse(JSON.stringify(app)))).toEqual(app);
}

const BASE = { id: "/web", cmd: "run" };

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
    expect(valid({ ...BASE, container: { type: "MESOS", docker: { image: "nginx" } } }).container?.type).toBe("MESOS");
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
    expect(appResources(app).portCount).toBe(1);
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
      acceptedResourceRoles: ["public"],
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
  ["LIKE with a bad regex", { ...BASE, constraints: [["rack", "LIKE", "r.*"], ["rack", "LIKE", "(r"]] }, ["/constraints/1"], /not a valid regular expression/],
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
  ["maxLaunchDelaySeconds below backoffSeconds", { ...BASE, backoffSeconds: 10, maxLaunchDelaySeconds: 5 }, ["/maxLaunchDelaySeconds"], /at least backoffSeconds \(10\)/],
  ["bogus killSelection", { ...BASE, killSelection: "RANDOM" }, ["/killSelection"], /YOUNGEST_FIRST/],
  ["unreachableStrategy inactive > expunge", { ...BASE, unreachableStrategy: { inactiveAfterSeconds: 600, expungeAfterSeconds: 60 } }, ["/unreachableStrategy/inactiveAfterSeconds"], /expungeAfterSeconds \(60\)/],
  ["unreachableStrategy as an unknown word", { ...BASE, unreachableStrategy: "enabled" }, ["/unreachableStrategy"], /"disabled"/],
  ["upgradeStrategy capacity 1.5", { ...BASE, upgradeStrategy: { minimumHealthCapacity: 1.5 } }, ["/upgradeStrategy/minimumHealthCapacity"], /<=1/],
  ["negative maximumOverCapacity", { ...BASE, upgradeStrategy: { maximumOverCapacity: -0.1 } }, ["/upgradeStrategy/maximumOverCapacity"], />=0/],
  ["health check timeout equal to interval", { ...BASE, healthChecks: [{ intervalSeconds: 10, timeoutSeconds: 10 }] }, ["/healthChecks/0/timeoutSeconds"], /less than intervalSeconds \(10\)/],
  ["health check with port and portIndex", { ...BASE, healthChecks: [{ port: 8080, portIndex: 0 }] }, ["/healthChecks/0/portIndex"], /may not be combined with port/],
  ["COMMAND check without command", { ...BASE, healthChecks: [{ protocol: "COMMAND" }] }, ["/healthChecks/0/command"], /required for protocol COMMAND/],
  ["command on an HTTP check", { ...BASE, healthChecks: [{ command: { value: "true" } }] }, ["/healthChecks/0/command"], /only used with protocol COMMAND/],
  ["health check with an unknown protocol", { ...BASE, healthChecks: [{ protocol: "GOPHER" }] }, ["/healthChecks/0/protocol"], /HTTP/],
  ["health check portIndex past the ports", { ...BASE, healthChecks: [{ portIndex: 1 }] }, ["/healthChecks/0/portIndex"], /one of the app's 1 port/],
  ["TCP check on an app without ports", { ...BASE, portDefinitions: [], healthChecks: [{ protocol: "TCP" }] }, ["/healthChecks/0/portIndex"], /give port instead/],
  ["misspelt health check field", { ...BASE, healthChecks: [{ intervalSecond: 5 }] }, ["/healthChecks/0"], /intervalSecond/],
  ["DOCKER without docker", { ...BASE, container: { type: "DOCKER" } }, ["/container/docker/image"], /required for container type DOCKER/],
  ["docker without image", { ...BASE, container: { type: "DOCKER", docker: { forcePullImage: true } } }, ["/container/docker/image"], /expected string/],
  ["portMappings on the HOST network", { ...BASE, container: { docker: { image: "nginx", network: "HOST" }, portMappings: [{ containerPort: 80 }] } }, ["/container/portMappings"], /network HOST/],
  ["portMappings with portDefinitions", { ...BASE, portDefinitions: [{ port: 0 }], container: { docker: { image: "nginx" }, portMappings: [{ containerPort: 80 }] } }, ["/portDefinitions"], /port mappings/],
  ["duplicate portMapping names", { ...BASE, container: { docker: { image: "nginx" }, portMappings: [{ name: "web" }, { name: "web" }] } }, ["/container/portMappings/1/name"], /unique/],
  ["portMappings in both places", { ...BASE, container: { docker: { image: "nginx", portMappings: [] }, portMappings: [] } }, ["/container/docker/portMappings"], /may not be combined/],
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
    expect(appResources(valid({ ...BASE, cpus: 0.5, mem: 64, disk: 10, gpus: 1, ports: [0, 0] }))).toEqual({
      cpus: 0.5,
      mem: 64,
      disk: 10,
      gpus: 1,
      portCount: 2,
    });
    const user = valid({
      ...BASE,
      container: { docker: { image: "nginx", network: "USER" }, portMappings: [{ containerPort: 80 }, { containerPort: 81, hostPort: 0 }] },
    });
    expect(user.container?.portMappings?.[0]?.hostPort).toBeUndefined();
    expect(appResources(user).portCount).toBe(1);
  });
});

describe("env", () => {
  it("accepts secret references and keeps them", () => {
    const app = valid({ ...BASE, env: { DB_PASSWORD: { secret: "db" }, MODE: "prod" } });
    expect(app.env).toEqual({ DB_PASSWORD: { secret: "db" }, MODE: "prod" });
    expectRoundTrip(app);
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
