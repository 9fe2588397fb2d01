import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliHarness } from "./test-support/harness.ts";

/** `dcx secret` against a pretend control plane that records what it is asked. */
const asked: { method: string; path: string; body: unknown }[] = [];
const h = cliHarness("secret", async (req) => {
  const url = new URL(req.url);
  const body = req.method === "GET" || req.method === "DELETE" ? undefined : await req.json().catch(() => undefined);
  asked.push({ method: req.method, path: url.pathname, body });
  if (url.pathname === "/c/k1/secrets") return Response.json([{ path: "team/db", createdAt: Date.UTC(2026, 11, 5), updatedAt: Date.UTC(2026, 11, 5, 1) }]);
  if (url.pathname === "/c/k1/secrets/v1/secret/default/team/db" && req.method === "PUT") return new Response(null, { status: 201 });
  if (url.pathname === "/c/k1/secrets/v1/secret/default/team/db" && req.method === "PATCH") return new Response(null, { status: 204 });
  if (url.pathname === "/c/k1/secrets/v1/secret/default/team/db" && req.method === "DELETE")
    return Response.json({ message: "The secret 'team/db' is in use by /web: remove it from their secrets first." }, { status: 409 });
  return Response.json({ message: "not found" }, { status: 404 });
});

describe("dcx secret", () => {
  test("create and update send the file's value (its trailing newline dropped); list shows paths only; remove reports the refusal", async () => {
    const file = join(tmpdir(), `dcx-secret-${process.pid}`);
    writeFileSync(file, "hunter2\n");
    const created = await h.dcx(["secret", "create", "team/db", "--file", file]);
    expect(created.code).toBe(0);
    expect(asked.at(-1)).toEqual({ method: "PUT", path: "/c/k1/secrets/v1/secret/default/team/db", body: { value: "hunter2" } });
    expect(created.stdout).toContain('"source": "team/db"');
    expect(created.stdout).not.toContain("hunter2");
    expect((await h.dcx(["secret", "update", "team/db", "--file", file])).code).toBe(0);
    expect(asked.at(-1)?.method).toBe("PATCH");
    const listed = await h.dcx(["secret", "list"]);
    expect(listed.stdout).toMatch(/team\/db\s+2026-12-05T00:00:00Z\s+2026-12-05T01:00:00Z/);
    const removed = await h.dcx(["secret", "remove", "team/db"]);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toContain("in use by /web");
    expect((await h.dcx(["secret", "create", "x", "--file", "/nonexistent/file"])).stderr).toContain("cannot read /nonexistent/file");
  });
});
