import { z } from "zod";

/** An inclusive port range `[begin, end]`, as Mesos ranges are. */
export const PortRange = z
  .array(z.number().int().min(1).max(65535))
  .length(2, { message: "a port range is [begin, end]" })
  .refine(([begin = 0, end = 0]) => begin <= end, { message: "range begin must not exceed its end" });
export type PortRange = z.infer<typeof PortRange>;

/** What an agent offers to the cluster. cpus in cores, mem and disk in MB, as Mesos. */
export const Resources = z.strictObject({
  cpus: z.number().nonnegative().max(100_000),
  mem: z.number().nonnegative().max(1e9),
  disk: z.number().nonnegative().max(1e12),
  gpus: z.number().int().nonnegative().max(1024).default(0),
  ports: z.array(PortRange).max(64).default([]),
});
export type Resources = z.infer<typeof Resources>;

/** Agent attributes: text or number values, as Mesos `--attributes`. */
export const Attributes = z.record(
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.@-]+$/, "attribute names use letters, digits, _ . @ -"),
  z.union([z.string().max(256), z.number()]),
);
export type Attributes = z.infer<typeof Attributes>;

/**
 * The attribute an agent advertises while its Docker daemon answers, valued with the daemon's
 * server version (e.g. "28.2.2"), and leaves out otherwise. Tasks with a container are only
 * placed on agents that have it.
 */
export const DOCKER_ATTRIBUTE = "docker";

/**
 * The roles an agent offers its resources to, as in DC/OS: `*` (a private agent, the default)
 * or `slave_public` (a public agent, started with `--public`), whose resources go only to tasks
 * and frameworks that accept that role.
 */
export const PUBLIC_ROLE = "slave_public";
export const AgentRole = z.enum(["*", PUBLIC_ROLE]);
export type AgentRole = z.infer<typeof AgentRole>;
/** The attribute DC/OS public agents carry, so constraints and tools can tell them apart. */
export const PUBLIC_IP_ATTRIBUTE = "public_ip";

export const EMPTY_RESOURCES: Resources = { cpus: 0, mem: 0, disk: 0, gpus: 0, ports: [] };

/** Formats port ranges the way Mesos renders a RANGES resource: `[31000-32000, 33000-33010]`. */
export function formatRanges(ranges: readonly PortRange[]): string {
  return `[${ranges.map(([b, e]) => `${b}-${e}`).join(", ")}]`;
}

/**
 * Parses a Mesos-style resource string, e.g. `cpus:2;mem:1024;disk:4096;ports:[31000-32000]`.
 * Throws an Error naming the offending entry.
 */
export function parseResourceString(text: string): Partial<Resources> {
  const out: Partial<Resources> = {};
  for (const entry of splitEntries(text)) {
    const [name, value] = splitPair(entry);
    if (name === "ports") {
      out.ports = parseRanges(value);
    } else if (name === "cpus" || name === "mem" || name === "disk" || name === "gpus") {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`resource '${name}' must be a non-negative number, got '${value}'`);
      out[name] = n;
    } else {
      throw new Error(`unknown resource '${name}' (known: cpus, mem, disk, gpus, ports)`);
    }
  }
  return out;
}

/** Parses `[31000-32000,33000-33010]` into ranges. */
export function parseRanges(value: string): PortRange[] {
  const inner = value.trim().replace(/^\[/, "").replace(/\]$/, "").trim();
  if (inner === "") return [];
  return inner.split(",").map((part) => {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`port range '${part.trim()}' must look like 31000-32000`);
    const range = PortRange.safeParse([Number(m[1]), Number(m[2])]);
    if (!range.success) throw new Error(`port range '${part.trim()}' is invalid: ${range.error.issues[0]?.message}`);
    return range.data;
  });
}

/** Parses Mesos-style attributes, e.g. `rack:r1;zone:a;weight:3`; numeric values become numbers. */
export function parseAttributeString(text: string): Attributes {
  const out: Attributes = {};
  for (const entry of splitEntries(text)) {
    const [name, value] = splitPair(entry);
    out[name] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  const checked = Attributes.safeParse(out);
  if (!checked.success) throw new Error(`attributes: ${checked.error.issues[0]?.message}`);
  return checked.data;
}

function splitEntries(text: string): string[] {
  return text
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function splitPair(entry: string): [string, string] {
  const at = entry.indexOf(":");
  if (at <= 0 || at === entry.length - 1) throw new Error(`'${entry}' must look like name:value`);
  return [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
}
