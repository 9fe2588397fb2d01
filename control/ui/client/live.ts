/**
 * Live pages. The server renders every page whole; regions marked `data-live` (with an id) are
 * refreshed in place by fetching the page again and swapping those regions, whenever the
 * cluster's Marathon event stream reports a change and, as a fallback, every few seconds.
 * The refetch asks for the page's own URL, query included, so a paged table stays on its page
 * (`?page=`, `?limit=`) and filter (`?q=`).
 * Events are also listed in any `data-event-log` element, filtered to one app when it says so.
 */

const FALLBACK_REFRESH_MS = 5000;
const REFRESH_DEBOUNCE_MS = 250;
const MAX_EVENTS_SHOWN = 50;

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshing = false;

/** Fetches the page and swaps its live regions; a region holding the keyboard focus is left alone. */
async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    const res = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!res.ok || res.redirected) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    for (const el of document.querySelectorAll<HTMLElement>("[data-live][id]")) {
      if (el.contains(document.activeElement)) continue;
      const fresh = doc.getElementById(el.id);
      if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
    }
  } catch {
    // Offline for a moment: the next event or tick tries again.
  } finally {
    refreshing = false;
  }
}

function scheduleRefresh(): void {
  if (refreshTimer !== undefined) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    void refresh();
  }, REFRESH_DEBOUNCE_MS);
}

/** Whether an event concerns the app a log is filtered to (by its `appId`, or the id anywhere in it). */
function concerns(filter: string, raw: string, event: { appId?: unknown }): boolean {
  return filter === "" || event.appId === filter || raw.includes(JSON.stringify(filter));
}

function showEvent(raw: string): void {
  let event: { eventType?: unknown; timestamp?: unknown; appId?: unknown; taskStatus?: unknown; taskId?: unknown; message?: unknown };
  try {
    event = JSON.parse(raw) as typeof event;
  } catch {
    return;
  }
  for (const log of document.querySelectorAll<HTMLElement>("[data-event-log]")) {
    if (!concerns(log.dataset.eventFilter ?? "", raw, event)) continue;
    const item = document.createElement("li");
    const when = document.createElement("time");
    when.textContent = typeof event.timestamp === "string" ? event.timestamp.slice(11, 19) : "";
    if (typeof event.timestamp === "string") when.dateTime = event.timestamp;
    const what = document.createElement("span");
    const detail = [event.taskStatus, event.taskId, event.message].filter((x) => typeof x === "string").join(" ");
    what.textContent = ` ${String(event.eventType ?? "event")}${detail ? `: ${detail}` : ""}`;
    item.append(when, what);
    log.querySelector("[data-event-empty]")?.remove();
    log.prepend(item);
    while (log.children.length > MAX_EVENTS_SHOWN) log.lastElementChild?.remove();
  }
}

/** Starts live updates if the page has live regions or an event log. */
export function startLive(): void {
  const hasLive = document.querySelector("[data-live]") !== null;
  const hasLog = document.querySelector("[data-event-log]") !== null;
  if (!hasLive && !hasLog) return;
  const url = document.querySelector<HTMLMetaElement>('meta[name="dcx-events"]')?.content;
  if (url) {
    const source = new EventSource(url);
    // Marathon names each event (`event: status_update_event`), so listen to every name we may get.
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (e) => {
        showEvent(String((e as MessageEvent).data));
        if (type !== "event_stream_attached") scheduleRefresh();
      });
    }
    const status = document.querySelector<HTMLElement>("[data-event-status]");
    source.onopen = () => {
      if (status) status.textContent = "Live: connected to the event stream.";
      // Whatever changed between rendering the page and connecting arrives with no event: catch up once.
      if (hasLive) scheduleRefresh();
    };
    source.onerror = () => status && (status.textContent = "Live: reconnecting to the event stream…");
  }
  if (hasLive) {
    setInterval(() => {
      if (document.visibilityState === "visible") void refresh();
    }, FALLBACK_REFRESH_MS);
  }
}

/** The Marathon event types DCX emits (`/v2/events`); SSE delivers a named event only to listeners of that name. */
const EVENT_TYPES = [
  "event_stream_attached",
  "api_post_event",
  "status_update_event",
  "instance_changed_event",
  "deployment_info",
  "deployment_success",
  "deployment_failed",
  "deployment_step_success",
  "deployment_step_failure",
  "app_terminated_event",
  "failed_health_check_event",
  "health_status_changed_event",
  "instance_health_changed_event",
  "unhealthy_instance_kill_event",
] as const;
