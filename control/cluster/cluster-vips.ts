import { MAX_FRAME_BYTES, type Vips } from "../../protocol/index.ts";
import type { ClusterDb } from "./db.ts";
import { anyAppMentionsVips } from "./frameworks/marathon/apps.ts";
import type { AgentLink, AgentLinks } from "./sessions.ts";
import { scheduleNoLaterThan } from "./timers.ts";
import { vipTable } from "./vips/table.ts";

/**
 * A burst of commits (a scale-up's status batches) rebuilds and sends the table at most twice
 * per this window: at its first commit, and at its end when more came in it. Each rebuild reads
 * every task behind a VIP and each send goes to every agent, so a table per commit would cost
 * the object (tasks × agents) per status batch.
 */
export const VIP_COALESCE_MS = 200;

/** The alarm timer that ends a window with changes in it (the alarm's own commit then sends). */
export const VIP_TIMER = "vips";

/**
 * Keeps every agent's balancer in step with the cluster's VIP table: after committed changes
 * the table is rebuilt from state and, when it differs from the one last sent, sent whole to
 * every connected agent; an agent that (re)registers gets it at once. Whole tables rather than
 * diffs: a frame lost with a dropped socket is made good by the next registration.
 */
export class ClusterVips {
  /** The last table sent to every agent, as sent; undefined until the first after a (re)start. */
  private lastSent: string | undefined;
  /** Until when changes wait for the window's end. */
  private quietUntil = 0;
  /** Whether the last table sent had VIPs: while not, a cluster whose apps declare none costs one indexed read per commit. */
  private agentsHoldVips = false;

  constructor(
    private readonly db: ClusterDb,
    private readonly sockets: AgentLinks,
  ) {}

  /** The table as of now (also what `GET /c/:cluster/vips` shows). */
  table(): Vips {
    return vipTable(this.db);
  }

  /**
   * After a committed change: sends the table to every agent if it changed, at once, or (inside
   * a window) from the alarm at the window's end, whose commit calls this again. The caller
   * arms the alarm after its commit, as every commit does. `immediately` skips the window.
   */
  changed(now = Date.now(), immediately = false): void {
    // After a restart nothing is known of what agents hold; they learn it again as they register.
    if (!this.agentsHoldVips && !anyAppMentionsVips(this.db)) return;
    if (now < this.quietUntil && !immediately) {
      // Set on every such commit (one upsert): an alarm that took the timer early must not lose it.
      scheduleNoLaterThan(this.db, VIP_TIMER, this.quietUntil);
      return;
    }
    this.quietUntil = now + VIP_COALESCE_MS;
    const table = this.table();
    // After a restart, agents already hold what was last sent; an empty table then needs no frame.
    if (this.lastSent === undefined && table.vips.length === 0) {
      this.lastSent = JSON.stringify(table);
      return;
    }
    this.broadcast(table);
  }

  /**
   * An agent just registered (its socket is in the index already): it gets the table when
   * there is one (no frame means no VIPs, see VIP_TABLE_GRACE_MS). A table newer than the last
   * broadcast (a change waiting for its window's end) goes to every agent now.
   */
  sendTo(ws: AgentLink): void {
    const table = this.table();
    const text = JSON.stringify(table);
    if (text !== this.lastSent && (this.lastSent !== undefined || table.vips.length > 0)) return this.broadcast(table);
    if (table.vips.length > 0 && this.fits(text)) sendText(ws, text);
  }

  /** Sends the table to every agent, unless it is what they were last sent. */
  private broadcast(table: Vips): void {
    const text = JSON.stringify(table);
    if (text === this.lastSent) return;
    this.lastSent = text;
    this.agentsHoldVips = table.vips.length > 0;
    if (!this.fits(text)) return;
    for (const ws of this.sockets.all().values()) sendText(ws, text);
  }

  /** A table larger than a frame is logged and not sent: agents keep the last one they had. */
  private fits(text: string): boolean {
    if (text.length <= MAX_FRAME_BYTES) return true;
    console.error(JSON.stringify({ event: "vip_table_too_large", bytes: text.length, limit: MAX_FRAME_BYTES }));
    return false;
  }
}

function sendText(ws: AgentLink, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The peer is gone; its close event follows, and it gets the table again when it registers.
  }
}
