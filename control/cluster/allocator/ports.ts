/**
 * Ports: host ports handed out on one agent while a plan is computed, and service ports
 * (Marathon's cluster-wide load-balancer ports) for apps.
 */

/** Marathon's `--local_port_min..--local_port_max` defaults: where service ports come from. */
export const SERVICE_PORT_RANGE: readonly [number, number] = [10000, 20000];

/** The host ports one task instance asks for: exact ones (requirePorts) and how many dynamic ones. */
export interface PortNeed {
  /** Exact host ports, in request order, without duplicates. */
  exact: number[];
  /** How many ports may be any free port from the agent's ranges. */
  dynamic: number;
  /** exact.length + dynamic: the free ports an agent needs. */
  total: number;
}

/**
 * Splits requested host ports into exact and dynamic ones. A port asked for twice can never be
 * bound on one host, so that is returned as a reason instead of a need.
 */
export function portNeed(requested: readonly number[]): PortNeed | string {
  const exact: number[] = [];
  let dynamic = 0;
  for (const port of requested) {
    if (port === 0) dynamic++;
    else if (exact.includes(port)) return `port ${port} requested twice`;
    else exact.push(port);
  }
  return { exact, dynamic, total: exact.length + dynamic };
}

/**
 * The host ports of one agent during planning. Ports are only ever taken, never released, while
 * a plan is computed; that is what lets `next` keep a cursor: every port in the agent's ranges
 * below the cursor is taken.
 */
export class AgentPorts {
  private readonly ranges: [number, number][];
  private readonly taken: Set<number>;
  /** Ports inside `ranges` that are not taken. Must equal the true figure at all times. */
  private free: number;
  private rangeAt = 0;
  private portAt: number;

  constructor(ranges: readonly (readonly number[])[], used: readonly number[]) {
    this.ranges = mergeRanges(ranges);
    this.taken = new Set(used);
    this.free = this.ranges.reduce((n, [b, e]) => n + e - b + 1, 0);
    for (const port of this.taken) if (this.offers(port)) this.free--;
    this.portAt = this.ranges[0]?.[0] ?? 0;
  }

  /** Whether the agent can give `need` right now (the fast path of placement). */
  fits(need: PortNeed): boolean {
    if (this.free < need.total) return false;
    for (let i = 0; i < need.exact.length; i++) {
      const port = need.exact[i] ?? 0;
      if (this.taken.has(port) || !this.offers(port)) return false;
    }
    return true;
  }

  /** Why the agent cannot give `need`, or undefined when it can. Same verdict as `fits`. */
  refusal(need: PortNeed): string | undefined {
    for (const port of need.exact) {
      if (!this.offers(port)) return `port ${port} not offered`;
      if (this.taken.has(port)) return `port ${port} in use`;
    }
    return this.free < need.total ? "no free ports" : undefined;
  }

  /**
   * Takes the ports of `need` and returns the host ports in request order (0 replaced by the
   * port chosen). Exact ports are taken first so a dynamic port never lands on one of them.
   * The caller must have checked `fits`.
   */
  take(requested: readonly number[], need: PortNeed): number[] {
    for (const port of need.exact) this.hold(port);
    return requested.map((port) => (port === 0 ? this.next() : port));
  }

  private hold(port: number): void {
    this.taken.add(port);
    if (this.offers(port)) this.free--;
  }

  /** The lowest free port at or above the cursor; `fits` guaranteed there is one. */
  private next(): number {
    for (;;) {
      const range = this.ranges[this.rangeAt];
      if (range === undefined) throw new Error("port cursor ran past the agent's ranges");
      if (this.portAt > range[1]) {
        this.rangeAt++;
        this.portAt = this.ranges[this.rangeAt]?.[0] ?? 0;
        continue;
      }
      const port = this.portAt++;
      if (!this.taken.has(port)) {
        this.hold(port);
        return port;
      }
    }
  }

  private offers(port: number): boolean {
    for (const [begin, end] of this.ranges) if (port >= begin && port <= end) return true;
    return false;
  }
}

/** Sorts ranges and merges overlapping or touching ones, so no port is counted twice. */
export function mergeRanges(ranges: readonly (readonly number[])[]): [number, number][] {
  const sorted = ranges
    .map(([b = 0, e = -1]): [number, number] => [b, e])
    .filter(([b, e]) => b <= e)
    .sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [b, e] of sorted) {
    const last = out[out.length - 1];
    if (last && b <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([b, e]);
  }
  return out;
}

/** A service port that cannot be given: `index` is its position in the request. */
export class ServicePortError extends Error {
  readonly index: number;
  readonly port: number;

  constructor(index: number, port: number, message: string) {
    super(message);
    this.name = "ServicePortError";
    this.index = index;
    this.port = port;
  }
}

/**
 * Assigns service ports the Marathon way: 0 becomes the lowest port of `range` that is neither in
 * `taken` nor given earlier in this call; a nonzero port is kept as asked. Service ports are
 * unique cluster-wide, so a nonzero port already in `taken` (or asked for twice) throws a
 * `ServicePortError`, as does an exhausted range. `taken` must hold every service port of the
 * cluster except those of the app being assigned (an app keeps its own ports on update). Pure:
 * `taken` is not modified; the caller records the result.
 */
export function assignServicePorts(requested: readonly number[], taken: ReadonlySet<number>, range: readonly [number, number] = SERVICE_PORT_RANGE): number[] {
  const given = new Set<number>();
  requested.forEach((port, index) => {
    if (port === 0) return;
    if (taken.has(port) || given.has(port)) throw new ServicePortError(index, port, `service port ${port} is already in use`);
    given.add(port);
  });
  let candidate = range[0];
  return requested.map((port, index) => {
    if (port !== 0) return port;
    while (candidate <= range[1] && (taken.has(candidate) || given.has(candidate))) candidate++;
    if (candidate > range[1]) {
      throw new ServicePortError(index, 0, `no free service port left in ${range[0]}-${range[1]}`);
    }
    given.add(candidate);
    return candidate;
  });
}
