/**
 * The proxy benchmark's load generator, run as its own process so it does not share an event
 * loop with what it measures. `--mode get` keeps `--concurrency` GETs of `--url` in flight for
 * `--seconds` over kept-alive connections (with `--header 'Name: value'` if given) and prints
 * {requests, errors, seconds, latenciesMs: [p50, p90, p99, max]}; `--mode download` fetches
 * `--url` once and prints {bytes, seconds}; `--mode upload` POSTs `--mb` MiB and prints the same.
 */
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { percentile } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "get" },
    url: { type: "string" },
    header: { type: "string" },
    concurrency: { type: "string", default: "16" },
    seconds: { type: "string", default: "6" },
    mb: { type: "string", default: "100" },
  },
});
const url = new URL(values.url ?? "");
const headers: Record<string, string> = {};
if (values.header) {
  const colon = values.header.indexOf(":");
  headers[values.header.slice(0, colon).trim()] = values.header.slice(colon + 1).trim();
}

/** One request; resolves to its status and the bytes of its body (status 0 when the connection failed). */
function exchange(agent: Agent | undefined, method = "GET", body?: Buffer): Promise<{ status: number; bytes: number }> {
  return new Promise<{ status: number; bytes: number }>((resolve, reject) => {
    const extra = body ? { "Content-Type": "application/octet-stream", "Content-Length": body.length } : {};
    const req = request(url, { method, agent, headers: { ...headers, ...extra } }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on("error", reject);
    req.end(body);
  }).catch(() => ({ status: 0, bytes: 0 }));
}

async function getLoad(): Promise<void> {
  const concurrency = Number(values.concurrency);
  const deadline = performance.now() + Number(values.seconds) * 1000;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const { status } = await exchange(agent);
        if (status === 200) latencies.push(performance.now() - start);
        else errors++;
      }
    }),
  );
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({ requests: latencies.length, errors, seconds, latenciesMs: [50, 90, 99, 100].map((p) => percentile(latencies, p)) }) + "\n",
  );
}

async function transfer(upload: boolean): Promise<void> {
  const body = upload ? Buffer.alloc(Number(values.mb) * 1024 * 1024, 7) : undefined;
  const started = performance.now();
  const { status, bytes } = await exchange(undefined, upload ? "POST" : "GET", body);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ status, bytes: upload ? (body?.length ?? 0) : bytes, seconds }) + "\n");
}

if (values.mode === "get") await getLoad();
else await transfer(values.mode === "upload");
