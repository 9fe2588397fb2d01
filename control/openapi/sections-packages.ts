import {
  DescribeRequest,
  InstallRequest,
  ListRequest,
  ListVersionsRequest,
  RenderRequest,
  RepositoryAddRequest,
  RepositoryDeleteRequest,
  RepositoryListRequest,
  SearchRequest,
  ServiceDescribeRequest,
  ServiceUpdateRequest,
  UninstallRequest,
} from "../packages/requests.ts";
import type { OperationDoc, RouteSection } from "./types.ts";

/** Cosmos's package API under `/c/{cluster}/package`: versioned media types, Cosmos's errors. */

const vnd = (kind: string, v = 1) => `application/vnd.dcos.package.${kind}+json;charset=utf-8;version=v${v}`;
const ERRORS = { 400: { description: "A Cosmos error `{type, message, data}` (PackageNotFound, JsonSchemaMismatch, …).", contentType: vnd("error") } };

function cosmos(summary: string, kind: string, body: OperationDoc["body"], extra: Record<string, string> = {}, version = 1): OperationDoc {
  return {
    summary,
    body,
    responses: {
      200: {
        description: `\`${kind}-response\` (send its media type in Accept; the answer carries it exactly).`,
        contentType: vnd(`${kind}-response`, version),
      },
      ...ERRORS,
      ...extra,
    },
  };
}

export const packageSection: RouteSection = {
  tag: "Packages",
  description:
    "Cosmos's package API over Universe repositories: requests as `application/json` or `application/vnd.dcos.package.<kind>-request+json;charset=utf-8;version=v1`; the response version is picked from Accept. Errors are `{type, message, data}` under `application/vnd.dcos.package.error+json`.",
  routes: {
    "POST /c/:cluster/package/search": cosmos("Search the packages (name, description, tags; `*` wildcard)", "search", SearchRequest),
    "POST /c/:cluster/package/list-versions": cosmos("A package's versions and release versions", "list-versions", ListVersionsRequest),
    "POST /c/:cluster/package/describe": cosmos("A package's definition (response v3, v2 or v1)", "describe", DescribeRequest, {}, 3),
    "POST /c/:cluster/package/render": cosmos("The Marathon app (or Metronome job) a package renders to with these options", "render", RenderRequest),
    "POST /c/:cluster/package/install": cosmos(
      "Install a package: render it and create its app (or job) as POST /v2/apps (or /v1/jobs) does",
      "install",
      InstallRequest,
      { 409: "An app with this id is installed (PackageAlreadyInstalled)." },
      2,
    ),
    "POST /c/:cluster/package/uninstall": cosmos("Remove the app (or job) a package installed: by name, appId, or all", "uninstall", UninstallRequest),
    "POST /c/:cluster/package/list": cosmos("Installed packages, read from the apps' DCOS_PACKAGE_* labels", "list", ListRequest),
    "GET /c/:cluster/package/resource": {
      summary: "A resource a package names (icon, screenshot, asset, CLI binary), fetched through the control plane",
      query: { url: { description: "The resource's URL, exactly as a package's `resource` names it." } },
      responses: {
        200: { description: "The resource's bytes, under its own Content-Type (sandboxed: it cannot run as a page).", contentType: "application/octet-stream" },
        ...ERRORS,
        403: { description: "No package of the cluster's repositories names this URL (Forbidden).", contentType: vnd("error") },
        502: { description: "The resource could not be fetched (EndpointUriConnection, GenericHttpError).", contentType: vnd("error") },
      },
    },
    "POST /c/:cluster/package/repository/list": cosmos("The repositories, in search order", "repository.list", RepositoryListRequest),
    "POST /c/:cluster/package/repository/add": cosmos("Add a repository by URL (fetched and validated first)", "repository.add", RepositoryAddRequest, {
      502: "The repository could not be fetched.",
    }),
    "POST /c/:cluster/package/repository/delete": cosmos("Remove a repository by name or URI", "repository.delete", RepositoryDeleteRequest),
    "POST /c/:cluster/cosmos/service/describe": {
      summary: "An installed package: its definition, the versions it may move to, its options",
      body: ServiceDescribeRequest,
      responses: {
        200: { description: "`service.describe-response`", contentType: "application/vnd.dcos.service.describe-response+json;charset=utf-8;version=v1" },
        ...ERRORS,
      },
    },
    "POST /c/:cluster/cosmos/service/update": {
      summary: "Update an installed package in place: new options (merged, or replacing with `replace`) or another allowed version",
      body: ServiceUpdateRequest,
      responses: {
        200: {
          description: "`service.update-response`: `{package, resolvedOptions, marathonDeploymentId}`",
          contentType: "application/vnd.dcos.service.update-response+json;charset=utf-8;version=v1",
        },
        ...ERRORS,
      },
    },
  },
};
