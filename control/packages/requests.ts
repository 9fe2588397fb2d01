import { z } from "zod";

/**
 * The bodies of Cosmos's requests (`rpc/v1/model/*Request`), shared by the routes that parse
 * them and the OpenAPI document that describes them.
 */

const Options = z.record(z.string(), z.unknown(), { message: "must be a JSON object" });
const PackageName = z.string().min(1).max(128);
const AppId = z.string().min(1);

export const SearchRequest = z.object({ query: z.string().max(256).optional() });
export const ListVersionsRequest = z.object({ packageName: PackageName, includePackageVersions: z.boolean().optional() });
export const DescribeRequest = z.object({ packageName: PackageName, packageVersion: z.string().min(1).optional() });
export const RenderRequest = DescribeRequest.extend({ options: Options.optional(), appId: AppId.optional() });
/** Install takes what render does (`managerId` and other Cosmos fields are ignored). */
export const InstallRequest = RenderRequest;
export const UninstallRequest = z.object({ packageName: PackageName, appId: AppId.optional(), all: z.boolean().optional() });
export const ListRequest = z.object({ packageName: PackageName.optional(), appId: AppId.optional() });
export const RepositoryListRequest = z.object({});
export const RepositoryAddRequest = z.object({
  name: z.string().trim().min(1).max(128),
  uri: z.string().trim().min(1).max(2048),
  /** 0 is searched first; absent: last. */
  index: z.number().int().min(0).optional(),
});
export const RepositoryDeleteRequest = z.object({ name: z.string().min(1).optional(), uri: z.string().min(1).optional() });
export const ServiceDescribeRequest = z.object({ appId: AppId });
export const ServiceUpdateRequest = z.object({
  appId: AppId,
  packageVersion: z.string().min(1).optional(),
  options: Options.optional(),
  replace: z.boolean().default(false),
});
