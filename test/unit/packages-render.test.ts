import { describe, expect, it } from "vitest";
import { CosmosError } from "../../control/packages/errors.ts";
import { decodeDefinition, decodeOptions } from "../../control/packages/labels.ts";
import { deepMerge, schemaDefaults, validateOptions } from "../../control/packages/options.ts";
import { renderPackage, renderTemplate } from "../../control/packages/render.ts";
import { parseRepository, type PackageDefinition } from "../../control/packages/universe.ts";
import { HELLO_CONFIG, helloPackage, template } from "../support/universe-fixture.ts";

function pkg(overrides: Record<string, unknown> = {}): PackageDefinition {
  const r = parseRepository({ packages: [helloPackage(overrides)] });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.packages[0]!;
}

async function cosmosError(p: Promise<unknown>): Promise<CosmosError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CosmosError) return err;
    throw err;
  }
  throw new Error("expected a CosmosError");
}

describe("options", () => {
  it("extracts defaults as Cosmos does, nested objects included even without defaults", () => {
    expect(
      schemaDefaults({
        properties: { a: { default: 1 }, b: { type: "string" }, c: { properties: { d: { default: [1] }, e: { type: "integer" } } }, f: { properties: {} } },
      }),
    ).toEqual({
      a: 1,
      c: { d: [1] },
      f: {},
    });
  });

  it("merges deeply, the user winning, arrays replaced", () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: null })).toEqual({ a: { b: 1, c: [3] }, d: 1, e: null });
  });

  it("names the JSON path of each failure, not the enclosing objects", () => {
    const merged = deepMerge(schemaDefaults(HELLO_CONFIG), { service: { cpus: "lots", mem: 4, extra: true } });
    const errors = validateOptions(HELLO_CONFIG, merged);
    expect(errors.map((e) => e.path).sort()).toEqual(["/service", "/service/cpus", "/service/extra", "/service/mem"]);
    expect(errors.find((e) => e.path === "/service/mem")?.keyword).toBe("minimum");
    expect(validateOptions(HELLO_CONFIG, schemaDefaults(HELLO_CONFIG))).toEqual([]);
  });

  it("does not change the schema it validates against", () => {
    const schema = structuredClone(HELLO_CONFIG);
    validateOptions(schema, {});
    expect(schema).toEqual(HELLO_CONFIG);
  });
});

describe("rendering", () => {
  it("inserts strings JSON-escaped, without HTML escaping, and asJson emits raw JSON", () => {
    const out = renderTemplate('{"a": "{{x}}", "b": {{#asJson}}list{{/asJson}}, "c": {{n}}}', { x: 'say "<hi>"\n', list: ["a", 1], n: 2 });
    expect(JSON.parse(out)).toEqual({ a: 'say "<hi>"\n', b: ["a", 1], c: 2 });
  });

  it("renders defaults + options into an app with resource in scope and the package labels", async () => {
    const p = pkg();
    const { app, resolvedOptions } = await renderPackage(p, "https://repo.example/universe", { service: { greeting: "hey" }, other: null });
    expect(resolvedOptions).toMatchObject({ service: { name: "hello", cpus: 0.1, greeting: "hey" } });
    expect(app).toMatchObject({ id: "hello", cpus: 0.1, mem: 32, env: { GREETING: "hey", ICON: "https://example.com/i.png" } });
    const labels = app!.labels as Record<string, string>;
    expect(labels.DCOS_SERVICE_NAME).toBe("hello");
    // The template may not forge the package labels.
    expect(labels.DCOS_PACKAGE_NAME).toBe("hello");
    expect(labels.DCOS_PACKAGE_VERSION).toBe("1.0.0");
    expect(labels.DCOS_PACKAGE_SOURCE).toBe("https://repo.example/universe");
    expect(decodeOptions(labels.DCOS_PACKAGE_OPTIONS)).toEqual({ service: { greeting: "hey" } });
    const envelope = JSON.parse(atob(labels.DCOS_PACKAGE_DEFINITION!)) as { metadata: Record<string, string> };
    expect(envelope.metadata).toEqual({ "Content-Type": "application/vnd.dcos.universe.package+json;charset=utf-8;version=v4", "Content-Encoding": "gzip" });
    expect(await decodeDefinition(labels.DCOS_PACKAGE_DEFINITION)).toMatchObject({ name: "hello", version: "1.0.0", releaseVersion: 1 });
  });

  it("overrides the id with appId", async () => {
    const { app } = await renderPackage(pkg(), "src", {}, "/team/hello");
    expect(app?.id).toBe("/team/hello");
  });

  it("refuses options that break the schema, naming the path", async () => {
    const err = await cosmosError(renderPackage(pkg(), "src", { service: { cpus: -1 } }));
    expect(err.type).toBe("JsonSchemaMismatch");
    expect(err.status).toBe(400);
    expect(err.message).toContain("/service/cpus");
    expect(err.data?.errors).toEqual([
      { path: "/service/cpus", keyword: "minimum", message: expect.any(String), level: "error", instance: { pointer: "/service/cpus" } },
    ]);
  });

  it("refuses options for a package without a config schema", async () => {
    const err = await cosmosError(renderPackage(pkg({ config: undefined }), "src", { a: 1 }));
    expect(err.type).toBe("OptionsNotAllowed");
  });

  it("refuses a template that renders invalid JSON or not an object", async () => {
    expect((await cosmosError(renderPackage(pkg({ marathon: { v2AppMustacheTemplate: template('{"id": {{service.name}}}') } }), "src"))).type).toBe(
      "RenderedTemplateNotJson",
    );
    expect((await cosmosError(renderPackage(pkg({ marathon: { v2AppMustacheTemplate: template("[1]") } }), "src"))).type).toBe(
      "MarathonTemplateMustBeJsonObject",
    );
    expect((await cosmosError(renderPackage(pkg({ marathon: { v2AppMustacheTemplate: template("{{#a}}") } }), "src"))).type).toBe("RenderedTemplateNotJson");
  });

  it("a string option cannot break out of its JSON string", async () => {
    const { app } = await renderPackage(pkg(), "src", { service: { greeting: '", "cmd": "rm -rf /' } });
    expect(app?.cmd).toBe("sleep 1000");
    expect((app?.env as Record<string, string>).GREETING).toBe('", "cmd": "rm -rf /');
  });

  it("a package without a template renders no app", async () => {
    expect((await renderPackage(pkg({ marathon: undefined }), "src")).app).toBeUndefined();
  });
});
