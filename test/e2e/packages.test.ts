import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUN, ROOT, toolEnv } from "../../scripts/lib/control-plane.ts";
import { waitFor } from "../../scripts/lib/processes.ts";
import { TestCluster } from "./cluster.ts";
import { TEST_IMAGE, dockerForTests } from "./docker-support.ts";
import { requirement } from "./tools.ts";

const root = requirement("root", process.getuid?.() === 0 ? undefined : "the agents must run as root for cgroups (CI runs as root)");
const dockerd = dockerForTests();

interface Task {
  id: string;
  state: string;
  host: string;
  ports: number[];
  healthCheckResults: { alive: boolean }[];
}

const FIXTURE = join(ROOT, "test", "e2e", "fixtures", "echo-server.mjs");
const mt = (kind: string, v = 1) => `application/vnd.dcos.${kind}+json;charset=utf-8;version=v${v}`;

/** A company's Universe repository: one package whose command, greeting and name come from options. */
const GREETER_TEMPLATE = `{
  "id": "{{service.name}}",
  "cmd": "exec node {{service.script}} {{service.marker}}",
  "cpus": {{service.cpus}}, "mem": {{service.mem}}, "instances": 1,
  "portDefinitions": [{"port": 0, "name": "http"}],
  "env": {"GREETING": "{{greeting}}"},
  "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}],
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}"}
}`;
const GREETER = {
  packagingVersion: "4.0",
  name: "greeter",
  version: "2.0.0",
  releaseVersion: 3,
  maintainer: "platform@company.example",
  description: "Answers HTTP with a greeting",
  tags: ["web"],
  postInstallNotes: "Say hello.",
  config: {
    type: "object",
    properties: {
      service: {
        type: "object",
        properties: {
          name: { type: "string", default: "greeter" },
          script: { type: "string" },
          marker: { type: "string", default: "greeter" },
          cpus: { type: "number", default: 0.1 },
          mem: { type: "integer", default: 64 },
        },
        required: ["script"],
      },
      greeting: { type: "string", default: "hello" },
    },
  },
  marathon: { v2AppMustacheTemplate: Buffer.from(GREETER_TEMPLATE).toString("base64") },
};

