import { describe, expect, it } from "vitest";
import { appNetwork, mergeAppPatch } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { imageProblem } from "../../control/cluster/frameworks/marathon/docker-image.ts";
import { expectRoundTrip, valid } from "./app-fixture.ts";

/** Docker apps: image references, networks, port mappings and volumes. The 422 cases are in app-definition.test.ts. */

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const BASE = { id: "/web", cmd: "run" };

describe("docker image references", () => {
  it.each([
    "nginx",
    "nginx:1.27",
    "library/nginx:latest",
    "dcx-test/busybox:1",
    "a__b/c-d.e_f/g--h",
    "registry.example.com:5000/team/app:v1.2.3",
    "localhost:5000/app",
    "localhost/app",
    "[::1]:5000/app",
    "Registry.Example.com/app",
    `nginx@${DIGEST}`,
    `nginx:1.27@${DIGEST}`,
    `nginx:${"t".repeat(128)}`,
  ])("accepts %s", (image) => {
    expect(imageProblem(image)).toBeUndefined();
  });

  it.each([
    ["", /must not be empty/],
    ["nginx latest", /whitespace/],
    ["nginx\t", /whitespace/],
    ["Nginx", /'Nginx' must be lowercase/],
    ["library/Nginx:1", /'Nginx' must be lowercase/],
    ["nginx:", /must not end with ':'/],
    ["nginx:.hidden", /tag '.hidden'/],
    [`nginx:${"t".repeat(129)}`, /tag 't+'/],
    ["nginx@sha256:ABC", /64 lowercase hex/],
    [`nginx@md5:${"0".repeat(32)}`, /must be 'sha256:'/],
    ["nginx@", /digest ''/],
    ["/nginx", /empty path component/],
    ["nginx/", /empty path component/],
    ["team//nginx", /empty path component/],
    ["-nginx", /'-nginx' must be lowercase letters and digits/],
    ["ng!nx", /'ng!nx'/],
    ["bad_host:5000/app", /registry 'bad_host:5000'/],
    [":1", /must name a repository/],
    ["a".repeat(256), /at most 255 characters/],
  ])("refuses %j", (image, message) => {
    expect(imageProblem(image)).toMatch(message);
  });
});

describe("networks", () => {
  const image = { docker: { image: "nginx" } };

  it("reads the network from networks, then docker.network, then defaults to the host", () => {
    expect(appNetwork(valid({ ...BASE, networks: [{ mode: "container/bridge" }], container: image }))).toBe("BRIDGE");
    expect(appNetwork(valid({ ...BASE, networks: [{ mode: "host" }], container: image }))).toBe("HOST");
    expect(appNetwork(valid({ ...BASE, container: { docker: { image: "nginx", network: "NONE" } } }))).toBe("NONE");
    expect(appNetwork(valid({ ...BASE, container: image }))).toBe("HOST");
    expect(appNetwork(valid({ ...BASE, networks: [{ mode: "host" }] }))).toBe("HOST");
  });

  it("gives container/bridge Marathon's default mapping and no port definitions, and returns networks as posted", () => {
    const networks = [{ mode: "container/bridge", labels: { tier: "web" } }];
    const app = valid({ ...BASE, networks, container: image });
    expect(app["networks"]).toEqual(networks);
    expect(app.container?.portMappings).toEqual([{ containerPort: 0, hostPort: 0, servicePort: 0, protocol: "tcp" }]);
    expect(app.portDefinitions).toEqual([]);
    expectRoundTrip(app);
  });

  it("keeps an explicit empty mapping list on the bridge", () => {
    expect(valid({ ...BASE, networks: [{ mode: "container/bridge" }], container: { ...image, portMappings: [] } }).container?.portMappings).toEqual([]);
  });

  it("accepts networks beside a docker.network that agrees", () => {
    const app = valid({ ...BASE, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx", network: "BRIDGE" } } });
    expect(appNetwork(app)).toBe("BRIDGE");
    expectRoundTrip(app);
  });

  it("keeps the host port default for a Docker app on the host network", () => {
    const app = valid({ ...BASE, networks: [{ mode: "host" }], container: image });
    expect(app.portDefinitions).toEqual([{ port: 0, protocol: "tcp" }]);
    expect(app.container?.portMappings).toBeUndefined();
  });
});

describe("port mappings", () => {
  const bridged = (portMappings: unknown[]) =>
    valid({ ...BASE, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" }, portMappings } });

  it("accepts one host port for tcp and for udp, and one container port on two protocols", () => {
    const app = bridged([
      { containerPort: 53, hostPort: 53, protocol: "tcp" },
      { containerPort: 53, hostPort: 53, protocol: "udp" },
    ]);
    expect(app.container?.portMappings?.map((m) => m.protocol)).toEqual(["tcp", "udp"]);
    expectRoundTrip(app);
  });

  it("accepts any number of dynamic host ports and container ports", () => {
    expect(bridged([{}, {}, { containerPort: 80 }]).container?.portMappings?.map((m) => [m.containerPort, m.hostPort])).toEqual([
      [0, 0],
      [0, 0],
      [80, 0],
    ]);
  });

  it("lets a health check address a mapping by index", () => {
    const app = valid({ ...BASE, networks: [{ mode: "container/bridge" }], container: { docker: { image: "nginx" } }, healthChecks: [{ portIndex: 0 }] });
    expect(app.healthChecks[0]?.portIndex).toBe(0);
  });
});

describe("volumes", () => {
  it("keeps host-path volumes as given", () => {
    const volumes = [
      { containerPath: "/data", hostPath: "/srv/data", mode: "RW" },
      { containerPath: "/etc/app", hostPath: "/etc/app", mode: "RO" },
    ];
    const app = valid({ ...BASE, container: { docker: { image: "nginx" }, volumes } });
    expect(app.container?.volumes).toEqual(volumes);
    expectRoundTrip(app);
  });
});

describe("PATCH across networks", () => {
  const bridgedApp = valid({
    ...BASE,
    networks: [{ mode: "container/bridge" }],
    container: { docker: { image: "nginx" }, portMappings: [{ containerPort: 80 }] },
  });

  it("moving a bridged app to the host network drops its mappings and gives it the default port", () => {
    const merged = mergeAppPatch(bridgedApp, { networks: [{ mode: "host" }] });
    if (!merged.ok) throw new Error(JSON.stringify(merged.details));
    expect(merged.app.container?.portMappings).toBeUndefined();
    expect(merged.app.portDefinitions).toEqual([{ port: 0, protocol: "tcp" }]);
  });

  it("moving a host app to the bridge drops its port definitions and gives it the default mapping", () => {
    const hostApp = valid({ ...BASE, container: { docker: { image: "nginx" } }, portDefinitions: [{ port: 0, name: "http" }] });
    const merged = mergeAppPatch(hostApp, { networks: [{ mode: "container/bridge" }] });
    if (!merged.ok) throw new Error(JSON.stringify(merged.details));
    expect(merged.app.portDefinitions).toEqual([]);
    expect(merged.app.container?.portMappings).toHaveLength(1);
  });

  it("refuses mappings the patch itself gives for the host network", () => {
    const merged = mergeAppPatch(bridgedApp, {
      networks: [{ mode: "host" }],
      container: { docker: { image: "nginx" }, portMappings: [{ containerPort: 80 }] },
    });
    expect(merged.ok ? [] : merged.details.map((d) => d.path)).toEqual(["/container/portMappings"]);
  });
});
