import { z } from "zod";
import { AppDefinition, AppPatch } from "../cluster/frameworks/marathon/app-definition.ts";
import { GroupFields } from "../cluster/frameworks/marathon/group-body.ts";
import { JobDefinition, ScheduleSpec } from "../cluster/frameworks/metronome/job-spec.ts";
import type { MasterEndpoint } from "../api/master.ts";
import type { OperationDoc, QueryDoc, RouteSection } from "./types.ts";
import { WeightInfos } from "../cluster/allocator/weights.ts";

/** Marathon (`/v2`), Metronome (`/v1`) and the Mesos master's state, under `/c/{cluster}`. */

const flag = (description: string): QueryDoc => ({ description, type: "boolean" });
const FORCE = { force: flag("Override the deployment that holds the app (Marathon's `?force=true`).") };
const deployment = {
  200: "`{deploymentId, version}`; the `Marathon-Deployment-Id` header names the deployment.",
  409: "A deployment already holds the app (send `force=true`).",
};
const DEPLOYMENT_EMBED = {
  embed: {
    description: "`waiting`: DCX's own field saying why the deployment has not finished (Marathon has no such embed, so it is left out unless asked for).",
    repeated: true,
    enum: ["waiting"],
  },
};
const APP_EMBED = {
  embed: {
    description:
      "Extra fields: `apps.tasks`, `apps.counts`, `apps.deployments`, `apps.lastTaskFailure`, `apps.failures`, `apps.taskStats`, `apps.readiness` (Marathon's names).",
    repeated: true,
  },
};

