import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./cluster.ts";

/** The abuse limits as the local runtime runs them: the Rate Limiting bindings of wrangler.toml, simulated offline. */
describe("abuse limits on workerd (the local runtime)", () => {
  const cluster = new TestCluster();
  beforeAll(async () => {
    await cluster.start();
    await cluster.signUp();
  });
  afterAll(() => cluster.stop());

  it("limits signups per client address with the SIGNUP_LIMITER binding (5 a minute)", async () => {
    const signup = (i: number) =>
      fetch(`${cluster.url}/auth/signup`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: `rl-${Date.now()}-${i}@example.com`, password: "correct horse battery staple" }),
      });
    // The windows are aligned to the minute: one may roll over during the loop, so allow for a second one.
    let refused: Response | undefined;
    for (let i = 0; i < 11 && !refused; i++) {
      const res = await signup(i);
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(201);
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get("Retry-After")).toBe("60");
    expect(((await refused?.json()) as { message: string }).message).toContain("SIGNUP_LIMITER");
  });

  it("answers with the security headers, and a malformed token as malformed", async () => {
    const res = await fetch(`${cluster.url}/auth/me`, { headers: { Authorization: "Bearer not-a-token" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    expect(res.headers.get("Strict-Transport-Security")).toBeNull();
    expect(((await res.json()) as { message: string }).message).toMatch(/^Malformed/);
    const asset = await fetch(`${cluster.url}/assets/ui.css`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});
