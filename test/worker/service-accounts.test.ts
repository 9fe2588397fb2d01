import { describe, expect, it } from "vitest";
import { type Account, call, signUp } from "./helpers.ts";
import { schedulerPath } from "./scheduler-helpers.ts";

const SUBSCRIBE = (info: Record<string, unknown> = {}) => ({ type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "sa-test", ...info } } });

async function create(account: Account, principal: string): Promise<{ id: string; principal: string; secret: string }> {
  const res = await call(`/clusters/${account.cluster.id}/service-accounts`, {
    method: "POST",
    token: account.token,
    json: { principal, description: "spark" },
  });
  expect(res.status).toBe(201);
  return res.json();
}

/** SUBSCRIBE with the given Authorization header; the stream is cancelled at once. */
async function subscribe(account: Account, authorization: string, info: Record<string, unknown> = {}): Promise<number> {
  const res = await call(schedulerPath(account), { method: "POST", headers: { Authorization: authorization }, json: SUBSCRIBE(info) });
  await res.body?.cancel();
  return res.status;
}

const basic = (principal: string, secret: string) => `Basic ${btoa(`${principal}:${secret}`)}`;

describe("service accounts", () => {
  it("are created with a dcxs_ secret shown once, listed without it, refused twice, revoked", async () => {
    const account = await signUp();
    const sa = await create(account, "spark");
    expect(sa.secret).toMatch(/^dcxs_/);
    expect(
      (await call(`/clusters/${account.cluster.id}/service-accounts`, { method: "POST", token: account.token, json: { principal: "spark" } })).status,
    ).toBe(409);
    const bad = await call(`/clusters/${account.cluster.id}/service-accounts`, { method: "POST", token: account.token, json: { principal: "no spaces" } });
    expect(bad.status).toBe(422);
    const list = await call(`/clusters/${account.cluster.id}/service-accounts`, { token: account.token });
    const body = (await list.json()) as { serviceAccounts: Record<string, unknown>[] };
    expect(body.serviceAccounts.map((s) => s.principal)).toEqual(["spark"]);
    expect(JSON.stringify(body)).not.toContain(sa.secret);
    const revoked = await call(`/clusters/${account.cluster.id}/service-accounts/${sa.id}`, { method: "DELETE", token: account.token });
    expect(((await revoked.json()) as { serviceAccount: { status: string } }).serviceAccount.status).toBe("revoked");
    expect(await subscribe(account, `Bearer ${sa.secret}`)).toBe(401);
  });

  it("authenticate frameworks as Bearer or HTTP Basic principal:secret, on their own cluster only", async () => {
    const account = await signUp();
    const other = await signUp();
    const sa = await create(account, "marathon-2");
    expect(await subscribe(account, `Bearer ${sa.secret}`)).toBe(200);
    expect(await subscribe(account, basic("marathon-2", sa.secret))).toBe(200);
    expect(await subscribe(account, basic("someone-else", sa.secret))).toBe(401);
    expect(await subscribe(other, `Bearer ${sa.secret}`)).toBe(401);
    expect(await subscribe(other, basic("marathon-2", sa.secret))).toBe(401);
    // Malformed secrets are refused on their shape, before any lookup.
    expect(await subscribe(account, basic("marathon-2", "dcxs_short"))).toBe(401);
    expect(await subscribe(account, basic("marathon-2", `${sa.secret}x`))).toBe(401);
    // A user token works too; the principal a framework claims must be the one it authenticated as.
    expect(await subscribe(account, `Bearer ${account.token}`)).toBe(200);
    expect(await subscribe(account, `Bearer ${sa.secret}`, { principal: "marathon-2" })).toBe(200);
    expect(await subscribe(account, `Bearer ${sa.secret}`, { principal: "root" })).toBe(403);
    // The service account reaches nothing else of the cluster.
    expect((await call(`/c/${account.cluster.id}/v2/apps`, { headers: { Authorization: `Bearer ${sa.secret}` } })).status).toBe(401);
  });
});
