import { beforeAll, describe, expect, it } from "vitest";
import { type Account, call, signUp } from "./helpers.ts";
import { Browser } from "./ui-helpers.ts";

/**
 * A sweep of hostile input over every route that takes a body, a path id or a query: whatever
 * comes in, the answer is a 4xx with a message naming the problem (or a success), never a 500,
 * and what the sweep managed to create still reads back without an error.
 */

/** An object nested five thousand deep, shaped as a group tree. */
const DEEP = JSON.stringify(Array.from({ length: 5_000 }).reduce<Record<string, unknown>>((inner) => ({ id: "g", groups: [inner] }), { id: "g", apps: [] }));

/** Bodies no route should take, or should take without failing. */
const HOSTILE_BODIES: [string, string][] = [
  ["null", "null"],
  ["an array", "[]"],
  ["a string", '"x"'],
  ["a number", "42"],
  ["an empty object", "{}"],
  ["a __proto__ key", '{"__proto__": {"admin": true}, "id": "/proto"}'],
  ["a constructor key", '{"constructor": {"prototype": {"x": 1}}}'],
  ["deep nesting", "[".repeat(20_000) + "]".repeat(20_000)],
  ["an overflowing number", '{"id": "/big", "cpus": 1e400, "mem": 1e400}'],
  ["a lone surrogate", '{"id": "/\\ud800", "cmd": "\\ud800"}'],
  ["a NUL", '{"id": "/nul\\u0000x", "cmd": "a\\u0000b", "name": "\\u0000"}'],
  ["groups nested five thousand deep", DEEP],
  ["ten thousand keys", JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])))],
];

/** Values each field of a valid body is replaced with, one at a time. */
const HOSTILE_VALUES: unknown[] = [null, "x", "", -1, 0, 1e308, -1e308, 0.5, true, [], {}, [null], { a: { b: { c: [] } } }, "x".repeat(70_000)];

interface Route {
  method: string;
  path: (a: Account) => string;
  /** A body the route accepts: each field is swept with HOSTILE_VALUES. */
  valid?: Record<string, unknown>;
}

const c = (a: Account) => `/c/${a.cluster.id}`;
const APP = {
  id: "/sweep",
  cmd: "sleep 600",
  cpus: 0.1,
  mem: 16,
  instances: 0,
  portDefinitions: [{ port: 0, name: "http" }],
  env: { A: "1" },
  labels: { l: "v" },
  constraints: [["hostname", "UNIQUE"]],
};
const JOB = { id: "sweep", run: { cmd: "true", cpus: 0.1, mem: 32, disk: 0 } };
const SCHEDULE = { id: "nightly", cron: "0 3 * * *", timezone: "UTC", enabled: true };

const ROUTES: Route[] = [
  { method: "POST", path: () => "/auth/login", valid: { email: "nobody@example.com", password: "wrong password here" } },
  { method: "POST", path: () => "/clusters", valid: { name: "sweep" } },
  { method: "POST", path: (a) => `/clusters/${a.cluster.id}/agent-tokens`, valid: { description: "sweep", expiresInSeconds: 60 } },
  { method: "POST", path: (a) => `/clusters/${a.cluster.id}/dns-keys`, valid: { description: "sweep" } },
  { method: "POST", path: (a) => `${c(a)}/v2/apps`, valid: APP },
  { method: "PUT", path: (a) => `${c(a)}/v2/apps/sweep-put`, valid: { ...APP, id: "/sweep-put" } },
  { method: "PATCH", path: (a) => `${c(a)}/v2/apps/sweep-patch`, valid: { instances: 0 } },
  // Bulk updates take an array: swept with the hostile bodies only.
  { method: "PUT", path: (a) => `${c(a)}/v2/apps` },
  { method: "PATCH", path: (a) => `${c(a)}/v2/apps?force=true` },
  { method: "POST", path: (a) => `${c(a)}/v2/tasks/delete`, valid: { ids: ["sweep.task"] } },
  { method: "PATCH", path: (a) => `${c(a)}/dns`, valid: { zone: "sweep.internal", ttl: 30 } },
  { method: "POST", path: (a) => `${c(a)}/v2/groups`, valid: { id: "/sweep-group", apps: [{ ...APP, id: "web" }], groups: [{ id: "inner", apps: [] }] } },
  { method: "PUT", path: (a) => `${c(a)}/v2/groups/sweep-put-group`, valid: { apps: [{ ...APP, id: "web" }], dependencies: [] } },
  { method: "PUT", path: (a) => `${c(a)}/v2/groups/sweep-put-group?dryRun=true`, valid: { scaleBy: 2 } },
  { method: "POST", path: (a) => `${c(a)}/v1/jobs`, valid: JOB },
  { method: "PUT", path: (a) => `${c(a)}/v1/jobs/sweep-put`, valid: { ...JOB, id: "sweep-put" } },
  { method: "POST", path: (a) => `${c(a)}/v1/jobs/sweep/schedules`, valid: SCHEDULE },
  { method: "PUT", path: (a) => `${c(a)}/v1/jobs/sweep/schedules/nightly`, valid: SCHEDULE },
];

