/**
 * The few Docker Engine API calls the docker driver makes, over the daemon's unix socket with
 * Bun's `fetch(url, { unix })` (Podman's Docker-compatible socket answers them too). Paths are
 * unversioned, so the daemon answers with its own API version; every call used here exists in
 * every API version since 1.24.
 *
 * Errors: a daemon that does not answer is a DockerUnavailable; an answer with an error status
 * is a DockerError carrying the daemon's own message (`{"message": "..."}`) and the status, so
 * callers can tell "no such container" (404) from real failures.
 */

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

export class DockerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "DockerError";
  }
}

export class DockerUnavailable extends Error {
  constructor(socket: string, cause: string) {
    super(`the Docker daemon does not answer on ${socket}: ${cause}`);
    this.name = "DockerUnavailable";
  }
}

/** What `GET /containers/{id}/json` says, reduced to what the driver reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; OOMKilled: boolean; Error: string; StartedAt: string; FinishedAt: string };
  Config: { Labels: Record<string, string> | null };
}

/** One row of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
  State: string;
}

/** The body of `POST /containers/create`, reduced to the fields the driver sets. */
export interface ContainerCreate {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  Env: string[];
  Labels: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Hostname?: string;
  User?: string;
  WorkingDir?: string;
  HostConfig: {
    NetworkMode: string;
    PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
    Binds?: string[];
    Memory?: number;
    MemorySwap?: number;
    CpuPeriod?: number;
    CpuQuota?: number;
    Privileged?: boolean;
    ExtraHosts?: string[];
    CapAdd?: string[];
    CapDrop?: string[];
    Dns?: string[];
    Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
  };
}

export class DockerClient {
  constructor(readonly socket: string = DEFAULT_DOCKER_SOCKET) {}

  /** `GET /version`: the daemon's version, e.g. "28.2.2". */
  async version(): Promise<string> {
    const body = await this.json<{ Version: string }>("GET", "/version");
    return body.Version;
  }

