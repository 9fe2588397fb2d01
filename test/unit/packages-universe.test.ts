import { describe, expect, it } from "vitest";
import { decodeTemplate, parseRepository } from "../../control/packages/universe.ts";
import { HELLO_TEMPLATE, helloPackage } from "../support/universe-fixture.ts";

const paths = (r: ReturnType<typeof parseRepository>) => (r.ok ? [] : r.errors.map((e) => e.path));

describe("Universe repositories", () => {
  it("parses packages of each packaging version 2.0 to 5.0", () => {
    const r = parseRepository({
      packages: [
        helloPackage({ packagingVersion: "2.0", version: "0.1 beta", releaseVersion: undefined, command: { pip: ["hello-cli"] } }),
        helloPackage({ packagingVersion: "3.0", version: "0.2", releaseVersion: 2, minDcosReleaseVersion: "1.10" }),
        helloPackage({ packagingVersion: "4.0", version: "0.3", releaseVersion: 3, upgradesFrom: ["*"] }),
        helloPackage({ packagingVersion: "5.0", version: "0.4", releaseVersion: 4, lastUpdated: 1700000000, hasKnownIssues: false }),
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packages.map((p) => [p.packagingVersion, p.version, p.releaseVersion])).toEqual([
      ["2.0", "0.1 beta", 0],
      ["3.0", "0.2", 2],
      ["4.0", "0.3", 3],
      ["5.0", "0.4", 4],
    ]);
    expect(decodeTemplate(r.packages[0]!)).toBe(HELLO_TEMPLATE);
  });

  it("applies each version's own rules and names the path", () => {
    const r = parseRepository({
      packages: [
        helloPackage({ packagingVersion: "3.0", releaseVersion: undefined }),
        helloPackage({ packagingVersion: "3.0", version: "1.0 beta" }),
        helloPackage({ packagingVersion: "4.0", command: { pip: ["x"] } }),
        helloPackage({ packagingVersion: "4.0", version: "2", hasKnownIssues: true }),
        helloPackage({ packagingVersion: "3.0", version: "3", upgradesFrom: ["*"] }),
        helloPackage({ packagingVersion: "2.0", version: "4", minDcosReleaseVersion: "1.10" }),
      ],
    });
    expect(paths(r)).toEqual([
      "/packages/0/releaseVersion",
      "/packages/1/version",
      "/packages/2/command",
      "/packages/3/hasKnownIssues",
      "/packages/4/upgradesFrom",
      "/packages/5/minDcosReleaseVersion",
    ]);
  });

  it("refuses what is not a repository, bad names, tags and templates", () => {
    expect(paths(parseRepository([1, 2]))).toEqual(["/"]);
    expect(paths(parseRepository({ pkgs: [] }))).toEqual(["/packages"]);
    expect(paths(parseRepository({ packages: [helloPackage({ name: "Hello World" })] }))).toEqual(["/packages/0/name"]);
    expect(paths(parseRepository({ packages: [helloPackage({ tags: ["two words"] })] }))).toEqual(["/packages/0/tags/0"]);
    expect(paths(parseRepository({ packages: [helloPackage({ marathon: { v2AppMustacheTemplate: "not base64!" } })] }))).toEqual([
      "/packages/0/marathon/v2AppMustacheTemplate",
    ]);
    expect(paths(parseRepository({ packages: [helloPackage({ packagingVersion: "6.0" })] }))).toEqual(["/packages/0/packagingVersion"]);
    expect(paths(parseRepository({ packages: [helloPackage({ config: { type: "array" } })] }))).toEqual(["/packages/0/config/type"]);
    expect(paths(parseRepository({ packages: [helloPackage({ maintainer: undefined })] }))).toEqual(["/packages/0/maintainer"]);
    expect(paths(parseRepository({ packages: [helloPackage({ metronome: { v1JobMustacheTemplate: "e30=" } })] }))).toEqual(["/packages/0/metronome"]);
  });

  it("refuses a package newer than the repository's media type, and duplicate versions", () => {
    const v5 = { packages: [helloPackage({ packagingVersion: "5.0" })] };
    expect(parseRepository(v5, 5).ok).toBe(true);
    expect(paths(parseRepository(v5, 4))).toEqual(["/packages/0/packagingVersion"]);
    expect(paths(parseRepository(v5, 3))).toEqual(["/packages/0/packagingVersion"]);
    expect(paths(parseRepository({ packages: [helloPackage(), helloPackage()] }))).toEqual(["/packages/1/version"]);
  });

  it("refuses a package larger than the bound", () => {
    const big = helloPackage({
      description: "x".repeat(60_000),
      preInstallNotes: "y".repeat(60_000),
      config: { type: "object", description: "z".repeat(600_000) },
    });
    expect(paths(parseRepository({ packages: [big] }))).toEqual(["/packages/0"]);
  });
});