export const marathonSection: RouteSection = {
  tag: "Marathon",
  description:
    "Marathon's REST API: apps, groups, tasks, deployments, the launch queue and the event stream. An app or group id may hold slashes (`/shop/web`).",
  routes: {
    "GET /c/:cluster/v2/apps": {
      summary: "List apps",
      query: {
        id: { description: "Only apps whose id contains this." },
        cmd: { description: "Only apps whose cmd contains this." },
        label: { description: "A label selector, e.g. `tier==web`." },
        ...APP_EMBED,
      },
    },
    "POST /c/:cluster/v2/apps": {
      summary: "Create an app",
      body: AppDefinition,
      responses: { 201: "The app; `Location` and `Marathon-Deployment-Id` headers.", 409: "An app with this id exists." },
    },
    "PUT /c/:cluster/v2/apps": {
      summary: "Create or update many apps in one transaction",
      body: z.array(AppPatch),
      query: { partialUpdate: flag("Merge each body into the stored app (default true)."), ...FORCE },
      responses: { 200: "`{deploymentId, version, deploymentIds}`" },
    },
    "PATCH /c/:cluster/v2/apps": {
      summary: "Update many apps, merging each body into the stored app",
      body: z.array(AppPatch),
      query: FORCE,
      responses: { 200: "`{deploymentId, version, deploymentIds}`" },
    },
    "GET /c/:cluster/v2/apps/*": [
      { path: "/c/{cluster}/v2/apps/{appId}", summary: "One app", query: APP_EMBED, responses: { 200: "`{app}`" } },
      { path: "/c/{cluster}/v2/apps/{appId}/tasks", summary: "An app's tasks (`text/plain` with `Accept: text/plain`)", responses: { 200: "`{tasks}`" } },
      { path: "/c/{cluster}/v2/apps/{appId}/versions", summary: "An app's stored versions", responses: { 200: "`{versions}`" } },
      { path: "/c/{cluster}/v2/apps/{appId}/versions/{version}", summary: "An app as it was at one version" },
    ],
    "PUT /c/:cluster/v2/apps/*": [
      {
        path: "/c/{cluster}/v2/apps/{appId}",
        summary: "Replace an app (or create it); a body of only `{version}` rolls it back to that version",
        body: AppDefinition,
        query: { partialUpdate: flag("Merge the body into the stored app instead of replacing it."), ...FORCE },
        responses: deployment,
      },
    ],
    "PATCH /c/:cluster/v2/apps/*": [
      { path: "/c/{cluster}/v2/apps/{appId}", summary: "Change some fields of an app", body: AppPatch, query: FORCE, responses: deployment },
    ],
    "POST /c/:cluster/v2/apps/*": [
      { path: "/c/{cluster}/v2/apps/{appId}/restart", summary: "Restart every task of an app (a rolling replacement)", query: FORCE, responses: deployment },
    ],
    "DELETE /c/:cluster/v2/apps/*": [
      { path: "/c/{cluster}/v2/apps/{appId}", summary: "Destroy an app", query: FORCE, responses: deployment },
      {
        path: "/c/{cluster}/v2/apps/{appId}/tasks",
        summary: "Kill an app's tasks",
        query: {
          host: { description: "Only the tasks on this host (`*` for all)." },
          scale: flag("Scale the app down by the tasks killed."),
          wipe: flag("Accepted for Marathon's clients; DCX has no resident tasks, so it is a plain kill."),
        },
        responses: { 200: "`{tasks}`, or a deployment with `scale=true`" },
      },
      {
        path: "/c/{cluster}/v2/apps/{appId}/tasks/{taskId}",
        summary: "Kill one task",
        query: { scale: flag("Scale the app down by one."), wipe: flag("A plain kill (no resident tasks).") },
        responses: { 200: "`{task}`, or a deployment with `scale=true`" },
      },
    ],
    "GET /c/:cluster/v2/groups": {
      summary: "The root group",
      query: { embed: { description: "`group.groups`, `group.apps`, and the app embeds under `group.apps.`.", repeated: true } },
    },
    "GET /c/:cluster/v2/groups/*": [
      { path: "/c/{cluster}/v2/groups/{groupId}", summary: "One group", query: { embed: { description: "As for the root group.", repeated: true } } },
      { path: "/c/{cluster}/v2/groups/{groupId}/versions", summary: "The versions of a group's apps" },
    ],
    "POST /c/:cluster/v2/groups": {
      summary: "Create a group and the apps inside",
      body: GroupFields,
      responses: { 201: "`{deploymentId, version, deploymentIds}`" },
    },
    "POST /c/:cluster/v2/groups/*": [
      {
        path: "/c/{cluster}/v2/groups/{groupId}",
        summary: "Create a group inside another",
        body: GroupFields,
        responses: { 201: "`{deploymentId, version, deploymentIds}`" },
      },
    ],
    "PUT /c/:cluster/v2/groups": {
      summary: "Change the root group, or scale it (`{scaleBy}`)",
      body: GroupFields,
      query: { dryRun: flag("Show the plan without changing anything."), ...FORCE },
      responses: deployment,
    },
    "PUT /c/:cluster/v2/groups/*": [
      {
        path: "/c/{cluster}/v2/groups/{groupId}",
        summary: "Change a group, or scale it (`{scaleBy}`)",
        body: GroupFields,
        query: { dryRun: flag("Show the plan without changing anything."), ...FORCE },
        responses: deployment,
      },
    ],
    "DELETE /c/:cluster/v2/groups": { summary: "Remove every app", query: FORCE, responses: deployment },
    "DELETE /c/:cluster/v2/groups/*": [{ path: "/c/{cluster}/v2/groups/{groupId}", summary: "Remove a group's apps", query: FORCE, responses: deployment }],
    "PATCH /c/:cluster/v2/groups": { summary: "Refused: Marathon's PATCH only changes enforceRole, which DCX has no use for", responses: { 405: "Always." } },
    "PATCH /c/:cluster/v2/groups/*": [{ path: "/c/{cluster}/v2/groups/{groupId}", summary: "Refused, as for the root group", responses: { 405: "Always." } }],
    "GET /c/:cluster/v2/tasks": {
      summary: "Every task (`text/plain` with `Accept: text/plain`)",
      query: {
        status: { description: "`running` or `staging`, any case (`status[]` too); other values are ignored, as Marathon ignores them.", repeated: true },
      },
    },
    "POST /c/:cluster/v2/tasks/delete": {
      summary: "Kill tasks by id",
      query: { scale: flag("Scale their apps down."), wipe: flag("A plain kill (no resident tasks).") },
      responses: { 200: "`{tasks}`, or a deployment with `scale=true`" },
    },
    "GET /c/:cluster/v2/deployments": { summary: "Deployments in progress", query: DEPLOYMENT_EMBED },
    "GET /c/:cluster/v2/deployments/*": [
      {
        path: "/c/{cluster}/v2/deployments/{deploymentId}",
        summary: "One deployment",
        query: DEPLOYMENT_EMBED,
        responses: { 200: "The deployment.", 404: "No deployment in progress has this id." },
      },
    ],
    "DELETE /c/:cluster/v2/deployments/*": [
      {
        path: "/c/{cluster}/v2/deployments/{deploymentId}",
        summary: "Roll a deployment back (or, with `force=true`, just stop it)",
        query: FORCE,
        responses: { 200: "The rollback's deployment.", 202: "Stopped (force).", 404: "No deployment in progress has this id." },
      },
    ],
    "GET /c/:cluster/v2/queue": {
      summary: "Instances waiting to launch, and why (Marathon's `processedOffersSummary`)",
      query: {
        embed: { description: "`lastUnusedOffers`: the offers (agents) last declined for each app, and why.", repeated: true, enum: ["lastUnusedOffers"] },
      },
    },
    "DELETE /c/:cluster/v2/queue/*": [
      { path: "/c/{cluster}/v2/queue/{appId}/delay", summary: "Reset an app's launch backoff", responses: { 204: { description: "Reset." } } },
    ],
    "GET /c/:cluster/v2/info": { summary: "Marathon's info" },
    "GET /c/:cluster/v2/leader": { summary: "The leader (always this control plane)", responses: { 200: "`{leader}`: this host." } },
    "DELETE /c/:cluster/v2/leader": {
      summary: "Abdicate: answers as Marathon does, and nothing changes",
      description:
        "There is no standby to hand over to: the cluster's Durable Object is its only writer, so abdicating is a no-op that tools expecting Marathon's answer accept.",
      responses: { 200: '`{message: "Leadership abdicated"}`' },
    },
    "GET /c/:cluster/ping": {
      summary: "Liveness check of Marathon (and Metronome, which answers the same at the cluster root)",
      responses: { 200: { description: "`pong`.", contentType: "text/plain" } },
    },
    "GET /c/:cluster/metrics": {
      summary: "Marathon's metrics in its Dropwizard shape (`{version, counters, gauges, …}`)",
      description:
        "The gauges DCX can compute, under Marathon's names: active apps, groups and deployments, running and staged instances, the launch queue (`marathon.apps.active.gauge`, …). For Prometheus, read `/c/{cluster}/metrics/prometheus`.",
    },
    "GET /c/:cluster/logging": { summary: 'Marathon\'s loggers and their levels (`{ROOT: "INFO"}`)' },
    "POST /c/:cluster/logging": {
      summary:
        "Change a logger's level: refused once the body is valid, as DCX's log level is part of the Worker's deployment (wrangler.toml), not changed at run time",
      responses: { 405: "Always, for a valid body.", 422: "The body is not Marathon's `{logger, level, durationSeconds?}`." },
    },
    "GET /c/:cluster/v2/events": {
      summary: "Marathon's event stream (Server-Sent Events)",
      query: {
        event_type: { description: "Only these event types.", repeated: true },
        "plan-format": {
          description: "How deployment events carry their plan: `full` (the default, Marathon's) or `light` (without the original and target groups).",
          enum: ["full", "light"],
        },
      },
      responses: {
        200: { description: "An endless `text/event-stream`.", contentType: "text/event-stream" },
        406: "The client does not accept text/event-stream.",
      },
    },
  },
};

