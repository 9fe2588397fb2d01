import { afterEach, describe, expect, it } from "vitest";
import { helloPackage } from "../support/universe-fixture.ts";
import { type Account, call, signUp } from "./helpers.ts";
import { cosmos, expectCosmosError, fakeRepositories } from "./packages-support.ts";

const REPO = "https://repo.example/universe";
const ICON = "https://repo.example/icons/hello-small.png";
const MISSING = "https://repo.example/icons/gone.png";
const HUGE = "https://repo.example/huge.bin";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

const resource = (a: Account, url?: string) =>
  call(`/c/${a.cluster.id}/package/resource${url === undefined ? "" : `?url=${encodeURIComponent(url)}`}`, { token: a.token });

/** Cosmos's `GET /package/resource`: only what a package's resource names, fetched within bounds, served inert. */
describe("GET /package/resource", () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  async function withRepository(): Promise<Account> {
    const a = await signUp();
    const pkg = helloPackage({ resource: { images: { "icon-small": ICON, screenshots: [MISSING] }, assets: { uris: { blob: HUGE } } } });
    const fake = fakeRepositories({
      [REPO]: { body: JSON.stringify({ packages: [pkg] }) },
      [ICON]: { body: () => new Blob([PNG]).stream(), contentType: "image/png" },
      [MISSING]: { status: 404, body: "not here" },
      [HUGE]: { body: "x", contentType: "application/octet-stream", headers: { "Content-Length": String(6 * 1024 * 1024) } },
    });
    restore = fake.restore;
    const added = await cosmos(a, "repository/add", { name: "company", uri: REPO });
    expect(added.status, await added.clone().text()).toBe(200);
    return a;
  }

  it("serves a package's icon with its own type, sandboxed so an image cannot run as a page", async () => {
    const a = await withRepository();
    const res = await resource(a, ICON);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("Content-Security-Policy")).toContain("sandbox");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG);
  });

  it("refuses a URL no package names (403 Forbidden), without fetching it", async () => {
    const a = await withRepository();
    const body = await expectCosmosError(await resource(a, "https://elsewhere.example/secret"), "Forbidden", 403);
    expect(body.message).toContain("elsewhere.example");
  });

  it("names a missing, malformed or non-http url", async () => {
    const a = await signUp();
    expect((await expectCosmosError(await resource(a), "MalformedRequest")).message).toContain("'url'");
    await expectCosmosError(await resource(a, "not a url"), "EndpointUriSyntax");
    await expectCosmosError(await resource(a, "file:///etc/passwd"), "EndpointUriSyntax");
  });

  it("answers 502 when the upstream fails, and refuses a resource over the size bound", async () => {
    const a = await withRepository();
    const missing = await expectCosmosError(await resource(a, MISSING), "GenericHttpError", 502);
    expect(missing.data).toMatchObject({ clientStatus: 404 });
    await expectCosmosError(await resource(a, HUGE), "ResourceTooLarge", 400);
  });

  it("needs a member's credentials", async () => {
    const a = await withRepository();
    const res = await call(`/c/${a.cluster.id}/package/resource?url=${encodeURIComponent(ICON)}`);
    expect(res.status).toBe(401);
  });
});
