import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeConfig } from "../config.ts";

const MAIN = join(import.meta.dir, "..", "main.ts");

export interface DcxResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliHarness {
  /** The test's own temp dir (HOME and working directory of every run): put input files here. */
  dir: string;
  /** Runs `bun cli/main.ts args` as `npm run dcx` does, with this harness's config file. */
  dcx(args: string[], config?: string): Promise<DcxResult>;
}

/**
 * A temp HOME for `dcx` runs, removed after the file's tests. With `serve`, a pretend control
 * plane on a loopback port answers them, and the config points there, logged in to cluster k1.
 */
export function cliHarness(name: string, serve?: (req: Request) => Response | Promise<Response>): CliHarness {
  const dir = mkdtempSync(join(tmpdir(), `dcx-cli-${name}-`));
  const server = serve ? Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: serve }) : undefined;
  const config = join(dir, server ? "config.json" : "none.json");
  if (server) writeConfig(config, { url: `http://127.0.0.1:${server.port}`, token: "dcxu_t", cluster: "k1" });
  afterAll(() => {
    server?.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    async dcx(args, configPath = config) {
      const proc = Bun.spawn([process.execPath, MAIN, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? "", HOME: dir, DCX_CONFIG: configPath },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { code, stdout, stderr };
    },
  };
}
