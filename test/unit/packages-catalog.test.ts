import { describe, expect, it } from "vitest";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { BUILTIN_PACKAGES } from "../../control/packages/catalog/index.ts";
import { renderPackage } from "../../control/packages/render.ts";

const OPTIONS: Record<string, Record<string, unknown>> = {
  postgresql: { database: { password: "correct horse" } },
};

describe("the built-in catalog", () => {
  it("has a web server, a key-value store and a relational database", () => {
    expect(BUILTIN_PACKAGES.map((p) => p.name).sort()).toEqual(["nginx", "postgresql", "redis"]);
  });

  it.each(BUILTIN_PACKAGES.map((p) => [p.name, p] as const))("%s renders, with its defaults, a valid Docker app with a health check and a service label", async (name, pkg) => {
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
  });

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
