import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { optionRows } from "./commands/package.ts";
import { cliHarness } from "./test-support/harness.ts";

const CONFIG = {
  type: "object",
  properties: {
    service: { type: "object", properties: { name: { type: "string", default: "redis" }, cpus: { type: "number", default: 0.5 } }, required: ["name"] },
    database: { type: "object", properties: { password: { type: "string" } }, required: ["password"] },
  },
  required: ["database"],
};
const REDIS = {
  name: "redis",
  version: "7.4.1-0.1.0",
  maintainer: "m@example.com",
  description: "Redis, the key-value store",
  tags: ["kv"],
  preInstallNotes: "In memory only.",
  config: CONFIG,
};

/** A pretend Cosmos: answers each endpoint and records what it was sent. */
const sent: { endpoint: string; body: Record<string, unknown> }[] = [];
const { dir, dcx } = cliHarness("package", async (req) => {
  const endpoint = new URL(req.url).pathname.replace(/^\/c\/k1\/(package|cosmos)\//, "");
  const body = (await req.json()) as Record<string, unknown>;
  sent.push({ endpoint, body });
  const error = (type: string, message: string, data?: unknown) =>
    Response.json({ type, message, data }, { status: 400, headers: { "Content-Type": "application/vnd.dcos.package.error+json;charset=utf-8;version=v1" } });
  switch (endpoint) {
    case "search":
      return Response.json({
        packages: [
          { name: "redis", currentVersion: "7.4.1-0.1.0", versions: {}, description: "Redis, the key-value store", framework: false, selected: true, tags: [] },
        ],
      });
    case "describe":
      return body.packageName === "redis" ? Response.json({ package: REDIS }) : error("PackageNotFound", `Package [${String(body.packageName)}] not found`);
    case "list-versions":
      return Response.json({ results: { "7.4.1-0.1.0": "0" } });
    case "install":
      if ((body.options as { service?: { cpus?: unknown } } | undefined)?.service?.cpus === "x") {
        return error("JsonSchemaMismatch", "Options do not match the config schema of redis", {
          errors: [{ path: "/service/cpus", keyword: "type", message: "must be a number" }],
        });
      }
      return Response.json({ packageName: "redis", packageVersion: "7.4.1-0.1.0", appId: body.appId ?? "/redis", postInstallNotes: "Redis is starting." });
    case "uninstall":
      return Response.json({
        results: [
          { packageName: "redis", appId: "/redis", packageVersion: "7.4.1-0.1.0" },
          { packageName: "redis", appId: "/r2", packageVersion: "7.4.1-0.1.0" },
        ],
      });
    case "service/update":
      return Response.json({ package: { name: "redis", version: "7.4.1-0.1.0" }, resolvedOptions: {}, marathonDeploymentId: "d7" });
    case "list":
      return Response.json({ packages: [{ appId: "/redis", packageInformation: { packageDefinition: { name: "redis", version: "7.4.1-0.1.0" } } }] });
    default:
      return Response.json({
        repositories: [
          { name: "company", uri: "https://repo.example/" },
          { name: "dcx-universe", uri: "builtin:dcx-universe" },
        ],
      });
  }
});
const last = () => sent.at(-1);

describe("dcx package", () => {
  test("lists each leaf option with its default, and which are required", () => {
    expect(optionRows(CONFIG)).toEqual([
      ["service.name", "string", '"redis"', ""],
      ["service.cpus", "number", "0.5", ""],
      ["database.password", "string", "", "required"],
    ]);
  });

  test("search prints a table; describe shows versions, notes and options", async () => {
    const found = await dcx(["package", "search", "key"]);
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(/^NAME\s+VERSION\s+SELECTED\s+FRAMEWORK\s+DESCRIPTION\nredis\s+7\.4\.1-0\.1\.0\s+true\s+false\s+Redis/);
    expect(last()).toEqual({ endpoint: "search", body: { query: "key" } });
    const shown = await dcx(["package", "describe", "redis"]);
    expect(shown.stdout).toContain("Versions:     7.4.1-0.1.0");
    expect(shown.stdout).toContain("Before installing: In memory only.");
    expect(shown.stdout).toMatch(/database\.password\s+string\s+-\s+required/);
    const schema = await dcx(["package", "describe", "redis", "--config"]);
    expect(JSON.parse(schema.stdout)).toEqual(CONFIG);
  });

  test("install needs --yes without a terminal, then sends the options file and app id", async () => {
    const refused = await dcx(["package", "install", "redis"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    expect(sent.some((s) => s.endpoint === "install")).toBe(false);
    const file = join(dir, "options.json");
    writeFileSync(file, JSON.stringify({ service: { cpus: 1 } }));
    const done = await dcx(["package", "install", "redis", "--options", file, "--app-id", "/cache/redis", "--yes"]);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe("Installed redis 7.4.1-0.1.0 as /cache/redis.\nRedis is starting.\n");
    expect(last()).toEqual({ endpoint: "install", body: { packageName: "redis", options: { service: { cpus: 1 } }, appId: "/cache/redis" } });
  });

  test("a Cosmos error is reported with its message and the JSON paths it names", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ service: { cpus: "x" } }));
    const bad = await dcx(["package", "install", "redis", "--options", file, "--yes"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Options do not match the config schema of redis (HTTP 400)");
    expect(bad.stderr).toContain("/service/cpus: must be a number");
    const unknown = await dcx(["package", "describe", "nope"]);
    expect(unknown.stderr).toContain("Package [nope] not found");
    const notJson = join(dir, "not.json");
    writeFileSync(notJson, "{");
    expect((await dcx(["package", "install", "redis", "--options", notJson, "--yes"])).stderr).toContain("is not JSON");
  });

  test("update sends the options file, version and replace flag to Cosmos's service API", async () => {
    const file = join(dir, "update.json");
    writeFileSync(file, JSON.stringify({ redis: { maxmemory_mb: 64 } }));
    const done = await dcx(["package", "update", "/redis", "--options", file, "--replace"]);
    expect(done.stdout).toBe("Updating /redis to redis 7.4.1-0.1.0 (deployment d7).\n");
    expect(last()).toEqual({ endpoint: "service/update", body: { appId: "/redis", options: { redis: { maxmemory_mb: 64 } }, replace: true } });
  });

  test("uninstall and list", async () => {
    const gone = await dcx(["package", "uninstall", "redis", "--all"]);
    expect(gone.stdout).toBe("Uninstalled redis 7.4.1-0.1.0 (/redis).\nUninstalled redis 7.4.1-0.1.0 (/r2).\n");
    expect(last()).toEqual({ endpoint: "uninstall", body: { packageName: "redis", all: true } });
    const listed = await dcx(["package", "list", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual([{ appId: "/redis", packageInformation: { packageDefinition: { name: "redis", version: "7.4.1-0.1.0" } } }]);
  });

  test("repo add, list and remove", async () => {
    const added = await dcx(["package", "repo", "add", "company", "https://repo.example/", "--index", "0"]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^NAME\s+URI\ncompany\s+https:\/\/repo\.example\/\ndcx-universe\s+builtin:dcx-universe\n$/);
    expect(last()).toEqual({ endpoint: "repository/add", body: { name: "company", uri: "https://repo.example/", index: 0 } });
    expect((await dcx(["package", "repo", "add", "x", "https://x/", "--index", "first"])).code).toBe(2);
    await dcx(["package", "repo", "remove", "company"]);
    expect(last()).toEqual({ endpoint: "repository/delete", body: { name: "company" } });
    await dcx(["package", "repo", "list"]);
    expect(last()?.endpoint).toBe("repository/list");
  });
});
