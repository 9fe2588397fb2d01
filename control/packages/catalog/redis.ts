import { containerFields, serviceSchema } from "./common.ts";
import type { CatalogPackage } from "./common.ts";

/** A key-value store: one Redis server, checked over TCP, reachable by its VIP and DNS name. */
export const redis: CatalogPackage = {
  packagingVersion: "4.0",
  name: "redis",
  version: "7.4.1-0.1.0",
  releaseVersion: 0,
  maintainer: "dcx@example.com",
  description: "Redis, the in-memory key-value store: one server, data kept in memory only.",
  tags: ["database", "key-value", "cache", "redis"],
  framework: false,
  selected: true,
  website: "https://redis.io/",
  licenses: [{ name: "RSALv2/SSPLv1", url: "https://redis.io/legal/licenses/" }],
  preInstallNotes: "This Redis keeps its data in memory only: it is a cache, not a store to keep data in.",
  postInstallNotes: "Redis is starting. Clients reach it on port 6379 of its VIP, or by its Mesos-DNS name.",
  postUninstallNotes: "Redis has been removed; its data is gone with it.",
  config: {
    type: "object",
    properties: {
      service: serviceSchema({
        name: "redis",
        cpus: 0.5,
        mem: 256,
        image: "redis:7.4.1-alpine",
        description: "Instances are independent servers (no replication).",
      }),
      redis: {
        type: "object",
        description: "Redis's own settings.",
        properties: {
          maxmemory_mb: { type: "integer", title: "Max memory (MiB)", description: "Redis's maxmemory; keep it below service.mem.", default: 192, minimum: 1 },
          maxmemory_policy: {
            type: "string",
            title: "Eviction policy",
            enum: ["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"],
            default: "allkeys-lru",
          },
        },
        required: ["maxmemory_mb", "maxmemory_policy"],
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  template: `{
  ${containerFields({ containerPort: 6379, name: "redis" }, ["redis-server", "--port", "6379", "--maxmemory", "{{redis.maxmemory_mb}}mb", "--maxmemory-policy", "{{redis.maxmemory_policy}}", "--save", "", "--appendonly", "no"])}
  "healthChecks": [{"protocol": "MESOS_TCP", "portIndex": 0, "gracePeriodSeconds": 30, "intervalSeconds": 10, "timeoutSeconds": 5, "maxConsecutiveFailures": 3}],
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "tcp"}
}`,
  resource: { assets: { container: { docker: { "redis-image": "redis:7.4.1-alpine" } } } },
};
