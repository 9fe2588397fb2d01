import { encodeBase64 } from "../universe.ts";
import { HELLO_WORLD_SCHEDULER } from "./hello-world-scheduler.ts";
import type { CatalogPackage } from "./common.ts";

const APP_ID = "^/?[a-z0-9]([a-z0-9-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$";

/**
 * A framework package, as DC/OS's hello-world: its Marathon app is a scheduler that registers
 * over the v1 scheduler API and runs `hello.count` worker tasks itself. The installer gives it a
 * service account and a framework id (see control/packages/framework-install.ts); uninstalling
 * tears the framework down, workers included.
 */
export const helloWorld: CatalogPackage = {
  packagingVersion: "4.0",
  name: "hello-world",
  version: "1.0.0-0.1.0",
  releaseVersion: 0,
  maintainer: "dcx@example.com",
  description: "A Mesos framework that runs a set of hello-world worker tasks: its scheduler registers over the v1 scheduler API and launches them itself.",
  tags: ["framework", "example", "hello-world", "mesos"],
  framework: true,
  selected: false,
  website: "https://mesos.apache.org/documentation/latest/scheduler-http-api/",
  licenses: [{ name: "Apache-2.0", url: "https://www.apache.org/licenses/LICENSE-2.0" }],
  preInstallNotes:
    "This installs a framework: DCX creates a service account for its scheduler (principal service.service_account, or <service name>-principal) and revokes it on uninstall. The scheduler then launches hello.count workers.",
  postInstallNotes:
    "hello-world's scheduler is starting; its workers appear under Frameworks once it registers. Its state is served at /service/<service.name>/.",
  postUninstallNotes: "hello-world has been torn down: its scheduler, its workers and its service account are gone.",
  config: {
    type: "object",
    properties: {
      service: {
        type: "object",
        description: "How the scheduler runs.",
        properties: {
          name: {
            type: "string",
            title: "Service name",
            description: "The scheduler's Marathon app id, and the framework's name.",
            default: "hello-world",
            pattern: APP_ID,
          },
          service_account: {
            type: "string",
            title: "Service account",
            description: "The principal DCX creates for the scheduler (empty: <service name>-principal). Its secret is given to the scheduler only.",
            default: "",
            pattern: "^([A-Za-z0-9._@-]{1,128})?$",
          },
          user: { type: "string", title: "Task user", description: "The Unix user the workers run as.", default: "nobody", minLength: 1 },
          cpus: { type: "number", title: "CPUs", description: "CPU shares of the scheduler.", default: 0.2, minimum: 0.01 },
          mem: { type: "integer", title: "Memory (MiB)", description: "Memory of the scheduler.", default: 128, minimum: 32 },
          image: {
            type: "string",
            title: "Docker image",
            description:
              'An image with the bun runtime. Given as "" (through the API or an options file), the scheduler runs on the agent\'s host, which must have bun on PATH.',
            default: "oven/bun:1.1.38-alpine",
          },
          failover_timeout_seconds: {
            type: "integer",
            title: "Failover timeout (s)",
            description: "How long the workers outlive a scheduler that is away.",
            default: 604800,
            minimum: 0,
          },
        },
        required: ["name", "cpus", "mem", "user"],
        additionalProperties: false,
      },
      hello: {
        type: "object",
        description: "The worker tasks the scheduler keeps running.",
        properties: {
          count: { type: "integer", title: "Workers", description: "How many worker tasks run.", default: 2, minimum: 0, maximum: 100 },
          cpus: { type: "number", title: "CPUs per worker", default: 0.1, minimum: 0.01 },
          mem: { type: "integer", title: "Memory per worker (MiB)", default: 32, minimum: 16 },
          cmd: {
            type: "string",
            title: "Worker command",
            description: "The shell command each worker runs.",
            default: "echo hello from $MESOS_TASK_ID && exec sleep 86400",
            minLength: 1,
          },
        },
        required: ["count", "cpus", "mem", "cmd"],
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  // The scheduler's source rides in its env, base64 (no Mustache or JSON escaping to get wrong).
  template: `{
  "id": "{{service.name}}",
  "instances": 1,
  "cpus": {{service.cpus}},
  "mem": {{service.mem}},
  "cmd": "printf '%s' \\"$DCX_SCHEDULER_JS\\" | base64 -d > scheduler.mjs && exec bun scheduler.mjs",
  {{#service.image}}"container": {"type": "DOCKER", "docker": {"image": "{{service.image}}", "network": "HOST"}},{{/service.image}}
  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "api"}],
  "env": {
    "DCX_SCHEDULER_JS": "${encodeBase64(HELLO_WORLD_SCHEDULER)}",
    "FRAMEWORK_NAME": "{{service.name}}",
    "FRAMEWORK_USER": "{{service.user}}",
    "FAILOVER_TIMEOUT_SECONDS": "{{service.failover_timeout_seconds}}",
    "WORKER_COUNT": "{{hello.count}}",
    "WORKER_CPUS": "{{hello.cpus}}",
    "WORKER_MEM": "{{hello.mem}}",
    "WORKER_CMD": "{{hello.cmd}}"
  },
  "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 60, "intervalSeconds": 5, "timeoutSeconds": 3, "maxConsecutiveFailures": 3}],
  "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "http", "DCOS_PACKAGE_FRAMEWORK_NAME": "{{service.name}}"}
}`,
  resource: { assets: { container: { docker: { "bun-image": "oven/bun:1.1.38-alpine" } } } },
};
