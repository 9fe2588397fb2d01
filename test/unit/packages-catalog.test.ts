import { describe, expect, it } from "vitest";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { parseJob } from "../../control/cluster/frameworks/metronome/job-spec.ts";
import { BUILTIN_PACKAGES } from "../../control/packages/catalog/index.ts";
import { renderPackage } from "../../control/packages/render.ts";

const OPTIONS: Record<string, Record<string, unknown>> = {
  postgresql: { database: { password: "correct horse" } },
};

describe("the built-in catalog", () => {
  it("has a web server, a key-value store, a relational database, a job and a framework", () => {
    expect(BUILTIN_PACKAGES.map((p) => p.name).sort()).toEqual(["hello-world", "http-check", "nginx", "postgresql", "redis"]);
    expect(BUILTIN_PACKAGES.filter((p) => p.framework).map((p) => p.name)).toEqual(["hello-world"]);
  });

  it("the job-style package renders a valid scheduled Metronome job; a URL cannot break out of its quotes", async () => {
    const pkg = BUILTIN_PACKAGES.find((p) => p.name === "http-check")!;
    const { app, kind } = await renderPackage(pkg, "builtin:dcx-universe", { check: { url: "http://web.marathon.mesos:8080/health" } });
    expect(kind).toBe("job");
    const parsed = parseJob(app);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.spec.run.cmd).toBe("curl -fsS -o /dev/null --max-time 10 'http://web.marathon.mesos:8080/health'");
    expect(parsed.spec.run.docker?.image).toBe("curlimages/curl:8.11.1");
    expect(parsed.schedules?.[0]).toMatchObject({ cron: "*/5 * * * *", concurrencyPolicy: "FORBID" });
    expect(parsed.spec.labels.DCOS_PACKAGE_NAME).toBe("http-check");
    await expect(renderPackage(pkg, "src", { check: { url: "http://x/'; rm -rf / #" } })).rejects.toMatchObject({ type: "JsonSchemaMismatch" });
  });

  it.each(BUILTIN_PACKAGES.filter((p) => !p.metronome && !p.framework).map((p) => [p.name, p] as const))(
    "%s renders, with its defaults, a valid Docker app with a health check and a service label",
    async (name, pkg) => {
      const { app } = await renderPackage(pkg, "builtin:dcx-universe", OPTIONS[name] ?? {});
      const parsed = parseAppDefinition(app);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
      expect(parsed.app.id).toBe(`/${name}`);
      expect(parsed.app.container?.docker?.image).toMatch(new RegExp(`^${name === "postgresql" ? "postgres" : name}:`));
      expect(parsed.app.healthChecks.length).toBeGreaterThan(0);
      expect(parsed.app.labels.DCOS_SERVICE_NAME).toBe(name);
      expect(parsed.app.cmd).toBeUndefined();
      expect(parsed.app.args?.length).toBeGreaterThan(0);
      // Every default also passes the schema on its own: only PostgreSQL asks for a value (its password).
      if (!OPTIONS[name]) expect(parsed.app.instances).toBe(1);
    },
  );

  it("runs another image with a command when the options say so", async () => {
    const pkg = BUILTIN_PACKAGES.find((p) => p.name === "nginx")!;
    const { app } = await renderPackage(pkg, "src", { service: { image: "dcx-test/busybox:1", cmd: "httpd -f -p 80 -h /www" } });
    const parsed = parseAppDefinition(app);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.app.cmd).toBe("httpd -f -p 80 -h /www");
    expect(parsed.app.args ?? []).toEqual([]);
    expect(parsed.app.container?.docker?.image).toBe("dcx-test/busybox:1");
  });
});