const STOP_RUNS = { stopCurrentJobRuns: flag("Stop the job's active runs too (otherwise a job with active runs is a 409).") };

export const metronomeSection: RouteSection = {
  tag: "Metronome",
  description: "Metronome's REST API: jobs, their runs and their cron schedules.",
  routes: {
    "GET /c/:cluster/v1/jobs": {
      summary: "List jobs",
      query: { embed: { description: "`activeRuns`, `schedules`, `history`, `historySummary`.", repeated: true } },
    },
    "POST /c/:cluster/v1/jobs": { summary: "Create a job (with at most one schedule)", body: JobDefinition, responses: { 201: "The job." } },
    "GET /c/:cluster/v1/jobs/:jobId": { summary: "One job", query: { embed: { description: "As for the list.", repeated: true } } },
    "PUT /c/:cluster/v1/jobs/:jobId": { summary: "Replace a job", body: JobDefinition },
    "DELETE /c/:cluster/v1/jobs/:jobId": { summary: "Delete a job", query: STOP_RUNS },
    "GET /c/:cluster/v1/jobs/:jobId/runs": { summary: "A job's active runs" },
    "POST /c/:cluster/v1/jobs/:jobId/runs": { summary: "Start a run now", responses: { 201: "The run." } },
    "GET /c/:cluster/v1/jobs/:jobId/runs/:runId": { summary: "One run" },
    "POST /c/:cluster/v1/jobs/:jobId/runs/:runId/:action{actions?}/stop": {
      path: "/c/{cluster}/v1/jobs/{jobId}/runs/{runId}/actions/stop",
      summary: "Stop a run (`/action/stop` is accepted too)",
    },
    "GET /c/:cluster/v1/jobs/:jobId/schedules": { summary: "A job's schedules" },
    "POST /c/:cluster/v1/jobs/:jobId/schedules": { summary: "Add a schedule", body: ScheduleSpec, responses: { 201: "The schedule." } },
    "GET /c/:cluster/v1/jobs/:jobId/schedules/:scheduleId": { summary: "One schedule" },
    "PUT /c/:cluster/v1/jobs/:jobId/schedules/:scheduleId": { summary: "Replace a schedule", body: ScheduleSpec },
    "DELETE /c/:cluster/v1/jobs/:jobId/schedules/:scheduleId": { summary: "Delete a schedule" },
    "GET /c/:cluster/v1/queue": { summary: "Runs waiting to launch" },
    "GET /c/:cluster/v1/metrics": { summary: "Metronome's metrics in the Dropwizard shape (`{version, counters, gauges, …}`): jobs, active runs, queued runs" },
    "POST /c/:cluster/v0/scheduled-jobs": {
      summary: "Create a job and its schedule in one body (Metronome's legacy `v0` form)",
      body: JobDefinition,
      responses: { 201: "The job.", 409: "A job with this id exists." },
    },
    "PUT /c/:cluster/v0/scheduled-jobs/:jobId": {
      summary: "Replace a job and all its schedules (none given: none kept), Metronome's `v0` form",
      body: JobDefinition,
    },
    "GET /c/:cluster/info": { summary: "Metronome's info: `{version, libVersion}` (Marathon's is `/v2/info`)" },
    "GET /c/:cluster/leader": { summary: "Metronome's leader (always this control plane)", responses: { 200: "`{leader}`: this host." } },
  },
};

