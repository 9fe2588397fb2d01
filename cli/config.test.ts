import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configPath, readConfig, writeConfig } from "./config.ts";
import { CliError } from "./errors.ts";

const CONFIG = { url: "http://127.0.0.1:8787", token: "dcxu_secret", cluster: "k1", email: "you@example.com" };

describe("the config file", () => {
  let dir: string;
  let umask: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dcx-cli-config-"));
    umask = process.umask(0o000);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  test("is $DCX_CONFIG, else under $XDG_CONFIG_HOME, else ~/.config/dcx/config.json", () => {
    expect(configPath({ DCX_CONFIG: "/x/y.json", XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" })).toBe("/x/y.json");
    expect(configPath({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" })).toBe("/xdg/dcx/config.json");
    expect(configPath({ HOME: "/home/u" })).toBe("/home/u/.config/dcx/config.json");
  });

  test("is written owner-only (0600) in an owner-only directory even under umask 000, and read back", () => {
    const path = join(dir, "nested", "dcx", "config.json");
    writeConfig(path, CONFIG);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "nested", "dcx")).mode & 0o777).toBe(0o700);
    expect(readConfig(path)).toEqual(CONFIG);
  });

  test("replaces an existing file atomically: the new one is 0600 whatever the old mode, and no temp file is left", () => {
    const path = join(dir, "config.json");
    writeFileSync(path, JSON.stringify({ ...CONFIG, token: "old" }));
    chmodSync(path, 0o644);
    writeConfig(path, { ...CONFIG, cluster: "k2" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ token: "dcxu_secret", cluster: "k2" });
    expect(readdirSync(dir)).toEqual(["config.json"]);
  });

  test("is undefined when missing, and an error naming the file when it is not a dcx config", () => {
    const path = join(dir, "config.json");
    expect(readConfig(path)).toBeUndefined();
    writeFileSync(path, "{not json");
    expect(() => readConfig(path)).toThrow(CliError);
    expect(() => readConfig(path)).toThrow(`${path} is not JSON`);
    writeFileSync(path, JSON.stringify({ url: "nope", token: "t" }));
    expect(() => readConfig(path)).toThrow(`${path} is not a dcx config: url:`);
  });
});