/** Serves the repository as a Universe server does (v4 media type, an ETag, 304 to a matching If-None-Match). */
function serveRepository(): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const body = JSON.stringify({ packages: [GREETER] });
  const server = createServer((req, res) => {
    hits.push(`${req.url} accept=${req.headers.accept} inm=${req.headers["if-none-match"] ?? ""}`);
    if (req.headers["if-none-match"] === '"r1"') return void res.writeHead(304).end();
    res.writeHead(200, { "Content-Type": mt("universe.repo", 4), ETag: '"r1"' }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo`, hits })),
  );
}

/**
 * Packages end to end: the control plane on workerd, a real Bun agent, a Universe repository
 * served over HTTP on loopback, and the installed services running as real processes and
 * containers, found by their labels and removed again.
 */
describe.skipIf(root.skip)("packages on a real agent", () => {
  // Repositories refresh on every use here, so the ETag round trip happens within the test.
  const cluster = new TestCluster({ PACKAGE_REPO_REFRESH_MS: "0" });
  let repo: Awaited<ReturnType<typeof serveRepository>>;
  const c = (path: string) => `/c/${cluster.clusterId}${path}`;
  const cosmos = async <T>(endpoint: string, body: unknown, responseVersion = 1): Promise<T> => {
    const kind = `package.${endpoint.replace("/", ".")}`;
    const accept = mt(`${kind}-response`, responseVersion);
    const res = await fetch(`${cluster.url}${c(`/package/${endpoint}`)}`, {
      method: "POST",
      headers: { Authorization: `token=${cluster.token}`, "Content-Type": mt(`${kind}-request`), Accept: accept },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${endpoint} -> ${res.status}: ${text}`);
    // The DC/OS CLI's own check: the response type must contain the Accept it sent.
    expect(res.headers.get("Content-Type")).toContain(accept);
    return JSON.parse(text) as T;
  };
  const tasks = async (id: string) => (await cluster.api<{ tasks: Task[] }>("GET", c(`/v2/apps${id}/tasks`))).tasks;
  const healthy = (id: string) =>
    waitFor(
      `${id} running and healthy`,
      async () => {
        const t = await tasks(id);
        return t.length === 1 && t[0]?.state === "TASK_RUNNING" && t[0].healthCheckResults[0]?.alive === true ? t[0] : undefined;
      },
      90_000,
      250,
    );
  /** Runs `dcx` (bun cli/main.ts) logged in to this cluster; fails the test on a non-zero exit. */
  const dcx = (...args: string[]) => {
    const config = join(cluster.dir, "dcx.json");
    writeFileSync(config, JSON.stringify({ url: cluster.url, token: cluster.token, cluster: cluster.clusterId }), { mode: 0o600 });
    const r = spawnSync(BUN, [join(ROOT, "cli", "main.ts"), ...args], {
      env: toolEnv({ DCX_CONFIG: config, NO_COLOR: "1" }),
      encoding: "utf8",
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`dcx ${args.join(" ")} -> ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const gone = (id: string) =>
    waitFor(`${id} removed`, async () => ((await cluster.fetch("GET", c(`/v2/apps${id}`))).status === 404 ? true : undefined), 30_000, 200);

  beforeAll(async () => {
    root.require();
    repo = await serveRepository();
    await cluster.start();
    await cluster.signUp();
    cluster.startAgent("a", { token: await cluster.joinToken(), hostname: "pkg-node", resources: "cpus:2;mem:2048;disk:1024;ports:[31300-31399]" });
    await waitFor("the agent", async () => (await cluster.api<{ slaves: unknown[] }>("GET", c("/master/slaves"))).slaves[0]);
  });
  afterAll(async () => {
    await cluster.stop();
    repo?.server.close();
  });

  it("adds a repository served over HTTP, installs from it with options, lists and uninstalls", async () => {
    const added = await cosmos<{ repositories: { name: string; uri: string }[] }>("repository/add", { name: "company", uri: repo.url, index: 0 });
    expect(added.repositories.map((r) => r.name)).toEqual(["company", "dcx-universe"]);
    expect(repo.hits[0]).toContain("application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5");

    const found = await cosmos<{ packages: { name: string; currentVersion: string }[] }>("search", { query: "greeting" });
    expect(found.packages).toEqual([expect.objectContaining({ name: "greeter", currentVersion: "2.0.0" })]);
    const described = await cosmos<{ package: { config: unknown } }>("describe", { packageName: "greeter" }, 3);
    expect(described.package.config).toEqual(GREETER.config);

    const options = { service: { name: "/team/greeter", script: FIXTURE, marker: "pkg-e2e-greeter" }, greeting: "hej from the package" };
    const installed = await cosmos<{ appId: string; postInstallNotes: string }>("install", { packageName: "greeter", options }, 2);
    expect(installed).toMatchObject({ appId: "/team/greeter", postInstallNotes: "Say hello." });

    const task = await healthy("/team/greeter");
    const answer = await waitFor(
      "the greeter to answer",
      () =>
        fetch(`http://127.0.0.1:${task.ports[0]}/`).then(
          (r) => r.text(),
          () => undefined,
        ),
      15_000,
      100,
    );
    expect(answer).toContain("hej from the package");

    const list = await cosmos<{ packages: { appId: string; packageInformation: { packageDefinition: { name: string; version: string } } }[] }>("list", {});
    expect(list.packages.map((p) => [p.appId, p.packageInformation.packageDefinition.name, p.packageInformation.packageDefinition.version])).toEqual([
      ["/team/greeter", "greeter", "2.0.0"],
    ]);
    // Later reads refreshed the stored copy with its ETag (a 304 here), after answering.
    await waitFor("a conditional refresh", async () => (repo.hits.some((h) => h.includes('inm="r1"')) ? true : undefined), 10_000, 100);

    const removed = await cosmos<{ results: { appId: string }[] }>("uninstall", { packageName: "greeter" });
    expect(removed.results.map((r) => r.appId)).toEqual(["/team/greeter"]);
    await gone("/team/greeter");
    await waitFor(
      "the greeter's port to close",
      () =>
        fetch(`http://127.0.0.1:${task.ports[0]}/`).then(
          () => undefined,
          () => true,
        ),
      15_000,
      100,
    );
    expect((await cosmos<{ packages: unknown[] }>("list", {})).packages).toEqual([]);
  });

  it.skipIf(dockerd.skip)("the built-in nginx, redis and http-check run on the test image: healthy services, a successful check", async () => {
    dockerd.require();
    await cosmos("install", { packageName: "nginx", options: { service: { image: TEST_IMAGE, cmd: "httpd -f -p 80 -h /www", cpus: 0.1, mem: 32 } } }, 2);
    // Redis as a user installs it: `dcx package install redis --options FILE --yes`.
    const options = join(cluster.dir, "redis-options.json");
    writeFileSync(options, JSON.stringify({ service: { image: TEST_IMAGE, cmd: "nc -ll -p 6379 -e cat", cpus: 0.1, mem: 32 } }));
    expect(dcx("package", "install", "redis", "--options", options, "--yes")).toContain("Installed redis 7.4.1-0.1.0 as /redis.");
    const web = await healthy("/nginx");
    expect(await fetch(`http://127.0.0.1:${web.ports[0]}/`).then((r) => r.text())).toContain("dcx test image");
    await healthy("/redis");
    // The job-style package checks nginx (jobs use the host network) when a run is started.
    const check = { job: { id: "ops.web-check", image: TEST_IMAGE, cmd: `wget -q -O /dev/null http://127.0.0.1:${web.ports[0]}/`, cron: "0 0 1 1 *" } };
    await cosmos("install", { packageName: "http-check", options: check }, 2);
    await cluster.api("POST", c("/v1/jobs/ops.web-check/runs"), {});
    await waitFor(
      "the check to succeed",
      async () => {
        const job = await cluster.api<{ history?: { successCount: number; failureCount: number } }>("GET", c("/v1/jobs/ops.web-check?embed=history"));
        if ((job.history?.failureCount ?? 0) > 0) throw new Error(`the check failed: ${JSON.stringify(job.history)}`);
        return (job.history?.successCount ?? 0) > 0 ? true : undefined;
      },
      60_000,
      250,
    );
    const list = await cosmos<{ packages: { appId: string }[] }>("list", {});
    expect(list.packages.map((p) => p.appId)).toEqual(["ops.web-check", "/nginx", "/redis"]);
    await cosmos("uninstall", { packageName: "http-check" });
    await cosmos("uninstall", { packageName: "nginx" });
    expect(dcx("package", "list")).toMatch(/^redis\s+7\.4\.1-0\.1\.0\s+\/redis$/m);
    expect(dcx("package", "uninstall", "redis")).toContain("Uninstalled redis 7.4.1-0.1.0 (/redis).");
    await gone("/nginx");
    await gone("/redis");
  });
});