  /** True when the image is in the daemon's store. */
  async hasImage(image: string): Promise<boolean> {
    try {
      await this.json("GET", `/images/${encodeURIComponent(image)}/json`);
      return true;
    } catch (error) {
      if (error instanceof DockerError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * `POST /images/create`: pulls an image. The daemon answers 200 at once and streams progress
   * lines; a failure mid-pull arrives as a line with `error`, so every line is read.
   */
  async pull(image: string): Promise<void> {
    const { name, tag } = splitTag(image);
    const query = new URLSearchParams({ fromImage: name, ...(tag === undefined ? {} : { tag }) });
    const response = await this.request("POST", `/images/create?${query}`);
    if (!response.ok) throw await this.errorOf(response);
    const text = await response.text();
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      let progress: { error?: string; errorDetail?: { message?: string } };
      try {
        progress = JSON.parse(line) as typeof progress;
      } catch {
        continue;
      }
      const failure = progress.errorDetail?.message ?? progress.error;
      if (failure !== undefined) throw new DockerError(500, failure);
    }
  }

  /** `POST /containers/create?name=`; returns the new container's id. */
  async create(name: string, body: ContainerCreate): Promise<string> {
    const created = await this.json<{ Id: string }>("POST", `/containers/create?name=${encodeURIComponent(name)}`, body);
    return created.Id;
  }

  async start(id: string): Promise<void> {
    await this.call("POST", `/containers/${id}/start`);
  }

  /** `POST /containers/{id}/stop?t=`: SIGTERM (or the image's stop signal), SIGKILL after `seconds`. */
  async stop(id: string, seconds: number): Promise<void> {
    await this.call("POST", `/containers/${id}/stop?t=${seconds}`);
  }

  async kill(id: string): Promise<void> {
    await this.call("POST", `/containers/${id}/kill`);
  }

  /** `POST /containers/{id}/wait`: resolves with the exit code once the container has stopped. */
  async wait(id: string): Promise<number> {
    const body = await this.json<{ StatusCode: number }>("POST", `/containers/${id}/wait`);
    return body.StatusCode;
  }

  async inspect(id: string): Promise<ContainerInspect> {
    return this.json<ContainerInspect>("GET", `/containers/${id}/json`);
  }

  /** Containers, stopped ones included, that carry every `key=value` label given. */
  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
    return this.json<ContainerSummary[]>("GET", `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
  }

  /** `DELETE /containers/{id}?force=1&v=1`: removes it (killing it first if it still runs), and its anonymous volumes. */
  async remove(id: string): Promise<void> {
    try {
      await this.call("DELETE", `/containers/${id}?force=1&v=1`);
    } catch (error) {
      // Already gone (or being removed by an earlier call): the goal is met.
      if (error instanceof DockerError && (error.status === 404 || error.status === 409)) return;
      throw error;
    }
  }

  /**
   * `GET /containers/{id}/logs`: the container's output as Docker's multiplexed stream (8-byte
   * frame headers: stream 1 stdout, 2 stderr, then a big-endian length). With `follow` the
   * body stays open until the container stops.
   */
  async logs(id: string, follow: boolean): Promise<ReadableStream<Uint8Array>> {
    const response = await this.request("GET", `/containers/${id}/logs?stdout=1&stderr=1&follow=${follow ? 1 : 0}`);
    if (!response.ok) throw await this.errorOf(response);
    if (response.body === null) throw new DockerError(response.status, "the logs answer has no body");
    return response.body;
  }

  /**
   * Runs `cmd` inside a running container (`POST /containers/{id}/exec`, then `/exec/{id}/start`
   * attached) and resolves with its exit code and output once it ends. At `timeoutMs` the
   * attachment is dropped and `timedOut` is set, with the host pid of the process if it still
   * runs: the Engine API has no call to kill an exec'd process, so that is left to the caller.
   */
  async exec(id: string, cmd: string[], timeoutMs: number): Promise<{ code: number | null; timedOut: boolean; stdout: string; stderr: string; pid?: number }> {
    const created = await this.json<{ Id: string }>("POST", `/containers/${id}/exec`, {
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: false,
      Tty: false,
    });
    const output = { stdout: "", stderr: "" };
    const demux = new LogDemuxer((which, bytes) => (output[which] = (output[which] + new TextDecoder().decode(bytes)).slice(-4096)));
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await this.request("POST", `/exec/${created.Id}/start`, { Detach: false, Tty: false }, signal);
      if (!response.ok) throw await this.errorOf(response);
      const reader = (response.body ?? new ReadableStream<Uint8Array>()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        demux.push(value);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      const hung = await this.json<{ Running: boolean; Pid: number }>("GET", `/exec/${created.Id}/json`).catch(() => undefined);
      return { code: null, timedOut: true, ...output, ...(hung?.Running && hung.Pid > 0 ? { pid: hung.Pid } : {}) };
    }
    const info = await this.json<{ ExitCode: number | null }>("GET", `/exec/${created.Id}/json`);
    return { code: info.ExitCode, timedOut: false, ...output };
  }

  private async call(method: string, path: string, body?: unknown): Promise<void> {
    const response = await this.request(method, path, body);
    if (!response.ok && response.status !== 304) throw await this.errorOf(response);
    await response.arrayBuffer();
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    if (!response.ok) throw await this.errorOf(response);
    return (await response.json()) as T;
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    try {
      return await fetch(`http://docker${path}`, {
        method,
        unix: this.socket,
        signal,
        // `wait` and followed logs last as long as the container: no client-side timeout.
        timeout: false,
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      } as RequestInit);
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new DockerUnavailable(this.socket, error instanceof Error ? error.message : String(error));
    }
  }

  private async errorOf(response: Response): Promise<DockerError> {
    const text = await response.text();
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // Not JSON: the text itself is the message.
    }
    return new DockerError(response.status, message || `HTTP ${response.status}`);
  }
}

/** `registry:5000/a/b:tag` → name `registry:5000/a/b`, tag `tag`; a digest stays in the name. */
export function splitTag(image: string): { name: string; tag?: string } {
  if (image.includes("@")) return { name: image };
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  if (colon > slash) return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { name: image, tag: "latest" };
}

/**
 * Splits Docker's multiplexed log stream into stdout and stderr chunks. Frames may straddle
 * reads, so the parser keeps what it has not consumed yet.
 */
export class LogDemuxer {
  private pending = new Uint8Array(0);

  constructor(private readonly sink: (stream: "stdout" | "stderr", bytes: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    let buffer = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    while (buffer.length >= 8) {
      const size = new DataView(buffer.buffer, buffer.byteOffset, 8).getUint32(4);
      if (buffer.length < 8 + size) break;
      const kind = buffer[0];
      // 0 is stdin (never sent here); anything but stderr is treated as stdout.
      this.sink(kind === 2 ? "stderr" : "stdout", buffer.subarray(8, 8 + size));
      buffer = buffer.subarray(8 + size);
    }
    this.pending = buffer.slice();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
