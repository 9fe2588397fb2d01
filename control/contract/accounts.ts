import { z } from "zod";
import { vipRangeProblem } from "../../protocol/vips.ts";

/**
 * The HTTP contract's account-level bodies: what the API validates with `jsonBody(...)`, the
 * UI's form posts check with the same schema and the Cluster object takes (its DNS settings),
 * so a field's rules and messages are written once.
 * The framework bodies live beside the code that owns them, each once: apps and groups in
 * cluster/frameworks/marathon/app-definition.ts and group-tree.ts, jobs in
 * cluster/frameworks/metronome/job-spec.ts, packages in packages/requests.ts.
 */

const Email = z
  .email({ message: "must be a valid email address" })
  .max(254)
  .transform((e) => e.toLowerCase());

/** Signup asks for a password a person would not guess in a few thousand tries. */
const NewPassword = z
  .string({ message: "is required" })
  .min(10, { message: "must be at least 10 characters" })
  .max(256, { message: "must be at most 256 characters" })
  .refine((p) => new Set(p).size >= 4, { message: "is too weak: use more varied characters" });
const Password = z.string({ message: "is required" }).min(1).max(256);

/** The bodies of signup, login, a password change and an account deletion. */
export const Signup = z.strictObject({ email: Email, password: NewPassword });
export const Login = z.strictObject({ email: Email, password: Password });
export const PasswordChange = z.strictObject({ currentPassword: Password, newPassword: NewPassword });
export const AccountDeletion = z.strictObject({ password: Password });

const ClusterName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, { message: "must be lowercase letters, digits and '-', not starting or ending with '-'" });

/** What a cluster is created with; the UI's Clusters page checks its form with the same schema. */
export const NewCluster = z.strictObject({ name: ClusterName });
/** What an agent join token or DNS key may be created with; the UI's forms are checked with the same schemas. */
export const NewAgentToken = z.strictObject({
  description: z.string().max(256).optional(),
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(366 * 24 * 3600)
    .optional(),
});
export const NewDnsKey = z.strictObject({ description: z.string().max(256).optional() });

/** A change of the cluster's DNS zone, TTL or VIP range; the UI's DNS page checks its form with the same schema. */
export const DnsSettings = z.strictObject({
  zone: z
    .string()
    .min(1)
    .max(200)
    .regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, { message: "must be a lowercase DNS name such as mesos or dcx.internal" })
    .optional(),
  ttl: z.number().int().min(0).max(86_400).optional(),
  /** Where named VIPs get their addresses (DC/OS: 11.0.0.0/8); every agent listens on them. */
  vipRange: z
    .string()
    .superRefine((range, ctx) => {
      const problem = vipRangeProblem(range);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
});
/** The setting change `PATCH /c/:cluster/dns` takes, as the Cluster object's `setDnsSettings` receives it. */
export type DnsSettingsChange = z.output<typeof DnsSettings>;

/** A service account for a framework; its principal is what FrameworkInfo.principal and HTTP Basic carry. */
export const NewServiceAccount = z.strictObject({
  principal: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._@-]+$/, { message: "may hold letters, digits and . _ @ - only" }),
  description: z.string().max(256).optional(),
});
