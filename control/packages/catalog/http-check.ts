import type { CatalogPackage } from "./common.ts";

/**
 * A job-style package: a Metronome job that fetches a URL on a cron schedule and fails when it
 * does not answer 2xx, so failures show in the job's history. Uses DCX's `metronome` template.
 */
export const httpCheck: CatalogPackage = {
  packagingVersion: "4.0",
  name: "http-check",
  version: "8.11.1-0.1.0",
  releaseVersion: 0,
  maintainer: "dcx@example.com",
  description: "A scheduled HTTP check: a job that fetches a URL with curl on a cron schedule and fails unless it answers 2xx.",
  tags: ["job", "monitoring", "http", "cron"],
  framework: false,
  selected: false,
  website: "https://curl.se/",
  licenses: [{ name: "curl", url: "https://curl.se/docs/copyright.html" }],
  preInstallNotes: "This installs a Metronome job, not a service: it runs on its schedule (or when you start a run).",
  postInstallNotes: "The check runs on its schedule; see its runs and failures under Jobs, or start one with POST /v1/jobs/<id>/runs.",
  postUninstallNotes: "The check's job has been removed.",
  config: {
    type: "object",
    properties: {
      job: {
        type: "object",
        description: "How the check runs.",
        properties: {
          id: {
            type: "string",
            title: "Job id",
            description: "The Metronome job id (dot-separated).",
            default: "http-check",
            pattern: "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$",
          },
          cron: { type: "string", title: "Schedule", description: "A cron expression (Metronome's five fields).", default: "*/5 * * * *" },
          timezone: { type: "string", title: "Time zone", default: "UTC" },
          cpus: { type: "number", title: "CPUs", default: 0.1, minimum: 0.01 },
          mem: { type: "integer", title: "Memory (MiB)", default: 32, minimum: 32 },
          image: { type: "string", title: "Docker image", default: "curlimages/curl:8.11.1", minLength: 1 },
          cmd: { type: "string", title: "Command override", description: "A shell command run instead of curl (empty: curl the URL).", default: "" },
        },
        required: ["id", "cron", "cpus", "mem", "image"],
        additionalProperties: false,
      },
      check: {
        type: "object",
        description: "What is checked.",
        properties: {
          url: {
            type: "string",
            title: "URL",
            description: "The URL fetched; a service's Mesos-DNS name works from inside the cluster.",
            default: "http://nginx.marathon.mesos/",
            pattern: "^https?://[^\\s'\"\\\\]+$",
          },
          timeout_seconds: { type: "integer", title: "Timeout (s)", default: 10, minimum: 1, maximum: 300 },
        },
        required: ["url", "timeout_seconds"],
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  kind: "job",
  template: `{
  "id": "{{job.id}}",
  "description": "HTTP check of {{check.url}}",
  "run": {
    "cpus": {{job.cpus}}, "mem": {{job.mem}}, "disk": 0,
    {{#job.cmd}}"cmd": "{{job.cmd}}",{{/job.cmd}}
    {{^job.cmd}}"cmd": "curl -fsS -o /dev/null --max-time {{check.timeout_seconds}} '{{check.url}}'",{{/job.cmd}}
    "docker": {"image": "{{job.image}}"},
    "restart": {"policy": "NEVER"}
  },
  "schedules": [{"id": "default", "cron": "{{job.cron}}", "timezone": "{{job.timezone}}", "concurrencyPolicy": "FORBID", "enabled": true}]
}`,
  resource: { assets: { container: { docker: { "curl-image": "curlimages/curl:8.11.1" } } } },
};