/** Path segments that are not ids: bad escapes, NUL, traversal, overlong, odd unicode. */
const HOSTILE_IDS = ["%ZZ", "%E0%A4%A", "a%00b", "..%2F..%2Fetc", "%2e%2e", "x".repeat(5_000), "%F0%9F%92%A9", "-", "_", "a..b", "%20", "UPPER"];

const GET_WITH_ID = [
  (a: Account, id: string) => `${c(a)}/v2/apps/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/apps/${id}/tasks`,
  (a: Account, id: string) => `${c(a)}/v2/apps/${id}/versions`,
  (a: Account, id: string) => `${c(a)}/v2/apps/sweep/versions/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/apps/sweep/tasks/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/deployments/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/groups/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/groups/${id}/versions`,
  (a: Account, id: string) => `${c(a)}/v2/groups/sweep/versions/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/tasks/${id}/logs`,
  (a: Account, id: string) => `${c(a)}/v1/jobs/${id}`,
  (a: Account, id: string) => `${c(a)}/v1/jobs/${id}/runs`,
  (a: Account, id: string) => `${c(a)}/v1/jobs/sweep/runs/${id}`,
  (a: Account, id: string) => `${c(a)}/v1/jobs/${id}/schedules`,
  (a: Account, id: string) => `${c(a)}/agents/${id}`,
  (a: Account, id: string) => `${c(a)}/mesos_dns/v1/hosts/${id}`,
  (a: Account, id: string) => `${c(a)}/mesos_dns/v1/services/${id}`,
  (a: Account, id: string) => `${c(a)}/v2/queue/${id}/delay`,
  (a: Account, id: string) => `${c(a)}/service/marathon/v2/apps/${id}`,
  (a: Account, id: string) => `${c(a)}/service/metronome/v1/jobs/${id}`,
  (a: Account, id: string) => `${c(a)}/v0/scheduled-jobs/${id}`,
  (a: Account, id: string) => `${c(a)}/master/${id}`,
  (a: Account, id: string) => `${c(a)}/mesos/master/${id}`,
  (_: Account, id: string) => `/clusters/${id}`,
  (_: Account, id: string) => `/c/${id}/v2/apps`,
  (_: Account, id: string) => `/dns/${id}/dns-query?name=a.mesos`,
];