/** What each `/master/<name>` answers; typed by master.ts's list, so a new endpoint cannot go undocumented. */
const MASTER_ENDPOINTS: Readonly<Record<MasterEndpoint, Omit<OperationDoc, "path">>> = {
  state: { summary: "The whole master state" },
  "state.json": { summary: "The whole master state (the pre-0.25 name)" },
  slaves: { summary: "Agents", query: { slave_id: { description: "Only this agent." } } },
  frameworks: { summary: "Frameworks", query: { framework_id: { description: "Only this framework." } } },
  tasks: {
    summary: "Tasks, newest first",
    query: {
      framework_id: { description: "Only this framework's." },
      task_id: { description: "Only this task." },
      limit: { description: "At most this many (default 100, at most 10,000).", type: "integer" },
      offset: { description: "Skip this many.", type: "integer" },
      order: { description: "`asc` for oldest first.", enum: ["asc", "desc"] },
    },
  },
  "state-summary": { summary: "Agents and frameworks with their task counts by state (what DC/OS's UI reads)" },
  roles: { summary: "Roles: the one role `*`, its frameworks and the resources they hold" },
  flags: { summary: "The master's settings that DCX has, under Mesos's flag names (`{flags}`)" },
  version: { summary: "The Mesos version whose API DCX speaks, with DCX's build (`build_*`, `git_tag`)" },
  health: { summary: "Whether the cluster answers (`{healthy, cluster}`; Mesos answers an empty 200)" },
};

/** A short form (`/state`): the same doc, its summary naming the `/master/…` endpoint it is short for. */
const shortForm = (doc: OperationDoc, path: string, long: string): OperationDoc => ({
  ...doc,
  path,
  summary: `Same as \`${long}\` (libprocess's short form)`,
  description: [doc.summary, doc.description].filter(Boolean).join(". "),
});

