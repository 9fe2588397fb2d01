import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { readJsonObject } from "./input.ts";

describe("readJsonObject", () => {
  const dir = mkdtempSync(join(os.tmpdir(), "dcx-input-"));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test("reads one JSON object from a file", async () => {
    expect(await readJsonObject(file("ok.json", '{"id": "/web"}'), "app definition")).toEqual({ id: "/web" });
  });

  test("names the file and what is wrong: missing, not JSON, not one object", async () => {
    await expect(readJsonObject(join(dir, "missing.json"), "job spec")).rejects.toThrow(`cannot read ${join(dir, "missing.json")}`);
    await expect(readJsonObject(file("bad.json", "{id"), "job spec")).rejects.toThrow(`${join(dir, "bad.json")} is not JSON`);
    await expect(readJsonObject(file("list.json", "[1]"), "job spec")).rejects.toThrow("must hold one job spec (a JSON object)");
    rmSync(dir, { recursive: true, force: true });
  });
});