const QUERIES = [
  (a: Account) => `${c(a)}/v2/apps?embed=%ZZ&id=%ZZ&label=%ZZ`,
  (a: Account) => `${c(a)}/v2/deployments?embed=,,%ZZ`,
  (a: Account) => `${c(a)}/v2/queue?embed=lastUnusedOffers,lastUnusedOffers`,
  (a: Account) => `${c(a)}/v2/events?plan-format=%ZZ`,
  (a: Account) => `${c(a)}/v2/tasks?status=,%ZZ&status[]=RUNNING`,
  (a: Account) => `${c(a)}/master/tasks?limit=1e309&offset=-5&order=%ZZ`,
  (a: Account) => `${c(a)}/v2/apps?label=${encodeURIComponent("a==,==b,!=,in (")}`,
  (a: Account) => `${c(a)}/v2/apps/sweep?embed=app.nothing`,
  (a: Account) => `${c(a)}/v2/groups?embed=group.apps.%ZZ&embed=`,
  (a: Account) => `${c(a)}/v2/tasks/x/logs?tail=-1`,
  (a: Account) => `${c(a)}/v2/tasks/x/logs?tail=1e309&stream=nope&follow=maybe`,
  (a: Account) => `${c(a)}/v1/jobs?embed=everything`,
  (a: Account) => `${c(a)}/history/day`,
  (a: Account) => `${c(a)}/master/tasks?limit=-5&offset=abc`,
  (a: Account) => `${c(a)}/dns-query?dns=${"A".repeat(10)}`,
  (a: Account) => `${c(a)}/dns-query?name=${"a.".repeat(200)}mesos&type=NOPE`,
];

