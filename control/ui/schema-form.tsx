import type { Child } from "hono/jsx";
import type { OptionError } from "../packages/options.ts";
import type { FormErrors } from "./form-errors.ts";
import { FieldErrors } from "./components.tsx";

/**
 * A form generated from a package's config schema: one field per leaf property (named by its
 * dotted path, `service.cpus`), showing its default, whether it is required, and its errors;
 * and the way back from posted fields to the options object the install validates.
 */

interface Schema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  minimum?: number;
  maximum?: number;
}

/** One field of the form: a leaf of the schema. */
export interface SchemaField {
  name: string;
  path: string[];
  label: string;
  description?: string;
  type: "string" | "number" | "integer" | "boolean";
  default?: unknown;
  enum?: string[];
  /**
   * Required by its object and without a default. The enclosing objects need not be required:
   * the defaults always create them (as Cosmos's do), so their required properties must be given.
   */
  required: boolean;
  min?: number;
  max?: number;
}

const typeOf = (s: Schema): SchemaField["type"] => {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== "null") : s.type;
  return t === "number" || t === "integer" || t === "boolean" ? t : "string";
};

/** The leaf properties of a config schema, in the schema's order. Arrays and free-form objects are left to the defaults. */
export function schemaFields(schema: Schema | undefined, prefix: string[] = []): SchemaField[] {
  const out: SchemaField[] = [];
  for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
    const path = [...prefix, key];
    const isRequired = (schema?.required ?? []).includes(key);
    if (prop.properties) {
      out.push(...schemaFields(prop, path));
      continue;
    }
    if (prop.type === "array" || prop.type === "object") continue;
    out.push({
      name: path.join("."),
      path,
      label: prop.title ?? key,
      description: prop.description,
      type: typeOf(prop),
      default: prop.default,
      enum: prop.enum?.map(String),
      required: isRequired && prop.default === undefined,
      min: prop.minimum,
      max: prop.maximum,
    });
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at = target;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    at = (typeof next === "object" && next !== null ? next : (at[key] = {})) as Record<string, unknown>;
  }
  at[path[path.length - 1] ?? ""] = value;
}

/**
 * The options a posted form asks for: an empty field is left out (its default applies), a
 * number field becomes a number when it reads as one (else the schema refuses the text), a
 * checkbox is true or false.
 */
export function optionsFromForm(fields: SchemaField[], posted: (name: string) => string | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const f of fields) {
    const raw = posted(f.name);
    if (f.type === "boolean") {
      setPath(options, f.path, raw === "true");
      continue;
    }
    const text = raw?.trim() ?? "";
    if (text === "") continue;
    setPath(options, f.path, (f.type === "number" || f.type === "integer") && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  }
  return options;
}

/**
 * Schema errors by field name. A missing required property is reported on its object
 * (`/database`), so it is moved to the property's own field; errors no field shows are under "".
 */
export function errorsByOption(errors: OptionError[], fields: SchemaField[]): FormErrors {
  const names = new Set(fields.map((f) => f.name));
  const out: FormErrors = {};
  const add = (name: string, message: string) => (out[name] = [...(out[name] ?? []), message]);
  for (const e of errors) {
    const base = e.path.split("/").filter(Boolean).join(".");
    const missing = e.keyword === "required" ? /"([^"]+)"/.exec(e.message)?.[1] : undefined;
    const name = missing ? (base ? `${base}.${missing}` : missing) : base;
    if (names.has(name)) add(name, missing ? "is required" : e.message);
    else add("", `${name || "options"}: ${e.message}`);
  }
  return out;
}

const display = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));

/** One field of the generated form, its default filled in (or what was posted), its errors beneath. */
export function OptionField(props: { field: SchemaField; value?: string; errors?: string[] }) {
  const f = props.field;
  const id = `opt-${f.name.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
  const errors = props.errors ?? [];
  const value = props.value ?? display(f.default);
  const hint = [f.description, f.default !== undefined ? `Default: ${display(f.default) || "(empty)"}.` : ""].filter(Boolean).join(" ");
  const described = [hint ? `${id}-hint` : "", errors.length ? `${id}-errors` : ""].filter(Boolean).join(" ") || undefined;
  const common = { id, name: f.name, "aria-invalid": errors.length ? "true" : undefined, "aria-describedby": described };
  let input: Child;
  if (f.type === "boolean") input = <input {...common} type="checkbox" value="true" checked={value === "true"} />;
  else if (f.enum) {
    input = (
      <select {...common} required={f.required}>
        {f.enum.map((o) => (
          <option value={o} selected={o === value}>
            {o}
          </option>
        ))}
      </select>
    );
  } else {
    const numeric = f.type === "number" || f.type === "integer";
    const type = numeric ? "number" : /password|secret/i.test(f.name) ? "password" : "text";
    input = (
      <input
        {...common}
        type={type}
        value={value}
        required={f.required}
        step={numeric ? (f.type === "integer" ? "1" : "any") : undefined}
        min={f.min}
        max={f.max}
        autocomplete="off"
      />
    );
  }
  return (
    <div class={errors.length ? "field field-invalid" : "field"}>
      <label for={id}>{`${f.label}${f.required ? " (required)" : ""}`}</label>
      {input}
      <p class="hint" id={`${id}-hint`}>
        <code>{f.name}</code>
        {hint ? ` — ${hint}` : ""}
      </p>
      <FieldErrors id={id} errors={errors} />
    </div>
  );
}
