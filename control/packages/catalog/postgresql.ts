import { containerFields, serviceSchema } from "./common.ts";
import type { CatalogPackage } from "./common.ts";

/** A relational database: one PostgreSQL server; the superuser password has no default. */
export const postgresql: CatalogPackage = {
  packagingVersion: "4.0",
  name: "postgresql",
  version: "17.2-0.1.0",
  releaseVersion: 0,
  maintainer: "dcx@example.com",
  description: "PostgreSQL, the relational database: one server with a database and its owner.",
  tags: ["database", "sql", "relational", "postgresql"],
  framework: false,
  selected: true,
  website: "https://www.postgresql.org/",
  licenses: [{ name: "PostgreSQL License", url: "https://www.postgresql.org/about/licence/" }],
  preInstallNotes: "Give database.password: it has no default. Data lives in the container and is lost when the task is replaced; mount a host path for more.",
  postInstallNotes: "PostgreSQL is starting. Connect on port 5432 of its VIP or its Mesos-DNS name, as database.user.",
  postUninstallNotes: "PostgreSQL has been removed.",
  config: {
    type: "object",
    properties: {
      service: serviceSchema({
        name: "postgresql",
        cpus: 1,
        mem: 512,
        image: "postgres:17.2-alpine",
        description: "Only one instance makes sense: instances are independent servers.",
      }),
      database: {
        type: "object",
        description: "The database created on first start.",
        properties: {
          name: { type: "string", title: "Database", default: "app", pattern: "^[a-z_][a-z0-9_]*$" },
          user: { type: "string", title: "Owner", default: "app", pattern: "^[a-z_][a-z0-9_]*$" },
          password: { type: "string", title: "Password", description: "The owner's password (required).", minLength: 8 },
        },
        required: ["name", "user", "password"],
        additionalProperties: false,
      },
    },
    required: ["database"],
    additionalProperties: false,
  },
  template: `{
  ${containerFields({ containerPort: 5432, name: "postgres" }, ["postgres"])}
  "env": {"POSTGRES_DB": "{{database.name}}", "POSTGRES_USER": "{{database.user}}", "POSTGRES_PASSWORD": "{{database.password}}", "PGDATA": "/var/lib/postgresql/data/pgdata"},
  "healthChecks": [{"protocol": "MESOS_TCP", "portIndex": 0, "gracePeriodSeconds": 60, "intervalSeconds": 10, "timeoutSeconds": 5, "maxConsecutiveFailures": 3}],
  "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "tcp"}
}`,
  resource: { assets: { container: { docker: { "postgres-image": "postgres:17.2-alpine" } } } },
};