/** Fails with the request named when the Worker answers 5xx or a 4xx without a message. */
async function expectHandled(res: Response, what: string): Promise<void> {
  const text = await res.text();
  expect(res.status, `${what} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400 && res.headers.get("content-type")?.includes("application/json")) {
    const body = JSON.parse(text) as { message?: unknown };
    expect(typeof body.message, `${what}: a JSON error names the problem in 'message'`).toBe("string");
  }
}

describe("hostile input over the HTTP API", () => {
  let account: Account;
  beforeAll(async () => {
    account = await signUp();
    // The targets of the PUT/PATCH/schedule routes exist, so the sweep reaches their validation.
    for (const [path, json] of [
      [`${c(account)}/v2/apps`, { ...APP, id: "/sweep-patch" }],
      [`${c(account)}/v1/jobs`, JOB],
    ] as const) {
      expect((await call(path, { method: "POST", token: account.token, json })).status).toBe(201);
    }
  });

  // Hundreds of requests, one at a time, some of a megabyte: seconds on a loaded machine.
  it("bodies of the wrong kind, shape or size are refused with a message, never a 500", { timeout: 60_000 }, async () => {
    for (const route of ROUTES) {
      for (const [name, body] of HOSTILE_BODIES) {
        const res = await call(route.path(account), { method: route.method, token: account.token, headers: { "Content-Type": "application/json" }, body });
        await expectHandled(res, `${route.method} ${route.path(account)} with ${name}`);
      }
    }
  });

  it("each field of a valid body swept with values of every type: never a 500", { timeout: 120_000 }, async () => {
    for (const route of ROUTES) {
      for (const field of Object.keys(route.valid ?? {})) {
        for (const value of HOSTILE_VALUES) {
          const json = { ...route.valid, [field]: value };
          const res = await call(route.path(account), { method: route.method, token: account.token, json });
          await expectHandled(res, `${route.method} ${route.path(account)} with ${field}=${JSON.stringify(value).slice(0, 40)}`);
        }
      }
    }
    // The bulk routes, one app of the array swept.
    for (const method of ["PUT", "PATCH"]) {
      for (const field of Object.keys(APP)) {
        for (const value of HOSTILE_VALUES) {
          const json = [
            { ...APP, id: "/bulk-ok" },
            { ...APP, id: "/bulk-swept", [field]: value },
          ];
          const res = await call(`${c(account)}/v2/apps`, { method, token: account.token, json });
          await expectHandled(res, `${method} /v2/apps with [1].${field}=${JSON.stringify(value).slice(0, 40)}`);
        }
      }
    }
  });

  // About a thousand requests, one at a time: seconds on a loaded machine.
  it("ids in paths that are malformed, escaped, overlong or odd are a 4xx with a message, never a 500", { timeout: 60_000 }, async () => {
    for (const path of GET_WITH_ID) {
      for (const id of HOSTILE_IDS) {
        for (const method of ["GET", "DELETE"]) {
          const url = path(account, id);
          await expectHandled(await call(url, { method, token: account.token }), `${method} ${url.slice(0, 120)}`);
        }
      }
    }
  });

  it("queries with bad values are a 4xx or ignored, never a 500", async () => {
    for (const query of QUERIES) {
      const url = query(account);
      await expectHandled(await call(url, { token: account.token }), `GET ${url.slice(0, 120)}`);
    }
  });

  it("after the sweep every list still reads back", async () => {
    for (const path of [
      "/v2/groups?embed=group.groups&embed=group.apps&embed=group.apps.tasks",
      "/v2/apps?embed=apps.tasks",
      "/v2/tasks",
      "/v2/deployments",
      "/v2/queue",
      "/v1/jobs?embed=activeRuns&embed=history",
      "/master/state",
      "/mesos_dns/v1/enumerate",
      "/dns",
      "/agents",
    ]) {
      const res = await call(`${c(account)}${path}`, { token: account.token });
      expect(
        res.status,
        `${path}: ${await res
          .clone()
          .text()
          .then((t) => t.slice(0, 200))}`,
      ).toBe(200);
    }
    const clusters = await call("/clusters", { token: account.token });
    expect(clusters.status).toBe(200);
  });
});

describe("hostile input over the web UI's pages", () => {
  const UI_PAGES = ["services", "tasks", "nodes", "jobs", "deploy?edit=", "dns?name="];

  it("page paths and queries with malformed, escaped or overlong ids are a 4xx page, never a 500", async () => {
    const browser = await new Browser().signUp();
    for (const page of UI_PAGES) {
      for (const id of HOSTILE_IDS) {
        const path = `/ui/${browser.clusterId}/${page}${page.includes("?") ? "" : "/"}${id}`;
        const res = await browser.request(path);
        expect(res.status, `GET ${path.slice(0, 120)} → ${res.status} ${(await res.text()).slice(0, 200)}`).toBeLessThan(500);
      }
    }
  });

  it("forms posted with missing, repeated or oversize fields are answered, never a 500", async () => {
    const browser = await new Browser().signUp();
    const base = `/ui/${browser.clusterId}`;
    await browser.page(`${base}/tokens`);
    const forms: [string, Record<string, string>][] = [
      [`${base}/deploy`, { json: "{".repeat(10_000) }],
      [`${base}/deploy`, { json: "x".repeat(2_000_000) }],
      [`${base}/deploy`, {}],
      [`${base}/deploy-job`, { json: "null" }],
      [`${base}/deploy`, { json: DEEP }],
      [`${base}/deploy-job`, { json: DEEP }],
      [`${base}/services/nope`, { op: "scale", instances: "-1" }],
      [`${base}/services/nope`, { op: "launch-the-missiles" }],
      [`${base}/services/%ZZ`, { op: "destroy" }],
      [`${base}/jobs/nope`, { op: "run" }],
      [`${base}/tokens`, { op: "revoke-agent-token", id: "x".repeat(10_000) }],
      [`${base}/tokens`, { op: "create-agent-token", expiresInSeconds: "forever" }],
      ["/ui", { name: "x".repeat(10_000) }],
      ["/ui", { name: "UPPER case!" }],
      [`${base}/dns`, { zone: "\u0000..", ttl: "-1" }],
      [`${base}/dns`, { zone: "a".repeat(300), ttl: "1e400" }],
      [`${base}/nodes/nope`, { op: "remove", confirm: "nope" }],
      [`${base}/nodes/%ZZ`, { op: "remove" }],
      [`${base}/services/nogroup`, { op: "delete-group", confirm: "/nogroup", force: "true" }],
      [`${base}/deploy-job`, { json: "{}", edit: "x".repeat(5_000) }],
      [`${base}/deploy-job`, { json: '{"id": "ok", "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0}}', edit: "other" }],
      ["/login", { email: "\u0000", password: "" }],
      ["/signup", { email: "x".repeat(100_000), password: "y" }],
    ];
    for (const [path, fields] of forms) {
      const res = await browser.form(path, fields);
      expect(res.status, `POST ${path.slice(0, 80)} ${Object.keys(fields).join(",")} → ${res.status} ${(await res.text()).slice(0, 200)}`).toBeLessThan(500);
    }
  });
});
