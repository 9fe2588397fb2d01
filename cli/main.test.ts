import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { writeConfig } from "./config.ts";
import { cliHarness } from "./test-support/harness.ts";

/** Runs without a control plane: the config file does not exist until a test writes one. */
const { dir, dcx } = cliHarness("main");

describe("dcx", () => {
  test("--version prints the package version", async () => {
    expect(await dcx(["--version"])).toEqual({ code: 0, stdout: `${packageJson.version}\n`, stderr: "" });
  });

  test("asks for a command with exit code 2, and lists the commands as plain text when piped", async () => {
    const bare = await dcx([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("USAGE dcx signup|login|cluster|agent|app|group|task|deployment|job|node|dns|diagnostics|logout|session|audit|package");
    const help = await dcx(["app", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("USAGE dcx app add|list|show|update|scale|restart|remove");
    expect(help.stdout).not.toContain("\x1b[");
  });

  test("refuses unknown commands and options with exit code 2 and a pointer to the help", async () => {
    expect(await dcx(["apps", "list"])).toMatchObject({ code: 2, stderr: "dcx: unknown command 'dcx apps'\nRun 'dcx --help' for usage.\n" });
    expect(await dcx(["app", "ad"])).toMatchObject({ code: 2, stderr: "dcx: unknown command 'dcx app ad'\nRun 'dcx app --help' for usage.\n" });
    expect(await dcx(["app", "list", "--jsn"])).toMatchObject({ code: 2, stderr: "dcx: unknown option '--jsn'\nRun 'dcx app list --help' for usage.\n" });
    expect(await dcx(["task", "kill"])).toMatchObject({
      code: 2,
      stderr: "dcx: Missing required positional argument: ID\nRun 'dcx task kill --help' for usage.\n",
    });
  });

  test("agent run is the agent: its own help, under the CLI's name", async () => {
    const help = await dcx(["agent", "run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toStartWith("Usage: dcx agent run --master URL --cluster ID --token TOKEN --work-dir DIR [options]");
  });

  test("a plain http URL that is not loopback needs --insecure, at login and in a stored config", async () => {
    const refused = await dcx(["login", "--url", "http://dcx.invalid:8787", "--email", "a@example.com", "--password", "pw"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--url: 'dcx.invalid:8787' is not loopback and http is plain text");
    expect(refused.stderr).toContain("--insecure");
    // With the flag the URL is taken: the run gets as far as the network (which has no such host).
    const accepted = await dcx(["login", "--url", "http://dcx.invalid:8787", "--insecure", "--email", "a@example.com", "--password", "pw"]);
    expect(accepted.stderr).toContain("cannot reach http://dcx.invalid:8787");
    const config = join(dir, "plain.json");
    writeConfig(config, { url: "http://dcx.invalid:8787", token: "dcxu_t", cluster: "k1" });
    const stored = await dcx(["app", "list"], config);
    expect(stored.code).not.toBe(0);
    expect(stored.stderr).toContain("log in again with --insecure");
    writeConfig(config, { url: "http://dcx.invalid:8787", token: "dcxu_t", cluster: "k1", insecure: true });
    expect((await dcx(["app", "list"], config)).stderr).toContain("cannot reach http://dcx.invalid:8787");
    // The agent takes the login's word for the same URL: it gets past --master to the next bad flag.
    const agentArgs = ["agent", "run", "--work-dir", join(dir, "agent"), "--backoff-max-ms", "0"];
    const trusted = await dcx(agentArgs, config);
    expect(trusted.stderr).toContain("--backoff-max-ms");
    expect(trusted.stderr).not.toContain("--insecure");
    writeConfig(config, { url: "http://dcx.invalid:8787", token: "dcxu_t", cluster: "k1" });
    expect((await dcx(agentArgs, config)).stderr).toContain("--insecure");
  });

  test("agent run takes --master and --cluster from the login when not given", async () => {
    expect(await dcx(["agent", "run"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--master is required") });
    const config = join(dir, "config.json");
    writeConfig(config, { url: "http://127.0.0.1:8787", token: "dcxu_t", cluster: "k1" });
    const run = await dcx(["agent", "run"], config);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--work-dir is required");
  });
});
