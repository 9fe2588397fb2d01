import { describe, expect, test } from "bun:test";
import { defineCommand } from "citty";
import { checkArguments, parseCount, parseSeconds, resolveCommand, variadic } from "./command.ts";
import { UsageError } from "./errors.ts";

const add = defineCommand({
  meta: { name: "add" },
  args: {
    file: { type: "positional", required: true },
    wait: { type: "boolean", default: true },
    timeout: { type: "string", alias: "t" },
    json: { type: "boolean" },
  },
});
const kill = variadic(defineCommand({ meta: { name: "kill" }, args: { id: { type: "positional", required: true }, scale: { type: "boolean" } } }));
const root = defineCommand({ meta: { name: "dcx" }, subCommands: { app: defineCommand({ subCommands: { add } }), kill } });

const rejects = async (argv: string[], message: string) => {
  const error = await checkArguments(add, argv).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  expect((error as Error).message).toBe(message);
};

describe("checkArguments", () => {
  test("accepts declared flags, their negations, aliases, inline values and '-' for stdin", async () => {
    await checkArguments(add, ["app.json", "--no-wait", "--timeout", "10m", "--json"]);
    await checkArguments(add, ["-", "-t", "5", "--timeout=30", "--wait"]);
  });

  test("refuses an undeclared flag, naming it", async () => {
    await rejects(["app.json", "--no-wiat"], "unknown option '--no-wiat'");
    await rejects(["app.json", "--force=1"], "unknown option '--force'");
    await rejects(["app.json", "-x"], "unknown option '-x'");
  });

  test("refuses a string flag with no value, or with the next flag where its value should be", async () => {
    await rejects(["app.json", "--timeout"], "option '--timeout' needs a value");
    await rejects(["app.json", "--timeout", "--json"], "option '--timeout' needs a value");
  });

  test("refuses surplus arguments unless the command is variadic", async () => {
    await rejects(["a.json", "b.json"], "too many arguments (expected at most 1)");
    await checkArguments(kill, ["t1", "t2", "t3", "--scale"]);
  });
});

describe("resolveCommand", () => {
  test("walks subcommands and leaves the rest for the command", async () => {
    const found = await resolveCommand(root, ["app", "add", "x.json", "--json"], "dcx");
    expect(found).toMatchObject({ path: ["dcx", "app", "add"], rest: ["x.json", "--json"], group: false });
    expect(found.cmd.meta).toEqual({ name: "add" });
  });

  test("reports a group named without a subcommand, and an unknown command", async () => {
    expect(await resolveCommand(root, ["app", "--json"], "dcx")).toMatchObject({ path: ["dcx", "app"], group: true });
    await expect(resolveCommand(root, ["app", "ad"], "dcx")).rejects.toMatchObject({ message: "unknown command 'dcx app ad'", helpPath: ["dcx", "app"] });
  });
});

describe("argument values", () => {
  test("durations are seconds, or with a unit", () => {
    expect(parseSeconds("timeout", "90")).toBe(90);
    expect(parseSeconds("timeout", "1.5m")).toBe(90);
    expect(parseSeconds("expires", "24h")).toBe(86_400);
    expect(parseSeconds("expires", "7d")).toBe(604_800);
    expect(() => parseSeconds("timeout", "soon")).toThrow("--timeout: 'soon' is not a duration");
  });

  test("counts are whole numbers", () => {
    expect(parseCount("N", "3")).toBe(3);
    expect(() => parseCount("N", "-1")).toThrow(UsageError);
    expect(() => parseCount("N", "2.5")).toThrow("N: '2.5' is not a whole number");
  });
});
