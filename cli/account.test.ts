import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeConfig } from "./config.ts";
import { cliHarness } from "./test-support/harness.ts";

/** A pretend control plane: sessions, an audit log in two pages, and a logout that revokes the token once. */
const seen: string[] = [];
let revoked = false;
const ENTRY = (id: number) => ({
  id: `c${id}`,
  at: "2026-12-01T10:00:00.000Z",
  actor: { userId: "u1", tokenId: "t1" },
  action: id % 2 ? "app.create" : "agent-token.revoke",
  target: `t${id}`,
  detail: null,
});
const { dir, dcx } = cliHarness("account", (req) => {
  const url = new URL(req.url);
  seen.push(`${req.method} ${url.pathname}${url.search}`);
  if (req.method === "POST" && url.pathname === "/auth/logout") {
    if (revoked) return Response.json({ message: "Invalid or expired API token." }, { status: 401 });
    revoked = true;
    return new Response(null, { status: 204 });
  }
  if (url.pathname === "/auth/sessions") {
    return Response.json({
      sessions: [
        {
          id: "s1",
          origin: "login",
          address: "10.0.0.1",
          userAgent: "dcx",
          createdAt: "2026-12-01T10:00:00.000Z",
          expiresAt: "2026-12-31T10:00:00.000Z",
          current: true,
        },
      ],
    });
  }
  if (req.method === "DELETE" && url.pathname === "/auth/sessions/s2") return new Response(null, { status: 204 });
  if (req.method === "DELETE" && url.pathname === "/auth/sessions/nope") return Response.json({ message: "Session 'nope' does not exist." }, { status: 404 });
  if (url.pathname === "/clusters/k1/audit") {
    const before = url.searchParams.get("before");
    return Response.json(before ? { entries: [ENTRY(1)], next: null } : { entries: [ENTRY(3), ENTRY(2)], next: "1796428518948.1.2" });
  }
  return Response.json({ message: "no route" }, { status: 404 });
});

describe("dcx session", () => {
  test("lists sessions and marks this one; revokes by id; an unknown id is the server's 404", async () => {
    const listed = await dcx(["session", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("s1");
    expect(listed.stdout).toContain("(this one)");
    expect((await dcx(["session", "revoke", "s2"])).stdout).toContain("Revoked session s2");
    const missing = await dcx(["session", "revoke", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("does not exist");
  });
});

describe("dcx audit", () => {
  test("prints the current cluster's newest entries with the command for the next page", async () => {
    const first = await dcx(["audit", "--limit", "2"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("app.create");
    expect(first.stdout).toContain("next: dcx audit --before 1796428518948.1.2");
    expect(seen).toContain("GET /clusters/k1/audit?limit=2");
    const next = await dcx(["audit", "--before", "1796428518948.1.2", "--json"]);
    expect(JSON.parse(next.stdout)).toEqual({ entries: [ENTRY(1)], next: null });
    const bad = await dcx(["audit", "--limit", "zero"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--limit");
  });
});

describe("dcx logout", () => {
  test("revokes the token on the server and removes the config; a token already revoked still logs out", async () => {
    const config = join(dir, "logout.json");
    // This config points at the pretend server the harness started (its default config holds the URL).
    const main = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { url: string };
    writeConfig(config, { url: main.url, token: "dcxu_t" });
    const out = await dcx(["logout"], config);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("Logged out");
    expect(existsSync(config)).toBe(false);
    expect(seen).toContain("POST /auth/logout");
    writeConfig(config, { url: main.url, token: "dcxu_t" });
    const again = await dcx(["logout"], config);
    expect(again.code).toBe(0);
    expect(existsSync(config)).toBe(false);
    const none = await dcx(["logout"], config);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("not logged in");
  });
});
