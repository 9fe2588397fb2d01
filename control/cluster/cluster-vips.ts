import { MAX_FRAME_BYTES, type Vips } from "../../protocol/index.ts";
import type { ClusterDb } from "./db.ts";
import type { SocketIndex } from "./sessions.ts";
import { vipTable } from "./vips/table.ts";

/**
 * Keeps every agent's balancer in step with the cluster's VIP table: after each committed
 * change the table is rebuilt from state and, when it differs from the one last sent, sent whole
 * to every connected agent; an agent that (re)registers gets it at once. Whole tables rather
 * than diffs: a frame lost with a dropped socket is made good by the next registration.
 */
export class ClusterVips {
  /** The last table sent to every agent, as sent; undefined until the first after a (re)start. */
  private lastSent: string | undefined;

  constructor(
    private readonly db: ClusterDb,
    private readonly sockets: SocketIndex,
  ) {}

  /** The table as of now (also what `GET /c/:cluster/vips` shows). */
  table(): Vips {
    return vipTable(this.db);
  }

  /** After a committed change: sends the table to every agent if it changed. */
  changed(): void {
    const table = this.table();
    const text = JSON.stringify(table);
    // After a restart, agents already hold what was last sent; an empty table then needs no frame.
    const unchanged = this.lastSent === undefined ? table.vips.length === 0 : text === this.lastSent;
    this.lastSent = text;
    if (unchanged || !this.fits(text)) return;
    for (const ws of this.sockets.all().values()) sendText(ws, text);
  }

  /** Sends the table to an agent that just registered, when there is one (no frame means no VIPs: VIP_TABLE_GRACE_MS). */
  sendTo(ws: WebSocket): void {
    const table = this.table();
    if (table.vips.length === 0) return;
    const text = JSON.stringify(table);
    if (this.fits(text)) sendText(ws, text);
  }

  /** A table larger than a frame is logged and not sent: agents keep the last one they had. */
  private fits(text: string): boolean {
    if (text.length <= MAX_FRAME_BYTES) return true;
    console.error(JSON.stringify({ event: "vip_table_too_large", bytes: text.length, limit: MAX_FRAME_BYTES }));
    return false;
  }
}

function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The peer is gone; its close event follows, and it gets the table again when it registers.
  }
}
