import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster } from "./cluster.ts";

/**
 * The OpenAPI document as the control plane on workerd serves it, checked against the OpenAPI
 * 3.1 specification's own JSON Schema by a third-party validator (it cannot run inside
 * workerd, which is why this is here and not with the worker tests of the document).
 */
describe("/openapi.json from the local runtime", () => {
  const cluster = new TestCluster();
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());

  it("is a valid OpenAPI 3.1 document, and /docs renders it", async () => {
    const res = await fetch(`${cluster.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(doc.servers).toEqual([{ url: cluster.url }]);

    const page = await fetch(`${cluster.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<code>/c/{cluster}/v2/apps/{appId}</code>");
  });
});
