import { containerFields, serviceSchema } from "./common.ts";
import type { CatalogPackage } from "./common.ts";

/** A web server: nginx serving its default page (or what the image holds), checked over HTTP. */
export const nginx: CatalogPackage = {
  packagingVersion: "4.0",
  name: "nginx",
  version: "1.27.3-0.1.0",
  releaseVersion: 0,
  maintainer: "dcx@example.com",
  description: "nginx, the HTTP server and reverse proxy, serving the image's default site.",
  tags: ["web", "http", "proxy", "nginx"],
  framework: false,
  selected: true,
  website: "https://nginx.org/",
  licenses: [{ name: "BSD-2-Clause", url: "https://nginx.org/LICENSE" }],
  preInstallNotes: "This installs one nginx instance by default; scale it with service.instances.",
  postInstallNotes: "nginx is starting. Its page is served on the service's port; with the service proxy it is at /service/<service.name>/.",
  postUninstallNotes: "nginx has been removed.",
  config: {
    type: "object",
    properties: {
      service: serviceSchema({ name: "nginx", cpus: 0.2, mem: 64, image: "nginx:1.27.3-alpine", description: "How many nginx servers run." }),
      nginx: {
        type: "object",
        description: "nginx's own settings.",
        properties: {
          health_path: { type: "string", title: "Health check path", description: "The path checked over HTTP.", default: "/", pattern: "^/" },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  template: `{
  ${containerFields({ containerPort: 80, name: "http" }, ["nginx", "-g", "daemon off;"])}
  "healthChecks": [{"protocol": "MESOS_HTTP", "path": "{{nginx.health_path}}", "portIndex": 0,
                    "gracePeriodSeconds": 30, "intervalSeconds": 10, "timeoutSeconds": 5, "maxConsecutiveFailures": 3}],
  "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "http"}
}`,
  resource: { assets: { container: { docker: { "nginx-image": "nginx:1.27.3-alpine" } } } },
};
