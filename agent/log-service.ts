import { existsSync } from "node:fs";
import { MAX_LOG_BYTES, MAX_LOG_FOLLOW_MS, MAX_LOG_FRAME_BYTES } from "../protocol/index.ts";
import type { AgentMessage, LogData, LogErrorCode, Logs, LogsCancel, MasterMessage } from "../protocol/index.ts";
import { type LogRead, frameEnds, readFrom, readTail, streamPath } from "./log-reader.ts";
import { errorMessage } from "./log.ts";
import type { Logger } from "./log.ts";

/** Where a task's output is, and whether the task may still write to it. */
export interface LogSource {
  sandbox: string;
  running: boolean;
}

export interface LogServiceOptions {
  /** The sandbox of a task this agent runs or ran; undefined for a task it never had. */
  source: (taskId: string) => LogSource | undefined;
  log: Logger;
  /** How often a follow looks for new output; its output is coalesced over this interval. */
  pollMs?: number;
  /** Follows open at once; more are refused as `unavailable`. */
  maxFollows?: number;
  /** The agent's own bound on a follow, in case the master's cancel never comes. */
  maxFollowMs?: number;
}

/**
 * Most output one poll of a follow sends (a few frames): a task writing faster than this is
 * followed at this rate, so a chatty task cannot flood the master with frames.
 */
const MAX_FOLLOW_POLL_BYTES = 4 * MAX_LOG_FRAME_BYTES;
const DEFAULT_POLL_MS = 200;
const DEFAULT_MAX_FOLLOWS = 32;

interface Follow {
  request: Logs;
  position: number;
  ino: number;
  /** Set once the task was seen ended: one more poll picks up the writer's last bytes. */
  endSeen: boolean;
  deadline: number;
  timer: ReturnType<typeof setInterval>;
}

/** The log frames among the master's commands. */
export function isLogCommand(command: MasterMessage): command is Logs | LogsCancel {
  return command.type === "logs" || command.type === "logsCancel";
}

/**
 * Answers the master's log requests from task sandboxes. A one-shot request is answered at
 * once, in frames of at most MAX_LOG_FRAME_BYTES; a follow then polls the file and sends what
 * was appended, until the task ends, the master cancels, the session ends or maxFollowMs pass.
 * Follows live only as long as the session that asked for them: the master forgets its
 * requests when the socket closes, so the next session starts with none.
 */
export class LogService {
  private send: ((message: AgentMessage) => void) | undefined;
  private readonly follows = new Map<string, Follow>();
  private readonly pollMs: number;
  private readonly maxFollows: number;
  private readonly maxFollowMs: number;

  constructor(private readonly options: LogServiceOptions) {
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.maxFollows = options.maxFollows ?? DEFAULT_MAX_FOLLOWS;
    // A little beyond the master's own limit, which normally ends the follow first.
    this.maxFollowMs = options.maxFollowMs ?? MAX_LOG_FOLLOW_MS + 60_000;
  }

  /** A session is up: answers go out through `send`. */
  connected(send: (message: AgentMessage) => void): void {
    this.send = send;
  }

  /** The session ended: its requests ended with it on the master's side. */
  disconnected(): void {
    this.send = undefined;
    this.stopAll();
  }

  close(): void {
    this.disconnected();
  }

  /** Must not throw: a failure is answered as an error frame. */
  handle(command: Logs | LogsCancel): void {
    if (command.type === "logsCancel") return this.stop(command.requestId);
    try {
      this.answer(command);
    } catch (error) {
      this.stop(command.requestId);
      this.fail(command.requestId, "failed", `reading the task's ${command.stream} failed: ${errorMessage(error)}`);
    }
  }

  private answer(request: Logs): void {
    const { requestId, taskId, stream } = request;
    const source = this.options.source(taskId);
    if (source === undefined) return this.fail(requestId, "not_found", `task '${taskId}' is not known to this agent`);
    if (!source.running && !existsSync(source.sandbox)) return this.fail(requestId, "not_found", `the sandbox of task '${taskId}' is no longer on this agent`);
    if (request.follow && source.running && this.follows.size >= this.maxFollows && !this.follows.has(requestId)) {
      return this.fail(requestId, "unavailable", `this agent already follows ${this.maxFollows} logs; try again later`);
    }
    const path = streamPath(source.sandbox, stream);
    const first = request.offset === undefined ? readTail(path, request.tail, MAX_LOG_BYTES) : readFrom(path, request.offset, MAX_LOG_BYTES);
    // A follow of a task that has already ended has nothing more to wait for.
    const following = request.follow === true && source.running;
    this.emit(requestId, first, !following);
    if (!following) return;
    this.stop(requestId);
    const follow: Follow = {
      request,
      position: first.position,
      ino: first.ino,
      endSeen: false,
      deadline: Date.now() + this.maxFollowMs,
      timer: setInterval(() => this.poll(follow), this.pollMs),
    };
    this.follows.set(requestId, follow);
    this.options.log.info("logs_follow", { requestId, taskId, stream });
  }

  private poll(follow: Follow): void {
    const { requestId, taskId, stream } = follow.request;
    try {
      const source = this.options.source(taskId);
      const ended = source === undefined || !source.running;
      const last = (ended && follow.endSeen) || Date.now() >= follow.deadline;
      follow.endSeen ||= ended;
      if (source !== undefined) {
        const read = readFrom(streamPath(source.sandbox, stream), follow.position, MAX_FOLLOW_POLL_BYTES, follow.ino);
        follow.position = read.position;
        follow.ino = read.ino || follow.ino;
        if (read.bytes.length > 0 || last) this.emit(requestId, read, last);
      } else if (last) {
        this.emit(requestId, { bytes: Buffer.alloc(0), positionAt: () => follow.position, position: follow.position, ino: follow.ino }, true);
      }
      if (last) this.stop(requestId);
    } catch (error) {
      this.stop(requestId);
      this.fail(requestId, "failed", `following the task's ${stream} failed: ${errorMessage(error)}`);
    }
  }

  /** Sends a read as frames; the last one carries `eof` when the request ends with it. */
  private emit(requestId: string, read: LogRead, eof: boolean): void {
    const ends = frameEnds(read.bytes, MAX_LOG_FRAME_BYTES);
    if (ends.length === 0) ends.push(0);
    let start = 0;
    const decoder = new TextDecoder();
    ends.forEach((end, i) => {
      const frame: LogData = { type: "logData", requestId, data: decoder.decode(read.bytes.subarray(start, end)), offset: read.positionAt(end) };
      if (eof && i === ends.length - 1) frame.eof = true;
      this.send?.(frame);
      start = end;
    });
  }

  private fail(requestId: string, code: LogErrorCode, message: string): void {
    this.send?.({ type: "logData", requestId, data: "", offset: 0, eof: true, error: { code, message } });
  }

  private stop(requestId: string): void {
    const follow = this.follows.get(requestId);
    if (follow === undefined) return;
    clearInterval(follow.timer);
    this.follows.delete(requestId);
  }

  private stopAll(): void {
    for (const requestId of [...this.follows.keys()]) this.stop(requestId);
  }
}
