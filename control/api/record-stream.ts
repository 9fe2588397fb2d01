import { concatBytes } from "../../protocol/bytes.ts";
import { recordIo } from "../cluster/frameworks/external/stream.ts";

const encoder = new TextEncoder();

/**
 * A RecordIO response body (the scheduler and operator APIs' event streams), written as the
 * reader takes it. A record is written alone, in its own chunk, whenever the reader keeps up:
 * naive clients (npm's mesos-framework) expect one record per chunk. When records arrive
 * faster than the reader takes them, those waiting go out together in one chunk: each chunk
 * costs the isolate a turn of its event loop, so a burst of thousands of records (a big launch's
 * TASK_RUNNING updates) would otherwise trickle out a few per turn behind other requests.
 */
export class RecordStream {
  readonly readable: ReadableStream<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private waiting: Uint8Array[] = [];
  private writing = false;
  private open = true;

  /** `broken` is called once when the reader has gone (a write failed) or the stream was closed. */
  constructor(private readonly broken: () => void) {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    this.readable = readable;
    this.writer = writable.getWriter();
  }

  /** Queues one record (compact JSON). */
  push(json: string): void {
    this.pushRecords(encoder.encode(recordIo(json)));
  }

  /**
   * Queues records already framed: a commit's events as the Cluster object sends them
   * (`recordIoBytes`), written as they are, the message's records together in one chunk.
   */
  pushRecords(records: Uint8Array): void {
    if (!this.open) return;
    this.waiting.push(records);
    if (!this.writing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.open && this.waiting.length > 0) {
        const chunk = concatBytes(this.waiting);
        this.waiting = [];
        await this.writer.write(chunk);
      }
    } catch {
      this.close();
    } finally {
      this.writing = false;
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.waiting = [];
    this.writer.close().catch(() => {});
    this.broken();
  }
}
