import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../control/http/env.ts";
import { HSTS, SECURITY_HEADERS, securityHeaders } from "../../control/http/security.ts";

/** An app behind the middleware whose one route answers `res`. */
function appAnswering(res: () => Response) {
  return new Hono<AppEnv>().use(securityHeaders).get("/", () => res());
}

describe("securityHeaders", () => {
  it("adds every security header a response lacks, and HSTS over HTTPS only", async () => {
    const app = appAnswering(() => new Response("x"));
    const plain = await app.request("http://dcx.test/");
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(plain.headers.get(name), name).toBe(value);
    expect(plain.headers.get("Strict-Transport-Security")).toBeNull();
    expect((await app.request("https://dcx.test/")).headers.get("Strict-Transport-Security")).toBe(HSTS);
  });

  it("keeps what a response carries, but never a nosniff that is not nosniff (a proxied task's answer)", async () => {
    const res = await appAnswering(
      () =>
        new Response("x", { headers: { "X-Content-Type-Options": "sniff", "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src 'self'" } }),
    ).request("http://dcx.test/");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("SAMEORIGIN");
    expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'self'");
    expect(res.headers.get("Referrer-Policy")).toBe(SECURITY_HEADERS["Referrer-Policy"]);
  });

  it("copies a response whose headers cannot change (one passed through) and adds them to the copy", async () => {
    const res = await appAnswering(() => Response.redirect("http://dcx.test/elsewhere", 302)).request("http://dcx.test/");
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("http://dcx.test/elsewhere");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
  });
});
