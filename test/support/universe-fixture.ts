/** Universe packages for tests: a small web server whose image and command come from options. */

import { encodeBase64 } from "../../control/packages/universe.ts";

const b64 = (text: string) => encodeBase64(text);

export const HELLO_TEMPLATE = `{
  "id": "{{service.name}}",
  "cmd": "{{service.cmd}}",
  "cpus": {{service.cpus}},
  "mem": {{service.mem}},
  "instances": {{service.instances}},
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_PACKAGE_NAME": "forged"},
  "env": {"GREETING": "{{service.greeting}}", "ICON": "{{resource.images.icon-small}}"}
}`;

export const HELLO_CONFIG = {
  type: "object",
  properties: {
    service: {
      type: "object",
      properties: {
        name: { type: "string", default: "hello", pattern: "^[a-z0-9/-]+$" },
        cmd: { type: "string", default: "sleep 1000" },
        cpus: { type: "number", default: 0.1, minimum: 0.01 },
        mem: { type: "integer", default: 32, minimum: 8 },
        instances: { type: "integer", default: 1, minimum: 0 },
        greeting: { type: "string", default: "hi" },
      },
      required: ["name", "cpus", "mem"],
      additionalProperties: false,
    },
  },
};

/** One version of the test package, in the shape of a Universe repository's item. */
export function helloPackage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    packagingVersion: "4.0",
    name: "hello",
    version: "1.0.0",
    releaseVersion: 1,
    maintainer: "test@example.com",
    description: "A greeting service",
    tags: ["web", "test"],
    framework: false,
    postInstallNotes: "Hello is installed.",
    config: HELLO_CONFIG,
    resource: { images: { "icon-small": "https://example.com/i.png" } },
    marathon: { v2AppMustacheTemplate: b64(HELLO_TEMPLATE) },
    ...overrides,
  };
}

export const template = b64;
