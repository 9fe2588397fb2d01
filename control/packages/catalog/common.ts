import type { PackageDefinition } from "../universe.ts";

/**
 * Pieces shared by the built-in packages' config schemas: every package has a `service`
 * section (its Marathon id, resources, image and command) so users learn one shape.
 */

/** The `service` section of a config schema, with this package's defaults. */
export function serviceSchema(d: { name: string; cpus: number; mem: number; image: string; instances?: number; description: string }) {
  return {
    type: "object",
    description: "How the service runs.",
    properties: {
      name: {
        type: "string",
        title: "Service name",
        description: "The Marathon app id, and so the name the service is found by.",
        default: d.name,
        pattern: "^/?[a-z0-9]([a-z0-9-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$",
      },
      instances: { type: "integer", title: "Instances", description: d.description, default: d.instances ?? 1, minimum: 0, maximum: 100 },
      cpus: { type: "number", title: "CPUs", description: "CPU shares per instance.", default: d.cpus, minimum: 0.01 },
      mem: { type: "integer", title: "Memory (MiB)", description: "Memory per instance; the container is killed above it.", default: d.mem, minimum: 16 },
      image: { type: "string", title: "Docker image", description: "The image to run.", default: d.image, minLength: 1 },
      cmd: {
        type: "string",
        title: "Command override",
        description: "A shell command run instead of the image's own (empty: the image's default).",
        default: "",
      },
    },
    required: ["name", "instances", "cpus", "mem", "image"],
    additionalProperties: false,
  };
}

/**
 * The Marathon fields every built-in template shares: id, resources, the Docker container with
 * one bridged port, and the image's command unless `service.cmd` replaces it.
 */
export function containerFields(port: { containerPort: number; name: string; protocol?: string }, args: string[]): string {
  const argsJson = JSON.stringify(args);
  return `
  "id": "{{service.name}}",
  "instances": {{service.instances}},
  "cpus": {{service.cpus}},
  "mem": {{service.mem}},
  {{#service.cmd}}"cmd": "{{service.cmd}}",{{/service.cmd}}
  {{^service.cmd}}"args": ${argsJson},{{/service.cmd}}
  "container": {
    "type": "DOCKER",
    "docker": {"image": "{{service.image}}", "network": "BRIDGE"},
    "portMappings": [{"containerPort": ${port.containerPort}, "hostPort": 0, "protocol": "tcp", "name": "${port.name}",
                      "labels": {"VIP_0": "/{{service.name}}:${port.containerPort}"}}]
  },`;
}

/** A built-in package as written here: a Universe package with its template as plain text, for an app or (`kind: "job"`) a job. */
export type CatalogPackage = Omit<PackageDefinition, "marathon" | "metronome"> & { template: string; kind?: "app" | "job" };
