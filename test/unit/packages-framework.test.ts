import { describe, expect, it } from "vitest";
import { parseAppDefinition } from "../../control/cluster/frameworks/marathon/app-definition.ts";
import { HELLO_WORLD_SCHEDULER } from "../../control/packages/catalog/hello-world-scheduler.ts";
import { BUILTIN_PACKAGES } from "../../control/packages/catalog/index.ts";
import {
  ACCOUNT_LABEL,
  FRAMEWORK_ID_LABEL,
  keepFramework,
  principalFor,
  SCHEDULER_ENV,
  SECRET_NAME,
  withFramework,
  type FrameworkScope,
} from "../../control/packages/framework-install.ts";
import { renderPackage } from "../../control/packages/render.ts";

const pkg = BUILTIN_PACKAGES.find((p) => p.name === "hello-world")!;
const scope = { clusterUrl: "https://dcx.example/c/abc" } as FrameworkScope;
const account = { id: "acc1", principal: "hello-world-principal", secret: `dcxs_${"x".repeat(43)}` };

describe("the hello-world framework package", () => {
  it("renders, with its defaults, one scheduler on the bun image, health-checked, with its service label and worker settings", async () => {
    const { app } = await renderPackage(pkg, "builtin:dcx-universe", {});
    const parsed = parseAppDefinition(app);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.app).toMatchObject({ id: "/hello-world", instances: 1, upgradeStrategy: { minimumHealthCapacity: 0, maximumOverCapacity: 0 } });
    expect(parsed.app.container?.docker).toMatchObject({ image: "oven/bun:1.1.38-alpine", network: "HOST" });
    expect(parsed.app.healthChecks[0]).toMatchObject({ protocol: "MESOS_HTTP", path: "/health", portIndex: 0 });
    expect(parsed.app.labels).toMatchObject({ DCOS_SERVICE_NAME: "hello-world", DCOS_PACKAGE_FRAMEWORK_NAME: "hello-world", DCOS_PACKAGE_NAME: "hello-world" });
    expect(parsed.app.env).toMatchObject({ WORKER_COUNT: "2", WORKER_CPUS: "0.1", WORKER_MEM: "32", FRAMEWORK_USER: "nobody" });
    const shipped = Uint8Array.from(atob(String(parsed.app.env.DCX_SCHEDULER_JS)), (ch) => ch.charCodeAt(0));
    expect(new TextDecoder().decode(shipped)).toBe(HELLO_WORLD_SCHEDULER);
  });

  it("runs on the agent's host when the image is empty", async () => {
    const { app } = await renderPackage(pkg, "src", { service: { image: "" }, hello: { count: 5 } });
    const parsed = parseAppDefinition(app);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.app.container).toBeUndefined();
    expect(parsed.app.env.WORKER_COUNT).toBe("5");
  });

  it("refuses options outside the schema: too many workers, a principal with a space", async () => {
    await expect(renderPackage(pkg, "src", { hello: { count: 101 } })).rejects.toMatchObject({ type: "JsonSchemaMismatch" });
    await expect(renderPackage(pkg, "src", { service: { service_account: "a b" } })).rejects.toMatchObject({ type: "JsonSchemaMismatch" });
  });

  it("names the principal from the option, else from the app id", () => {
    expect(principalFor({ service: { service_account: "team-hello" } }, "/hello")).toBe("team-hello");
    expect(principalFor({ service: { service_account: "" } }, "/team/hello")).toBe("team-hello-principal");
    expect(principalFor({}, "/hello-world")).toBe("hello-world-principal");
  });

  it("gives the scheduler its secret by reference to the store; no field of the app holds it", () => {
    const app = withFramework(
      { id: "/hello-world", env: { A: "1" }, secrets: { own: { source: "x" } }, labels: { L: "2" } },
      scope,
      account,
      "/hello-world",
      "fw-1",
    );
    expect(app.env).toEqual({
      A: "1",
      [SCHEDULER_ENV.url]: "https://dcx.example/c/abc/api/v1/scheduler",
      [SCHEDULER_ENV.principal]: "hello-world-principal",
      [SCHEDULER_ENV.secret]: { secret: SECRET_NAME },
      [SCHEDULER_ENV.frameworkId]: "fw-1",
    });
    expect(app.secrets).toEqual({ own: { source: "x" }, [SECRET_NAME]: { source: "hello-world/service-account-secret" } });
    expect(app.labels).toEqual({ L: "2", [ACCOUNT_LABEL]: "acc1", [FRAMEWORK_ID_LABEL]: "fw-1" });
    expect(JSON.stringify(app)).not.toContain(account.secret);
  });

  it("keeps the install's credentials and framework id when the app is re-rendered (service/update)", () => {
    const installed = withFramework({ id: "/hello-world" }, scope, account, "/hello-world", "fw-1");
    const rerendered = keepFramework(
      { id: "/hello-world", env: { WORKER_COUNT: "3" }, labels: {} },
      installed as { env: Record<string, unknown>; secrets: Record<string, unknown>; labels: Record<string, string> },
    );
    expect(rerendered.env).toMatchObject({ WORKER_COUNT: "3", [SCHEDULER_ENV.secret]: { secret: SECRET_NAME }, [SCHEDULER_ENV.frameworkId]: "fw-1" });
    expect(rerendered.secrets).toEqual({ [SECRET_NAME]: { source: "hello-world/service-account-secret" } });
    expect(rerendered.labels).toEqual({ [ACCOUNT_LABEL]: "acc1", [FRAMEWORK_ID_LABEL]: "fw-1" });
    // An app that is not a framework install is left alone.
    expect(keepFramework({ id: "/x" }, { labels: {} })).toEqual({ id: "/x" });
  });
});
