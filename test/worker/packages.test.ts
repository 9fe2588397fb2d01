import { afterEach, describe, expect, it } from "vitest";
import { helloPackage, template } from "../support/universe-fixture.ts";
import { type Account, call, signUp } from "./helpers.ts";
import { cosmos, expectCosmosError, fakeRepositories, mt } from "./packages-support.ts";

type App = {
  id: string;
  labels: Record<string, string>;
  container?: { docker?: { image: string } };
  cmd?: string;
  healthChecks?: unknown[];
  env?: Record<string, string>;
};
const apps = async (a: Account) => ((await (await call(`/c/${a.cluster.id}/v2/apps`, { token: a.token })).json()) as { apps: App[] }).apps;
const ok = async <T>(res: Response, contentType: string): Promise<T> => {
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get("Content-Type")).toBe(contentType);
  return res.json() as Promise<T>;
};

/** Options that run a built-in package's container on the local test image. */
const testImage = (cmd: string) => ({ service: { image: "dcx-test/busybox:1", cmd } });

describe("the built-in catalog through Cosmos's API", () => {
  it("lists the built-in repository from the start, and searches it", async () => {
    const a = await signUp();
    const repos = await ok<{ repositories: { name: string; uri: string }[] }>(await cosmos(a, "repository/list", {}), mt("package.repository.list-response"));
    expect(repos.repositories).toEqual([{ name: "dcx-universe", uri: "builtin:dcx-universe" }]);
    const all = await ok<{ packages: { name: string; currentVersion: string; versions: Record<string, string>; framework: boolean }[] }>(
      await cosmos(a, "search", {}),
      mt("package.search-response"),
    );
    expect(all.packages.map((p) => p.name).sort()).toEqual(["hello-world", "http-check", "nginx", "postgresql", "redis"]);
    const redis = all.packages.find((p) => p.name === "redis");
    expect(redis).toMatchObject({ currentVersion: "7.4.1-0.1.0", versions: { "7.4.1-0.1.0": "0" }, framework: false });
    const kv = await ok<{ packages: { name: string }[] }>(await cosmos(a, "search", { query: "key-value" }), mt("package.search-response"));
    expect(kv.packages.map((p) => p.name)).toEqual(["redis"]);
    const wild = await ok<{ packages: { name: string }[] }>(await cosmos(a, "search", { query: "post*" }), mt("package.search-response"));
    expect(wild.packages.map((p) => p.name)).toEqual(["postgresql"]);
  });

  it("describes a package in each response version, echoing the exact media type", async () => {
    const a = await signUp();
    const v3 = await ok<{ package: { name: string; config: unknown; marathon: { v2AppMustacheTemplate: string } } }>(
      await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 3) }),
      mt("package.describe-response", 3),
    );
    expect(v3.package.name).toBe("redis");
    expect(v3.package.marathon.v2AppMustacheTemplate.length).toBeGreaterThan(0);
    const v2 = await ok<{ name: string; version: string }>(
      await cosmos(a, "describe", { packageName: "redis", packageVersion: "7.4.1-0.1.0" }, { accept: mt("package.describe-response", 2) }),
      mt("package.describe-response", 2),
    );
    expect(v2).toMatchObject({ name: "redis", version: "7.4.1-0.1.0" });
    const v1 = await ok<{ package: { name: string }; marathonMustache: string; config: unknown }>(
      await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 1) }),
      mt("package.describe-response", 1),
    );
    expect(v1.marathonMustache).toContain("redis-server");
    // A client asking for plain JSON gets the newest version, still labelled with its media type.
    await ok(
      await cosmos(a, "describe", { packageName: "redis" }, { accept: "application/json", contentType: "application/json" }),
      mt("package.describe-response", 3),
    );
    const versions = await ok<{ results: Record<string, string> }>(
      await cosmos(a, "list-versions", { packageName: "nginx", includePackageVersions: true }),
      mt("package.list-versions-response"),
    );
    expect(versions.results).toEqual({ "1.27.3-0.1.0": "0" });
  });

  it("refuses unknown packages and versions, bad bodies and media types, as Cosmos errors", async () => {
    const a = await signUp();
    expect((await expectCosmosError(await cosmos(a, "describe", { packageName: "nope" }), "PackageNotFound")).message).toBe("Package [nope] not found");
    await expectCosmosError(
      await cosmos(a, "install", { packageName: "redis", packageVersion: "0.0.1" }, { accept: mt("package.install-response", 2) }),
      "VersionNotFound",
    );
    await expectCosmosError(await cosmos(a, "list-versions", { packageName: "nope" }), "PackageNotFound");
    const missing = await expectCosmosError(await cosmos(a, "describe", {}), "MalformedRequest");
    expect(missing.message).toContain("/packageName");
    await expectCosmosError(await cosmos(a, "describe", {}, { raw: "{not json" }), "MalformedRequest");
    await expectCosmosError(await cosmos(a, "render", { packageName: "redis", options: [1] }), "MalformedRequest");
    await expectCosmosError(await cosmos(a, "describe", { packageName: "redis" }, { contentType: "text/plain" }), "UnsupportedContentType", 415);
    await expectCosmosError(await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 9) }), "NotAcceptable");
    const noToken = await call(`/c/${a.cluster.id}/package/search`, { method: "POST", json: {} });
    expect(noToken.status).toBe(401);
  });

  it("renders with defaults and options, and refuses options that break the schema, naming the path", async () => {
    const a = await signUp();
    const r = await ok<{ marathonJson: App & { cpus: number; args?: string[] } }>(
      await cosmos(a, "render", { packageName: "redis", options: { redis: { maxmemory_mb: 64 } } }),
      mt("package.render-response"),
    );
    expect(r.marathonJson).toMatchObject({ id: "redis", cpus: 0.5, container: { docker: { image: "redis:7.4.1-alpine" } } });
    expect(r.marathonJson.args).toContain("64mb");
    expect(r.marathonJson.labels).toMatchObject({ DCOS_PACKAGE_NAME: "redis", DCOS_PACKAGE_SOURCE: "builtin:dcx-universe", DCOS_SERVICE_NAME: "redis" });
    const bad = await expectCosmosError(
      await cosmos(a, "render", { packageName: "redis", options: { redis: { maxmemory_policy: "sometimes" }, service: { cpus: "x" } } }),
      "JsonSchemaMismatch",
    );
    expect((bad.data?.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(["/redis/maxmemory_policy", "/service/cpus"]);
    // PostgreSQL's password has no default: without it, nothing is installed.
    const pg = await expectCosmosError(
      await cosmos(a, "install", { packageName: "postgresql" }, { accept: mt("package.install-response", 2) }),
      "JsonSchemaMismatch",
    );
    expect(pg.message).toContain("/database");
    expect(await apps(a)).toEqual([]);
  });

  it("installs through Marathon's app path, lists from the labels, refuses a second install, uninstalls", async () => {
    const a = await signUp();
    const installed = await ok<{ packageName: string; packageVersion: string; appId: string; postInstallNotes: string }>(
      await cosmos(a, "install", { packageName: "redis", options: testImage("nc -lk -p 6379 -e cat") }, { accept: mt("package.install-response", 2) }),
      mt("package.install-response", 2),
    );
    expect(installed).toMatchObject({ packageName: "redis", packageVersion: "7.4.1-0.1.0", appId: "/redis" });
    expect(installed.postInstallNotes).toContain("Redis is starting");
    const [app] = await apps(a);
    expect(app).toMatchObject({ id: "/redis", cmd: "nc -lk -p 6379 -e cat", container: { docker: { image: "dcx-test/busybox:1" } } });
    expect(app?.healthChecks).toHaveLength(1);
    expect(app?.labels).toMatchObject({ DCOS_PACKAGE_NAME: "redis", DCOS_PACKAGE_VERSION: "7.4.1-0.1.0", DCOS_SERVICE_NAME: "redis" });
    expect(JSON.parse(atob(app!.labels.DCOS_PACKAGE_OPTIONS!))).toEqual(testImage("nc -lk -p 6379 -e cat"));

    // The install is audited as the app creation it is, for the user who made it.
    const audit = (await (await call(`/clusters/${a.cluster.id}/audit`, { token: a.token })).json()) as {
      entries: { action: string; target: string; actor: { userId: string } }[];
    };
    expect(audit.entries).toContainEqual(
      expect.objectContaining({ action: "app.create", target: "/redis", actor: expect.objectContaining({ userId: a.user.id }) }),
    );

    const again = await expectCosmosError(
      await cosmos(a, "install", { packageName: "redis" }, { accept: mt("package.install-response", 2) }),
      "PackageAlreadyInstalled",
      409,
    );
    expect(again.data).toMatchObject({ appId: "/redis" });
    const v1 = await ok<Record<string, unknown>>(
      await cosmos(
        a,
        "install",
        { packageName: "redis", appId: "/cache/redis-2", options: testImage("sleep 1000") },
        { accept: mt("package.install-response", 1) },
      ),
      mt("package.install-response", 1),
    );
    expect(v1).toEqual({ packageName: "redis", packageVersion: "7.4.1-0.1.0", appId: "/cache/redis-2" });

    const list = await ok<{ packages: { appId: string; packageInformation: { packageDefinition: { name: string; version: string; config?: unknown } } }[] }>(
      await cosmos(a, "list", {}),
      mt("package.list-response"),
    );
    expect(list.packages.map((p) => [p.appId, p.packageInformation.packageDefinition.name, p.packageInformation.packageDefinition.version])).toEqual([
      ["/cache/redis-2", "redis", "7.4.1-0.1.0"],
      ["/redis", "redis", "7.4.1-0.1.0"],
    ]);
    expect(list.packages[0]?.packageInformation.packageDefinition.config).toBeUndefined();
    const one = await ok<{ packages: unknown[] }>(await cosmos(a, "list", { appId: "cache/redis-2" }), mt("package.list-response"));
    expect(one.packages).toHaveLength(1);

    const ambiguous = await expectCosmosError(await cosmos(a, "uninstall", { packageName: "redis" }), "AmbiguousAppId");
    expect(ambiguous.data?.appIds).toEqual(["/cache/redis-2", "/redis"]);
    const gone = await ok<{ results: { appId: string; postUninstallNotes?: string }[] }>(
      await cosmos(a, "uninstall", { packageName: "redis", appId: "/redis" }),
      mt("package.uninstall-response"),
    );
    expect(gone.results.map((r) => r.appId)).toEqual(["/redis"]);
    expect(gone.results[0]?.postUninstallNotes).toContain("removed");
    await ok(await cosmos(a, "uninstall", { packageName: "redis", all: true }), mt("package.uninstall-response"));
    expect(await apps(a)).toEqual([]);
    await expectCosmosError(await cosmos(a, "uninstall", { packageName: "redis" }), "PackageNotInstalled");
  });

  it("installs the job-style package as a Metronome job, lists and uninstalls it", async () => {
    const a = await signUp();
    const res = await cosmos(
      a,
      "install",
      { packageName: "http-check", options: { job: { id: "ops.ping", cron: "0 * * * *" }, check: { url: "http://web.marathon.mesos/" } } },
      { accept: mt("package.install-response", 2) },
    );
    expect((await ok<{ appId: string }>(res, mt("package.install-response", 2))).appId).toBe("ops.ping");
    const job = (await (await call(`/c/${a.cluster.id}/v1/jobs/ops.ping?embed=schedules`, { token: a.token })).json()) as {
      labels: Record<string, string>;
      run: { cmd: string };
      schedules: { cron: string }[];
    };
    expect(job.labels.DCOS_PACKAGE_NAME).toBe("http-check");
    expect(job.schedules[0]?.cron).toBe("0 * * * *");
    await expectCosmosError(
      await cosmos(a, "install", { packageName: "http-check", options: { job: { id: "ops.ping" } } }, { accept: mt("package.install-response", 2) }),
      "PackageAlreadyInstalled",
      409,
    );
    const bad = await expectCosmosError(
      await cosmos(
        a,
        "install",
        { packageName: "http-check", options: { job: { id: "ops.bad", cron: "61 * * * *" } } },
        { accept: mt("package.install-response", 2) },
      ),
      "InvalidMetronomeJob",
    );
    expect((bad.data?.details as { path: string }[])[0]?.path).toMatch(/^\/schedules\/0/);
    const list = await ok<{ packages: { appId: string }[] }>(await cosmos(a, "list", { appId: "ops.ping" }), mt("package.list-response"));
    expect(list.packages.map((p) => p.appId)).toEqual(["ops.ping"]);
    await ok(await cosmos(a, "uninstall", { packageName: "http-check" }), mt("package.uninstall-response"));
    expect((await call(`/c/${a.cluster.id}/v1/jobs/ops.ping`, { token: a.token })).status).toBe(404);
  });

  it("two uninstalls at once both succeed (the second finds the app gone), leaving nothing", async () => {
    const a = await signUp();
    await ok(await cosmos(a, "install", { packageName: "nginx" }, { accept: mt("package.install-response", 2) }), mt("package.install-response", 2));
    const both = await Promise.all([cosmos(a, "uninstall", { packageName: "nginx" }), cosmos(a, "uninstall", { packageName: "nginx" })]);
    for (const res of both) {
      const body = (await res.json()) as { type?: string };
      expect(res.status === 200 || body.type === "PackageNotInstalled", JSON.stringify(body)).toBe(true);
    }
    expect(await apps(a)).toEqual([]);
  });

  it("lists an app labelled by hand, with no definition label, from its labels alone", async () => {
    const a = await signUp();
    const res = await call(`/c/${a.cluster.id}/v2/apps`, {
      method: "POST",
      token: a.token,
      json: { id: "/legacy", cmd: "sleep 1", labels: { DCOS_PACKAGE_NAME: "old", DCOS_PACKAGE_VERSION: "0.9" } },
    });
    expect(res.status).toBe(201);
    const list = await ok<{ packages: { appId: string; packageInformation: { packageDefinition: Record<string, unknown> } }[] }>(
      await cosmos(a, "list", {}),
      mt("package.list-response"),
    );
    expect(list.packages).toEqual([{ appId: "/legacy", packageInformation: { packageDefinition: { name: "old", version: "0.9" } } }]);
  });

  it("answers the capabilities the DC/OS CLI asks for", async () => {
    const a = await signUp();
    const res = await call(`/c/${a.cluster.id}/capabilities`, {
      token: a.token,
      headers: { Accept: "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1" },
    });
    const body = await ok<{ capabilities: { name: string }[] }>(res, "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1");
    expect(body.capabilities.map((c) => c.name)).toContain("PACKAGE_MANAGEMENT");
  });
});