const masterEndpoints = Object.entries(MASTER_ENDPOINTS).map(([name, doc]): OperationDoc => ({ ...doc, path: `/c/{cluster}/master/${name}` }));

const TEARDOWN: OperationDoc = {
  summary: "Tear a framework down and kill its tasks (Mesos's `frameworkId=<id>`, as a form body or in the query)",
  description: "DCX's built-in Marathon and Metronome are part of the cluster and cannot be torn down: remove their apps or jobs instead.",
  query: { frameworkId: { description: "The framework's id (or send it in an `application/x-www-form-urlencoded` body)." } },
  responses: { 400: "No frameworkId, or no framework has it.", 409: "The framework is DCX's built-in Marathon or Metronome." },
};

export const mesosSection: RouteSection = {
  tag: "Mesos",
  description:
    "The Mesos master's HTTP endpoints (`src/master/http.cpp`), with Mesos's field names, at `/master/<name>` and at the short form `/<name>` that libprocess routes too.",
  routes: {
    "POST /c/:cluster/api/v1": {
      summary:
        "Mesos v1 operator API (JSON `master::Call`): GET_HEALTH, GET_VERSION, GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_TASKS, GET_WEIGHTS, UPDATE_WEIGHTS, TEARDOWN, SUBSCRIBE",
      description:
        "SUBSCRIBE answers a chunked RecordIO stream (`application/json`): SUBSCRIBED with `get_state` first, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED as they happen, and HEARTBEAT every `heartbeat_interval_seconds`.",
      responses: {
        200: "The call's answer (TEARDOWN, UPDATE_WEIGHTS: empty; SUBSCRIBE: the RecordIO event stream).",
        400: "Not a call DCX answers, or a malformed one (the message names the field).",
        415: "Not application/json (no protobuf).",
      },
    },
    "GET /c/:cluster/weights": { summary: "Role weights (Mesos `/weights`): `[{role, weight}]`; a role without one weighs 1" },
    "PUT /c/:cluster/weights": {
      summary: "Set role weights (Mesos `/weights`): DRF shares offers and placements by dominant share divided by the role's weight",
      body: WeightInfos,
      responses: { 200: "The weights after the change, `[{role, weight}]`.", 422: "A weight that is not positive, a bad role name, or a role named twice." },
    },
    "POST /c/:cluster/api/v1/*": [
      { path: "/c/{cluster}/api/v1/operator", summary: "Same operator API (libprocess routes any path under /api/v1 to it; pymesos uses /api/v1/operator)" },
    ],
    "POST /c/:cluster/api/v1/scheduler": {
      summary: "Mesos v1 scheduler API (JSON): SUBSCRIBE opens a RecordIO stream named by `Mesos-Stream-Id`; other calls send that header",
      description: "A service account (Bearer secret, or HTTP Basic `principal:secret`) or a member's token.",
      responses: {
        200: "SUBSCRIBE: the RecordIO event stream.",
        202: { description: "Accepted." },
        400: "Malformed call.",
        403: "Missing or foreign stream id, or another principal.",
        415: "Not application/json.",
      },
    },
    "GET /c/:cluster/master/:endpoint{[a-z.-]+}": masterEndpoints,
    // Every endpoint but health, whose short form `/health` is its own route below.
    "GET /c/:cluster/:endpoint{state|state\\.json|slaves|frameworks|tasks|state-summary|roles|flags|version}": masterEndpoints
      .filter((d) => d.path !== "/c/{cluster}/master/health")
      .map((d) => shortForm(d, String(d.path).replace("/master/", "/"), `GET ${d.path}`)),
    "POST /c/:cluster/master/teardown": TEARDOWN,
    "POST /c/:cluster/teardown": shortForm(TEARDOWN, "/c/{cluster}/teardown", "POST /c/{cluster}/master/teardown"),
    "GET /c/:cluster/metrics/snapshot": { summary: 'Mesos\'s flat metrics (`{"master/…": number}`)' },
    "GET /c/:cluster/health": { summary: "Whether the cluster answers" },
  },
};
