import { defineCommand } from "citty";
import { clusterSession } from "../api.ts";
import { CliError, UsageError, errorText } from "../errors.ts";

/** `dcx task log TASK_ID`: a task's output, fetched from its agent through the control plane. */

export interface ServerEvent {
  event: string;
  id?: string;
  data: string;
}

/** How a follow ended, from the server's last `end` event. */
interface FollowEnd {
  reason: string;
  message: string;
}

/** The Server-Sent Events of a body, as they arrive (comments and data-less blocks skipped). */
export async function* serverEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event) yield event;
    }
  }
}

function parseEvent(block: string): ServerEvent | undefined {
  const out: ServerEvent = { event: "message", data: "" };
  const data: string[] = [];
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon === 0) continue;
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") out.event = value;
    else if (field === "id") out.id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  out.data = data.join("\n");
  return out;
}

function tailLines(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--tail must be a number of lines, not '${value}'`);
  return Number(value);
}

/**
 * Follows until the task ends. The server ends a follow after an hour; the CLI then asks
 * again from the offset it reached, so a long follow goes on without repeating output.
 */
async function follow(open: (query: Record<string, number | boolean | undefined>) => Promise<Response>, tail: number | undefined): Promise<void> {
  let query: Record<string, number | boolean | undefined> = { follow: true, tail };
  for (;;) {
    const res = await open(query);
    let end: FollowEnd | undefined;
    let offset: number | undefined;
    try {
      for await (const event of serverEvents(res.body as ReadableStream<Uint8Array>)) {
        if (event.event === "end") {
          end = JSON.parse(event.data) as FollowEnd;
          break;
        }
        process.stdout.write(event.data);
        if (event.id !== undefined) offset = Number(event.id);
      }
    } catch (error) {
      throw new CliError(`the log stream broke off: ${errorText(error)}`);
    }
    if (end?.reason === "task_ended") return;
    if (end?.reason !== "max_duration") throw new CliError(end ? `the log stream ended: ${end.message}` : "the log stream ended without saying why");
    query = offset === undefined ? { follow: true, tail: 0 } : { follow: true, offset };
  }
}

export const log = defineCommand({
  meta: { name: "log", description: "Print a task's output (from its agent); --follow streams new output until the task ends" },
  args: {
    id: { type: "positional", required: true, description: "the task's id" },
    stream: { type: "enum", options: ["stdout", "stderr"], default: "stdout", description: "which output: stdout or stderr" },
    tail: { type: "string", valueHint: "N", description: "only the last N lines" },
    follow: { type: "boolean", description: "keep printing new output until the task ends" },
  },
  async run({ args }) {
    const tail = tailLines(args.tail);
    const s = clusterSession();
    const path = s.path(`/v2/tasks/${encodeURIComponent(args.id)}/logs`);
    if (args.follow) return follow((query) => s.api.open(path, { stream: args.stream, ...query }, "text/event-stream", 0), tail);
    const res = await s.api.open(path, { stream: args.stream, tail }, "text/plain");
    try {
      for await (const chunk of res.body as ReadableStream<Uint8Array>) process.stdout.write(chunk);
    } catch (error) {
      throw new CliError(`the log was cut short: ${errorText(error)}`);
    }
  },
});
