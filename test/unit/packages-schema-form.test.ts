import { describe, expect, it } from "vitest";
import { deepMerge, schemaDefaults, validateOptions } from "../../control/packages/options.ts";
import { errorsByOption, optionsFromForm, schemaFields } from "../../control/ui/schema-form.tsx";

const SCHEMA = {
  type: "object",
  properties: {
    service: {
      type: "object",
      properties: {
        name: { type: "string", default: "web" },
        cpus: { type: "number", default: 0.5 },
        instances: { type: "integer", default: 1 },
        debug: { type: "boolean", default: false },
        tags: { type: "array", default: [] },
        mode: { type: "string", enum: ["a", "b"], default: "a" },
      },
      required: ["name"],
    },
    db: { type: "object", properties: { password: { type: "string" } }, required: ["password"] },
    extra: { type: "object", properties: { note: { type: "string" } }, required: ["note"] },
  },
  required: ["db"],
};

describe("the install form generated from a config schema", () => {
  it("has one field per leaf (arrays left to their defaults), required when its object requires it and it has no default", () => {
    const fields = schemaFields(SCHEMA);
    expect(fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ["service.name", "string", false],
      ["service.cpus", "number", false],
      ["service.instances", "integer", false],
      ["service.debug", "boolean", false],
      ["service.mode", "string", false],
      ["db.password", "string", true],
      // `extra` is not required, but its defaults create it, so its required `note` must be given.
      ["extra.note", "string", true],
    ]);
    expect(fields.find((f) => f.name === "service.mode")?.enum).toEqual(["a", "b"]);
  });

  it("turns posted fields into options: empty fields left to their defaults, numbers as numbers, checkboxes as booleans", () => {
    const posted: Record<string, string> = { "service.name": "", "service.cpus": "2", "service.instances": "x", "db.password": "s3cret" };
    expect(optionsFromForm(schemaFields(SCHEMA), (n) => posted[n])).toEqual({ service: { cpus: 2, instances: "x", debug: false }, db: { password: "s3cret" } });
  });

  it("puts each schema error under its field, a missing property under the property", () => {
    const fields = schemaFields(SCHEMA);
    const options = deepMerge(schemaDefaults(SCHEMA), { service: { instances: "x" } });
    const errors = errorsByOption(validateOptions(SCHEMA, options), fields);
    expect(errors["db.password"]).toEqual(["is required"]);
    expect(errors["extra.note"]).toEqual(["is required"]);
    expect(errors["service.instances"]?.[0]).toMatch(/integer/);
    expect(errors[""]).toBeUndefined();
  });
});
