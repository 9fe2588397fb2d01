import { Hono, type Context } from "hono";
import { z } from "zod";
import { LogStreamName, MAX_LOG_TAIL_LINES, fieldErrors } from "../../protocol/index.ts";
import { ApiError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { clusterStub } from "../cluster-stub.ts";

const WholeNumber = z
  .string()
  .regex(/^\d{1,15}$/, "must be a whole number")
  .transform(Number);
const Flag = z.enum(["true", "false", "1", "0", ""], "must be true or false").transform((v) => v === "true" || v === "1" || v === "");

/** The query of `GET /v2/tasks/:taskId/logs`; anything else in the query is ignored. */
export const LogsQuery = z
  .object({
    stream: z.enum(LogStreamName.options, "must be stdout or stderr").default("stdout"),
    tail: WholeNumber.pipe(z.number().max(MAX_LOG_TAIL_LINES, `must be at most ${MAX_LOG_TAIL_LINES} lines`)).optional(),
    offset: WholeNumber.optional(),
    follow: Flag.default(false),
  })
  .refine((q) => q.tail === undefined || q.offset === undefined, { path: ["offset"], message: "cannot be combined with tail" });

/** A bad query is a 400 that names the parameter. */
function parseQuery(c: Context<AppEnv>): z.output<typeof LogsQuery> {
  const parsed = LogsQuery.safeParse(c.req.query());
  if (parsed.success) return parsed.data;
  const details = fieldErrors(parsed.error);
  const first = details[0];
  throw new ApiError("malformed", first ? `Invalid query parameter '${first.path.slice(1)}': ${first.errors.join("; ")}.` : "Invalid query.", details);
}

/**
 * A task's output, fetched from its agent: `text/plain`, or with `follow=true` Server-Sent
 * Events (each event's data is a chunk of output, its id the offset to resume from, sent back
 * by EventSource as `Last-Event-ID`), ending with an `end` event that says why.
 */
export const taskLogRoutes = new Hono<AppEnv>().get("/:taskId/logs", async (c) => {
  const query = parseQuery(c);
  const resumeAt = c.req.header("Last-Event-ID");
  const offset = query.offset ?? (query.follow && query.tail === undefined && resumeAt && /^\d{1,15}$/.test(resumeAt) ? Number(resumeAt) : undefined);
  const opened = await clusterStub(c.env, c.get("cluster").id).taskLogs({
    taskId: c.req.param("taskId"),
    stream: query.stream,
    follow: query.follow,
    ...(query.tail === undefined ? {} : { tail: query.tail }),
    ...(offset === undefined ? {} : { offset }),
  });
  if (!opened.ok) throw new ApiError(opened.code, opened.message);
  const type = query.follow ? "text/event-stream" : "text/plain; charset=utf-8";
  return new Response(opened.body, { headers: { "Content-Type": type, "Cache-Control": "no-cache" } });
});
