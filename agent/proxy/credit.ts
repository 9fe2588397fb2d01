import { PROXY_WINDOW_BYTES } from "../../protocol/index.ts";

/**
 * One direction's send window of a proxy stream: the sender may have PROXY_WINDOW_BYTES in
 * flight and then waits until the master grants more (`proxyCredit`).
 */
export class SendWindow {
  private room = PROXY_WINDOW_BYTES;
  private waiter: (() => void) | undefined;
  private closed = false;

  /** Waits until `bytes` may be sent (false once the stream is over), and takes them. */
  async take(bytes: number): Promise<boolean> {
    while (!this.closed && this.room < bytes) await new Promise<void>((resolve) => (this.waiter = resolve));
    if (this.closed) return false;
    this.room -= bytes;
    return true;
  }

  /** Whether `bytes` may be sent now; takes them if so. */
  tryTake(bytes: number): boolean {
    if (this.closed || this.room < bytes) return false;
    this.room -= bytes;
    return true;
  }

  grant(bytes: number): void {
    this.room += bytes;
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/**
 * One direction's receive window: counts what the master sent and what was consumed, and says
 * how much credit to grant back (in batches of half a window, since each frame costs the
 * master a dispatch). A sender that overruns its window breaks the protocol.
 */
export class ReceiveWindow {
  private received = 0;
  private granted = PROXY_WINDOW_BYTES;
  private consumed = 0;

  /** Counts `bytes` received; false when they overrun what was granted. */
  receive(bytes: number): boolean {
    this.received += bytes;
    return this.received <= this.granted;
  }

  /** Counts `bytes` consumed; returns the credit to grant now, or 0. */
  consume(bytes: number): number {
    return this.consumedUpTo(this.consumed + bytes);
  }

  /** Everything received but `queued` bytes is consumed; returns the credit to grant now, or 0. */
  consumedAllBut(queued: number): number {
    return this.consumedUpTo(this.received - Math.max(0, queued));
  }

  private consumedUpTo(total: number): number {
    this.consumed = Math.max(this.consumed, total);
    const more = this.consumed + PROXY_WINDOW_BYTES - this.granted;
    if (more < PROXY_WINDOW_BYTES / 2) return 0;
    this.granted += more;
    return more;
  }
}
