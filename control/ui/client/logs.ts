/**
 * A task's output, from the API's logs route (`GET /c/:cluster/v2/tasks/{id}/logs`): the last
 * lines as plain text, or followed live as Server-Sent Events whose data is the output and
 * whose id is the offset to resume from. A dropped follow resumes at the last offset seen
 * rather than asking for the tail again, so no line shows twice.
 */

const TAIL_LINES = 500;
/** Characters kept on screen; older output scrolls away. */
const MAX_SHOWN = 512 * 1024;
const RESUME_DELAY_MS = 2000;

interface Viewer {
  url: string;
  output: HTMLElement;
  status: HTMLElement;
  follow: HTMLInputElement | null;
  stream: () => string;
  source?: EventSource;
}

function say(v: Viewer, text: string): void {
  v.status.textContent = text;
}

function append(v: Viewer, text: string): void {
  const pinned = v.output.scrollTop + v.output.clientHeight >= v.output.scrollHeight - 8;
  const all = (v.output.textContent ?? "") + text;
  v.output.textContent = all.length > MAX_SHOWN ? all.slice(all.length - MAX_SHOWN) : all;
  if (pinned) v.output.scrollTop = v.output.scrollHeight;
}

/** The API's `{message}` for an error status, or the status itself. */
async function reason(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: string };
    return body.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function stop(v: Viewer): void {
  v.source?.close();
  v.source = undefined;
}

/** Loads the tail; then, when following, streams from there on. */
async function load(v: Viewer): Promise<void> {
  stop(v);
  v.output.textContent = "";
  const query = `stream=${encodeURIComponent(v.stream())}`;
  say(v, "Loading…");
  // A follow first asks for one line, only to learn whether there are logs to follow (an
  // EventSource cannot see an error status or its reason).
  const following = v.follow?.checked === true;
  const res = await fetch(`${v.url}?${query}&tail=${following ? 1 : TAIL_LINES}`, { credentials: "same-origin" });
  if (!res.ok) {
    say(v, `${res.status === 404 ? "No logs" : "Logs unavailable"}: ${await reason(res)} (HTTP ${res.status})`);
    return;
  }
  if (!following) {
    append(v, await res.text());
    say(v, `Showing the last ${TAIL_LINES} lines of ${v.stream()}.`);
    return;
  }
  await res.body?.cancel();
  followFrom(v, `${query}&tail=${TAIL_LINES}`);
}

function followFrom(v: Viewer, query: string): void {
  const source = new EventSource(`${v.url}?${query}&follow=true`);
  v.source = source;
  let lastOffset: string | undefined;
  source.onopen = () => say(v, `Following ${v.stream()} live.`);
  source.onmessage = (e) => {
    if (e.lastEventId) lastOffset = e.lastEventId;
    append(v, String(e.data));
  };
  source.addEventListener("end", (e) => {
    stop(v);
    let why = "the stream ended";
    try {
      why = (JSON.parse(String((e as MessageEvent).data)) as { message?: string }).message ?? why;
    } catch {
      // An end without a reason.
    }
    say(v, `Stopped following: ${why}.`);
  });
  source.onerror = () => {
    if (v.source !== source) return;
    stop(v);
    say(v, "Connection lost; resuming…");
    const resume =
      lastOffset === undefined
        ? `stream=${encodeURIComponent(v.stream())}&tail=${TAIL_LINES}`
        : `stream=${encodeURIComponent(v.stream())}&offset=${lastOffset}`;
    if (lastOffset === undefined) v.output.textContent = "";
    setTimeout(() => v.source === undefined && v.follow?.checked && followFrom(v, resume), RESUME_DELAY_MS);
  };
}

/** Starts every `[data-logs-url]` viewer on the page. */
export function startLogs(): void {
  for (const root of document.querySelectorAll<HTMLElement>("[data-logs-url]")) {
    const output = root.querySelector<HTMLElement>("[data-logs-output]");
    const status = root.querySelector<HTMLElement>("[data-logs-status]");
    if (!output || !status) continue;
    const v: Viewer = {
      url: root.dataset.logsUrl ?? "",
      output,
      status,
      follow: root.querySelector<HTMLInputElement>("[data-logs-follow]"),
      stream: () => root.querySelector<HTMLInputElement>("[data-logs-stream]:checked")?.value ?? "stdout",
    };
    root.querySelectorAll("[data-logs-stream], [data-logs-follow]").forEach((el) => el.addEventListener("change", () => void load(v)));
    void load(v);
  }
}
