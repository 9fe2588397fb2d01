import { describe, expect, it } from "vitest";
import { resourceUrl, resourceUrls } from "../../control/packages/resource.ts";
import type { PackageDefinition } from "../../control/packages/universe.ts";

const pkg = (resource: unknown) => ({ name: "p", version: "1", resource }) as unknown as PackageDefinition;

describe("the resources a package names (what /package/resource may fetch)", () => {
  it("collects image, asset and CLI binary URLs, not Docker image names or other schemes", () => {
    const urls = resourceUrls(
      pkg({
        images: {
          "icon-small": "https://r.example/s.png",
          "icon-large": "http://r.example/l.png",
          screenshots: ["https://r.example/1.png", "https://r.example/2.png"],
        },
        assets: { uris: { jar: "https://r.example/app.jar", local: "file:///etc/passwd" }, container: { docker: { image: "nginx:1.27" } } },
        cli: { binaries: { linux: { "x86-64": { kind: "executable", url: "https://r.example/cli", contentHash: [] } } } },
      }),
    );
    expect(urls.sort()).toEqual([
      "http://r.example/l.png",
      "https://r.example/1.png",
      "https://r.example/2.png",
      "https://r.example/app.jar",
      "https://r.example/cli",
      "https://r.example/s.png",
    ]);
    expect(resourceUrls(pkg(undefined))).toEqual([]);
  });

  it("takes only an absolute http(s) url, naming what is wrong", () => {
    expect(resourceUrl("https://r.example/s.png").href).toBe("https://r.example/s.png");
    expect(() => resourceUrl(undefined)).toThrow(expect.objectContaining({ type: "MalformedRequest" }));
    expect(() => resourceUrl("/relative.png")).toThrow(expect.objectContaining({ type: "EndpointUriSyntax" }));
    expect(() => resourceUrl("javascript:alert(1)")).toThrow(expect.objectContaining({ type: "EndpointUriSyntax" }));
  });
});
