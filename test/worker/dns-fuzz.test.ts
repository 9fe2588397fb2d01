import { describe, expect, it } from "vitest";
import { decodeMessage, encodeBase64Url } from "../../control/dns/index.ts";
import { dnsMessages } from "../support/dns-mutations.ts";
import { seeded } from "../support/prng.ts";
import { call, joinAgent, signUp } from "./helpers.ts";

describe("DoH under random and mutated input", () => {
  it("answers every one of 3,000 messages, by POST and GET, with a 4xx or a valid DNS response", async () => {
    const account = await signUp();
    await joinAgent(account);
    const key = ((await (await call(`/clusters/${account.cluster.id}/dns-keys`, { method: "POST", token: account.token, json: {} })).json()) as { key: string })
      .key;
    const random = seeded(20261125);
    const statuses = new Map<number, number>();
    const all = dnsMessages(3000, random);
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(
        all.slice(i, i + 50).map(async (bytes, j) => {
          const res =
            (i + j) % 2 === 0
              ? await call(`/dns/${key}/dns-query`, { method: "POST", headers: { "Content-Type": "application/dns-message" }, body: bytes })
              : await call(`/dns/${key}/dns-query?dns=${encodeBase64Url(bytes)}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200) {
            const decoded = decodeMessage(new Uint8Array(await res.arrayBuffer()));
            expect(decoded.ok, `message ${i + j} got an unreadable 200`).toBe(true);
          } else {
            expect(res.status, `message ${i + j}`).toBeGreaterThanOrEqual(400);
            expect(res.status, `message ${i + j}`).toBeLessThan(500);
            await res.arrayBuffer();
          }
        }),
      );
    }
    // Both outcomes occur: the mutations are not all rejected nor all accepted.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    expect([...statuses.keys()].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
  }, 120_000);
});