describe("repositories added by URL", () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());
  const REPO = "https://repo.example/universe";
  const repoBody = (packages: unknown[]) => JSON.stringify({ packages });

  it("fetches, validates and stores a repository at its index; its packages install with their source", async () => {
    const a = await signUp();
    const fake = fakeRepositories({ [REPO]: { body: repoBody([helloPackage(), helloPackage({ version: "1.1.0", releaseVersion: 2 })]), etag: '"v1"' } });
    restore = fake.restore;
    const added = await ok<{ repositories: { name: string; uri: string }[] }>(
      await cosmos(a, "repository/add", { name: "company", uri: REPO, index: 0 }),
      mt("package.repository.add-response"),
    );
    expect(added.repositories.map((r) => r.name)).toEqual(["company", "dcx-universe"]);
    expect(fake.requests[0]?.headers.get("Accept")).toContain("application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5");
    const audit = (await (await call(`/clusters/${a.cluster.id}/audit`, { token: a.token })).json()) as {
      entries: { action: string; target: string; detail: Record<string, unknown> }[];
    };
    expect(audit.entries).toContainEqual(expect.objectContaining({ action: "package-repository.add", target: "company", detail: { uri: REPO, packages: 2 } }));
    const found = await ok<{ packages: { name: string; currentVersion: string }[] }>(
      await cosmos(a, "search", { query: "greeting" }),
      mt("package.search-response"),
    );
    expect(found.packages).toMatchObject([{ name: "hello", currentVersion: "1.1.0" }]);
    const install = await ok<{ appId: string }>(
      await cosmos(
        a,
        "install",
        { packageName: "hello", packageVersion: "1.0.0", options: { service: { name: "greeter" } } },
        { accept: mt("package.install-response", 2) },
      ),
      mt("package.install-response", 2),
    );
    expect(install.appId).toBe("/greeter");
    const [app] = await apps(a);
    expect(app?.labels).toMatchObject({ DCOS_PACKAGE_SOURCE: REPO, DCOS_PACKAGE_VERSION: "1.0.0", DCOS_PACKAGE_NAME: "hello" });
    // Refreshes (on every use in these tests) send the ETag; a 304 keeps the stored copy.
    await expect.poll(() => fake.requests.filter((r) => r.headers.get("If-None-Match") === '"v1"').length).toBeGreaterThan(0);
    await expectCosmosError(await cosmos(a, "repository/add", { name: "company", uri: "https://other.example/" }), "RepositoryAlreadyPresent");
    await expectCosmosError(await cosmos(a, "repository/add", { name: "other", uri: REPO }), "RepositoryAlreadyPresent");
  });

  it("deletes by name or URI, and the built-in repository can be added back", async () => {
    const a = await signUp();
    const left = await ok<{ repositories: unknown[] }>(
      await cosmos(a, "repository/delete", { uri: "builtin:dcx-universe" }),
      mt("package.repository.delete-response"),
    );
    expect(left.repositories).toEqual([]);
    await expectCosmosError(await cosmos(a, "describe", { packageName: "redis" }), "PackageNotFound");
    await expectCosmosError(await cosmos(a, "repository/delete", { name: "dcx-universe" }), "RepositoryNotPresent");
    await expectCosmosError(await cosmos(a, "repository/delete", {}), "RepoNameOrUriMissing");
    await ok(await cosmos(a, "repository/add", { name: "dcx-universe", uri: "builtin:dcx-universe" }), mt("package.repository.add-response"));
    await ok(await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 3) }), mt("package.describe-response", 3));
  });

  it.each([
    ["not JSON", { body: "<html>hello</html>", contentType: "text/html" }, "RepositoryInvalid", 400],
    ["the wrong schema", { body: JSON.stringify({ packages: [{ name: "x" }] }) }, "RepositoryInvalid", 400],
    ["a 5.0 package in a v4 repository", { body: repoBody([helloPackage({ packagingVersion: "5.0" })]) }, "RepositoryInvalid", 400],
    ["huge (declared)", { body: "x", headers: { "Content-Length": "999999999" } }, "RepositoryTooLarge", 400],
    [
      "huge (streamed, no length)",
      { body: () => new Blob([repoBody([helloPackage({ description: "x".repeat(70_000) })])]).stream() },
      "RepositoryTooLarge",
      400,
    ],
    ["timing out", { hang: true }, "RepositoryUriConnection", 502],
    ["answering 404", { status: 404, body: "no" }, "UniverseClientHttpError", 502],
    ["zip (Universe v2)", { body: "PK", contentType: "application/zip" }, "UnsupportedRepositoryVersion", 400],
  ] as const)("refuses a repository that is %s, and changes nothing", async (_what, served, type, status) => {
    const a = await signUp();
    const fake = fakeRepositories({ [REPO]: served });
    restore = fake.restore;
    const err = await expectCosmosError(await cosmos(a, "repository/add", { name: "bad", uri: REPO }), type, status);
    expect(err.message).toContain(REPO);
    const repos = await ok<{ repositories: { name: string }[] }>(await cosmos(a, "repository/list", {}), mt("package.repository.list-response"));
    expect(repos.repositories.map((r) => r.name)).toEqual(["dcx-universe"]);
  });

  it("names the failing path of a repository with the wrong schema", async () => {
    const a = await signUp();
    restore = fakeRepositories({ [REPO]: { body: repoBody([helloPackage(), helloPackage({ version: "2", tags: ["a b"] })]) } }).restore;
    const err = await expectCosmosError(await cosmos(a, "repository/add", { name: "bad", uri: REPO }), "RepositoryInvalid");
    expect((err.data?.errors as { path: string }[]).map((e) => e.path)).toEqual(["/packages/1/tags/0"]);
  });

  it("orders repositories by index, keeping positions dense across deletes", async () => {
    const a = await signUp();
    restore = fakeRepositories(Object.fromEntries(["a", "b", "c", "d"].map((n) => [`${REPO}/${n}`, { body: repoBody([]) }]))).restore;
    const names = async (res: Response) => {
      expect(res.status, await res.clone().text()).toBe(200);
      return ((await res.json()) as { repositories: { name: string }[] }).repositories.map((r) => r.name);
    };
    expect(await names(await cosmos(a, "repository/add", { name: "a", uri: `${REPO}/a` }))).toEqual(["dcx-universe", "a"]);
    expect(await names(await cosmos(a, "repository/add", { name: "b", uri: `${REPO}/b`, index: 0 }))).toEqual(["b", "dcx-universe", "a"]);
    expect(await names(await cosmos(a, "repository/add", { name: "c", uri: `${REPO}/c`, index: 1 }))).toEqual(["b", "c", "dcx-universe", "a"]);
    expect(await names(await cosmos(a, "repository/delete", { name: "c" }))).toEqual(["b", "dcx-universe", "a"]);
    expect(await names(await cosmos(a, "repository/add", { name: "d", uri: `${REPO}/d`, index: 99 }))).toEqual(["b", "dcx-universe", "a", "d"]);
    expect(await names(await cosmos(a, "repository/add", { name: "c", uri: `${REPO}/c`, index: 2 }))).toEqual(["b", "dcx-universe", "c", "a", "d"]);
  });

  it("a package name comes from the first repository that has it", async () => {
    const a = await signUp();
    restore = fakeRepositories({ [REPO]: { body: repoBody([helloPackage({ name: "redis", description: "the company's redis" })]) } }).restore;
    await ok(await cosmos(a, "repository/add", { name: "company", uri: REPO }), mt("package.repository.add-response"));
    const last = await ok<{ package: { description: string } }>(
      await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 3) }),
      mt("package.describe-response", 3),
    );
    expect(last.package.description).toContain("in-memory");
    await ok(await cosmos(a, "repository/delete", { name: "company" }), mt("package.repository.delete-response"));
    await ok(await cosmos(a, "repository/add", { name: "company", uri: REPO, index: 0 }), mt("package.repository.add-response"));
    const first = await ok<{ package: { description: string } }>(
      await cosmos(a, "describe", { packageName: "redis" }, { accept: mt("package.describe-response", 3) }),
      mt("package.describe-response", 3),
    );
    expect(first.package.description).toBe("the company's redis");
  });

  it("a refresh stores a changed repository; a failed one keeps the stored packages", async () => {
    const a = await signUp();
    const served = { body: repoBody([helloPackage()]), etag: '"v1"', status: 200 };
    const fake = fakeRepositories({ [REPO]: served });
    restore = fake.restore;
    await ok(await cosmos(a, "repository/add", { name: "company", uri: REPO }), mt("package.repository.add-response"));
    // The repository publishes a new version: the next reads refresh (every read, in these tests) and then see it.
    Object.assign(served, { body: repoBody([helloPackage(), helloPackage({ version: "2.0.0", releaseVersion: 5 })]), etag: '"v2"' });
    await expect
      .poll(async () => ((await (await cosmos(a, "list-versions", { packageName: "hello" })).json()) as { results: Record<string, string> }).results, {
        timeout: 5000,
      })
      .toEqual({ "2.0.0": "5", "1.0.0": "1" });
    // The repository breaks: reads go on serving what was stored.
    Object.assign(served, { body: "oops", etag: undefined, status: 500 });
    const before = fake.requests.length;
    await expect.poll(async () => (await cosmos(a, "search", { query: "hello" }), fake.requests.length), { timeout: 5000 }).toBeGreaterThan(before + 1);
    const still = await ok<{ packages: { name: string; currentVersion: string }[] }>(
      await cosmos(a, "search", { query: "hello" }),
      mt("package.search-response"),
    );
    expect(still.packages.filter((p) => p.name === "hello")).toMatchObject([{ currentVersion: "2.0.0" }]);
  });

  it("updates an installed package in place: options merged or replaced, an allowed version, errors leaving the app as it was", async () => {
    const a = await signUp();
    restore = fakeRepositories({
      [REPO]: { body: repoBody([helloPackage(), helloPackage({ version: "1.1.0", releaseVersion: 2, upgradesFrom: ["1.0.0"] })]) },
    }).restore;
    await ok(await cosmos(a, "repository/add", { name: "company", uri: REPO }), mt("package.repository.add-response"));
    await ok(
      await cosmos(
        a,
        "install",
        { packageName: "hello", packageVersion: "1.0.0", options: { service: { name: "greeter", greeting: "hi" } } },
        { accept: mt("package.install-response", 2) },
      ),
      mt("package.install-response", 2),
    );
    const service = (endpoint: string, body: unknown) =>
      call(`/c/${a.cluster.id}/cosmos/service/${endpoint}`, {
        method: "POST",
        token: a.token,
        headers: { "Content-Type": mt(`service.${endpoint}-request`), Accept: mt(`service.${endpoint}-response`) },
        body: JSON.stringify(body),
      });
    const described = await ok<{
      package: { version: string };
      upgradesTo: string[];
      downgradesTo: string[];
      userProvidedOptions: unknown;
      resolvedOptions: { service: { cpus: number } };
    }>(await service("describe", { appId: "/greeter" }), mt("service.describe-response"));
    expect(described).toMatchObject({
      package: { version: "1.0.0" },
      upgradesTo: ["1.1.0"],
      downgradesTo: [],
      userProvidedOptions: { service: { name: "greeter", greeting: "hi" } },
      resolvedOptions: { service: { cpus: 0.1 } },
    });

    const merged = await ok<{ marathonDeploymentId: string; resolvedOptions: { service: { greeting: string } } }>(
      await service("update", { appId: "/greeter", options: { service: { greeting: "hey" } } }),
      mt("service.update-response"),
    );
    expect(merged.marathonDeploymentId).toMatch(/.+/);
    let [app] = await apps(a);
    expect(app).toMatchObject({ id: "/greeter", env: { GREETING: "hey" } });
    expect(JSON.parse(atob(app!.labels.DCOS_PACKAGE_OPTIONS!))).toEqual({ service: { name: "greeter", greeting: "hey" } });

    await expectCosmosError(await service("update", { appId: "/greeter", options: { service: { cpus: -1 } } }), "JsonSchemaMismatch");
    await ok(await service("update", { appId: "/greeter", packageVersion: "1.1.0" }), mt("service.update-response"));
    [app] = await apps(a);
    expect(app?.labels.DCOS_PACKAGE_VERSION).toBe("1.1.0");
    expect(app?.env?.GREETING).toBe("hey");
    // 1.1.0 lists no downgrades.
    await expectCosmosError(await service("update", { appId: "/greeter", packageVersion: "1.0.0" }), "VersionUpgradeNotSupportedInOpen");
    // replace: the stored options are dropped for the new ones (the id stays the installed app's).
    await ok(await service("update", { appId: "/greeter", options: { service: { greeting: "only this" } }, replace: true }), mt("service.update-response"));
    [app] = await apps(a);
    expect(app).toMatchObject({ id: "/greeter", env: { GREETING: "only this" } });
    expect(JSON.parse(atob(app!.labels.DCOS_PACKAGE_OPTIONS!))).toEqual({ service: { greeting: "only this" } });
    await expectCosmosError(await service("describe", { appId: "/nope" }), "MarathonAppNotFound");
  });

  it("keeps at most 16 repositories", async () => {
    const a = await signUp();
    const routes = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${REPO}/${i}`, { body: repoBody([]) }]));
    restore = fakeRepositories(routes).restore;
    for (let i = 0; i < 15; i++) await ok(await cosmos(a, "repository/add", { name: `r${i}`, uri: `${REPO}/${i}` }), mt("package.repository.add-response"));
    const err = await expectCosmosError(await cosmos(a, "repository/add", { name: "r15", uri: `${REPO}/15` }), "RepositoryLimit");
    expect(err.message).toContain("16");
  });

  it("refuses URIs that are not http(s)", async () => {
    const a = await signUp();
    await expectCosmosError(await cosmos(a, "repository/add", { name: "f", uri: "file:///etc/passwd" }), "RepositoryUriSyntax");
    await expectCosmosError(await cosmos(a, "repository/add", { name: "f", uri: "not a uri" }), "RepositoryUriSyntax");
  });

  it("refuses a template that renders invalid JSON or an invalid app, installing nothing", async () => {
    const a = await signUp();
    restore = fakeRepositories({
      [REPO]: {
        body: repoBody([
          helloPackage({ name: "broken", marathon: { v2AppMustacheTemplate: template('{"id": "{{service.name}}", "cpus": {{service.cpus}},}') } }),
          helloPackage({ name: "negative", config: undefined, marathon: { v2AppMustacheTemplate: template('{"id": "/neg", "cmd": "sleep 1", "cpus": -1}') } }),
          helloPackage({ name: "nothing", config: undefined, marathon: undefined, resource: { cli: { binaries: {} } } }),
        ]),
      },
    }).restore;
    await ok(await cosmos(a, "repository/add", { name: "company", uri: REPO }), mt("package.repository.add-response"));
    await expectCosmosError(await cosmos(a, "install", { packageName: "broken" }, { accept: mt("package.install-response", 2) }), "RenderedTemplateNotJson");
    const invalid = await expectCosmosError(
      await cosmos(a, "install", { packageName: "negative" }, { accept: mt("package.install-response", 2) }),
      "InvalidMarathonApp",
    );
    expect((invalid.data?.details as { path: string }[]).map((d) => d.path)).toEqual(["/cpus"]);
    await expectCosmosError(
      await cosmos(a, "install", { packageName: "negative", options: { a: 1 } }, { accept: mt("package.install-response", 2) }),
      "OptionsNotAllowed",
    );
    expect(await apps(a)).toEqual([]);
    // A package without a template installs nothing and says so (a CLI-only package).
    const cliOnly = await ok<Record<string, unknown>>(
      await cosmos(a, "install", { packageName: "nothing" }, { accept: mt("package.install-response", 2) }),
      mt("package.install-response", 2),
    );
    expect(cliOnly.appId).toBeUndefined();
    expect(cliOnly.cli).toEqual({ binaries: {} });
  });
});
