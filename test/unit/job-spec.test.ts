import { describe, expect, it } from "vitest";
import { parseJob, parseSchedule } from "../../control/cluster/frameworks/metronome/job-spec.ts";
import type { FieldError } from "../../protocol/messages.ts";

/** Metronome job and schedule specs: defaults as Metronome fills them, and 422 details at the field's path. */

function invalid(json: unknown): FieldError[] {
  const result = parseJob(json);
  if (result.ok) throw new Error(`expected a 422, got ${JSON.stringify(result.spec)}`);
  return result.details;
}

const BASE = { id: "prod.backup", run: { cmd: "backup.sh" } };
const run = (fields: Record<string, unknown>) => ({ ...BASE, run: { ...BASE.run, ...fields } });
const schedule = (fields: Record<string, unknown>) => ({ ...BASE, schedules: [{ id: "nightly", cron: "0 2 * * *", ...fields }] });

describe("job specs", () => {
  it("fills Metronome's defaults", () => {
    const parsed = parseJob(BASE);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.spec).toEqual({
      id: "prod.backup",
      labels: {},
      run: {
        cmd: "backup.sh",
        cpus: 1,
        mem: 128,
        disk: 0,
        gpus: 0,
        env: {},
        placement: { constraints: [] },
        volumes: [],
        maxLaunchDelay: 3600,
        restart: { policy: "NEVER" },
        artifacts: [],
      },
    });
    expect(parsed.schedules).toBeUndefined();
  });

  it("accepts a full job with a docker image, constraints, restart policy and a schedule", () => {
    const parsed = parseJob({
      id: "etl-7.nightly",
      description: "nightly ETL",
      labels: { owner: "data" },
      run: {
        args: ["etl", "--full"],
        cpus: 0.5,
        mem: 256,
        docker: { image: "busybox:1", parameters: [{ key: "network", value: "host" }] },
        env: { MODE: "full" },
        placement: {
          constraints: [
            { attribute: "rack", operator: "EQ", value: "r1" },
            { attribute: "hostname", operator: "LIKE", value: "node-.*" },
          ],
        },
        volumes: [{ containerPath: "/data", hostPath: "/srv/data", mode: "RO" }],
        restart: { policy: "ON_FAILURE", activeDeadlineSeconds: 300 },
        taskKillGracePeriodSeconds: 10,
      },
      schedules: [{ id: "nightly", cron: "0 2 * * *", timezone: "Europe/Berlin", concurrencyPolicy: "FORBID" }],
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.details));
    expect(parsed.spec.run.docker).toEqual({ image: "busybox:1", forcePullImage: false, privileged: false, parameters: [{ key: "network", value: "host" }] });
    expect(parsed.schedules).toEqual([
      { id: "nightly", cron: "0 2 * * *", timezone: "Europe/Berlin", startingDeadlineSeconds: 900, concurrencyPolicy: "FORBID", enabled: true },
    ]);
  });

  it("round-trips what GET shows, embeds and Metronome's empty unsupported fields included", () => {
    const first = parseJob(BASE);
    if (!first.ok) throw new Error("base job invalid");
    const again = parseJob({ ...first.spec, run: { ...first.spec.run, secrets: {}, networks: [] }, activeRuns: [], historySummary: {} });
    expect(again.ok && again.spec).toEqual({ ...first.spec, run: { ...first.spec.run, secrets: {}, networks: [] } });
  });

  type InvalidCase = [name: string, json: unknown, path: string, message: RegExp];
  const INVALID: InvalidCase[] = [
    ["missing id", { run: { cmd: "x" } }, "/id", /expected string/],
    ["uppercase id", { ...BASE, id: "Prod" }, "/id", /lowercase/],
    ["id with a slash", { ...BASE, id: "prod/backup" }, "/id", /dot-separated/],
    ["id starting with a dash", { ...BASE, id: "-prod" }, "/id", /dot-separated/],
    ["id with an empty name", { ...BASE, id: "prod..backup" }, "/id", /dot-separated/],
    ["id too long", { ...BASE, id: "a".repeat(256) }, "/id", /at most 255/],
    ["missing run", { id: "x" }, "/run", /expected object/],
    ["unknown top-level field", { ...BASE, instances: 2 }, "/", /instances/],
    ["unknown run field", run({ instances: 2 }), "/run", /instances/],
    ["cpus below 0.01", run({ cpus: 0.001 }), "/run/cpus", />=0\.01/],
    ["mem below 32", run({ mem: 16 }), "/run/mem", />=32/],
    ["negative disk", run({ disk: -1 }), "/run/disk", />=0/],
    ["fractional gpus", run({ gpus: 0.5 }), "/run/gpus", /int/],
    ["cmd with args", run({ args: ["-v"] }), "/run/args", /may not be combined with cmd/],
    ["neither cmd nor args nor image", { ...BASE, run: { cpus: 1 } }, "/run/cmd", /is required/],
    ["empty cmd", run({ cmd: "" }), "/run/cmd", />=1 characters/],
    ["maxLaunchDelay of 0", run({ maxLaunchDelay: 0 }), "/run/maxLaunchDelay", />=1/],
    ["unknown restart policy", run({ restart: { policy: "ALWAYS" } }), "/run/restart/policy", /NEVER|ON_FAILURE/],
    ["negative activeDeadlineSeconds", run({ restart: { policy: "ON_FAILURE", activeDeadlineSeconds: -1 } }), "/run/restart/activeDeadlineSeconds", />=0/],
    ["docker without image", run({ docker: {} }), "/run/docker/image", /expected string/],
    ["volumes without docker", run({ volumes: [{ containerPath: "/a", hostPath: "/b" }] }), "/run/volumes", /need run\.docker/],
    ["relative volume path", run({ docker: { image: "x" }, volumes: [{ containerPath: "a", hostPath: "/b" }] }), "/run/volumes/0/containerPath", /absolute/],
    ["secret in env", run({ env: { PASSWORD: { secret: "pw" } } }), "/run/env/PASSWORD", /secrets/],
    ["number in env", run({ env: { N: 1 } }), "/run/env/N", /string/],
    ["artifacts", run({ artifacts: [{ uri: "http://x/y.tgz" }] }), "/run/artifacts", /not supported by DCX/],
    ["ucr", run({ ucr: { image: { id: "x" } } }), "/run/ucr", /not supported by DCX/],
    ["secrets", run({ secrets: { s: { source: "x" } } }), "/run/secrets", /not supported by DCX/],
    [
      "unknown constraint operator",
      run({ placement: { constraints: [{ attribute: "rack", operator: "UNIQUE" }] } }),
      "/run/placement/constraints/0/operator",
      /IS|EQ/,
    ],
    [
      "IS without a value",
      run({ placement: { constraints: [{ attribute: "rack", operator: "IS" }] } }),
      "/run/placement/constraints/0/value",
      /required by IS/,
    ],
    [
      "LIKE with a bad regex",
      run({ placement: { constraints: [{ attribute: "rack", operator: "LIKE", value: "(" }] } }),
      "/run/placement/constraints/0/value",
      /regular expression/,
    ],
    ["labels that are not strings", { ...BASE, labels: { a: 1 } }, "/labels/a", /string/],
    ["invalid cron", schedule({ cron: "61 * * * *" }), "/schedules/0/cron", /minute: 61/],
    ["cron with too few fields", schedule({ cron: "* * *" }), "/schedules/0/cron", /has 3 field/],
    ["unknown time zone", schedule({ timezone: "Moon/Base" }), "/schedules/0/timezone", /IANA/],
    ["startingDeadlineSeconds of 0", schedule({ startingDeadlineSeconds: 0 }), "/schedules/0/startingDeadlineSeconds", />=1/],
    ["unknown concurrency policy", schedule({ concurrencyPolicy: "SOMETIMES" }), "/schedules/0/concurrencyPolicy", /ALLOW/],
    ["bad schedule id", schedule({ id: "Nightly" }), "/schedules/0/id", /lowercase/],
    [
      "two schedules",
      {
        ...BASE,
        schedules: [
          { id: "a", cron: "* * * * *" },
          { id: "b", cron: "* * * * *" },
        ],
      },
      "/schedules",
      /at most 1 schedule/,
    ],
  ];

  it.each(INVALID)("refuses %s, naming the field", (_name, json, path, message) => {
    const details = invalid(json);
    const detail = details.find((d) => d.path === path);
    expect(detail, JSON.stringify(details)).toBeDefined();
    expect(detail?.errors.join("; ")).toMatch(message);
  });
});

describe("schedule specs", () => {
  it("fills defaults and drops the nextRunAt a GET showed", () => {
    expect(parseSchedule({ id: "every-minute", cron: "* * * * *", nextRunAt: "2026-01-01T00:00:00.000+0000" })).toEqual({
      ok: true,
      schedule: { id: "every-minute", cron: "* * * * *", timezone: "UTC", startingDeadlineSeconds: 900, concurrencyPolicy: "ALLOW", enabled: true },
    });
  });

  it("names a bad cron and a bad time zone at their paths", () => {
    expect(parseSchedule({ id: "s", cron: "0 25 * * *" })).toMatchObject({ ok: false, details: [{ path: "/cron", errors: [expect.stringMatching(/hour/)] }] });
    expect(parseSchedule({ id: "s", cron: "0 1 * * *", timezone: "Nowhere" })).toMatchObject({ ok: false, details: [{ path: "/timezone" }] });
    expect(parseSchedule({ cron: "0 1 * * *" })).toMatchObject({ ok: false, details: [{ path: "/id" }] });
  });
});
