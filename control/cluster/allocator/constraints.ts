/**
 * Marathon placement constraints (`[field, OPERATOR, value?]`), checked against the tasks of one
 * group (app) already on the cluster plus those placed earlier in the same plan.
 *
 * A field is `hostname` / `@hostname` or an agent attribute. Values are compared as strings:
 * text as is, numbers at thousandths (`formatAttribute`). An agent without the attribute fails
 * every operator except UNLIKE (Marathon `Constraints.scala`).
 */

export type ConstraintOperator = "UNIQUE" | "CLUSTER" | "GROUP_BY" | "LIKE" | "UNLIKE" | "MAX_PER" | "IS";

/** One constraint of a task request, as Marathon's `[field, operator, value]`. */
export interface Constraint {
  field: string;
  operator: ConstraintOperator;
  value?: string;
}

/** The agent facts constraints read. */
export interface ConstrainedAgent {
  hostname: string;
  attributes: Record<string, string | number>;
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)$/;

/**
 * Formats an attribute value for comparison. Numbers are rounded to thousandths, so 3 and
 * 3.0001 both read "3" and 2.5 reads "2.5" (Marathon formats scalars the same way, without its
 * locale's digit grouping).
 */
export function formatAttribute(value: string | number): string {
  return typeof value === "number" ? String(Math.round(value * 1000) / 1000) : value;
}

function isHostname(field: string): boolean {
  return field === "hostname" || field === "@hostname";
}

function rawValue(agent: ConstrainedAgent, field: string): string | number | undefined {
  return isHostname(field) ? agent.hostname : agent.attributes[field];
}

/**
 * IS and CLUSTER-with-value: text compares exactly; a numeric attribute compares at thousandths
 * with a numeric constraint value, so attribute 3 IS "3.000" holds but text "3.000" IS "3" does not.
 */
export function valueEquals(raw: string | number | undefined, expected: string): boolean {
  if (raw === undefined) return false;
  if (typeof raw === "string") return raw === expected;
  const wanted = NUMERIC.test(expected) ? formatAttribute(Number(expected)) : expected;
  return formatAttribute(raw) === wanted;
}

/** One field's value for every agent, interned: `ids[agent]` indexes `names`, -1 when missing. */
export interface FieldColumn {
  ids: Int32Array;
  names: string[];
}

/** Interned field values per agent, built once per field and plan. */
export class FieldTable {
  private readonly columns = new Map<string, FieldColumn>();
  readonly agents: readonly ConstrainedAgent[];

  constructor(agents: readonly ConstrainedAgent[]) {
    this.agents = agents;
  }

  column(field: string): FieldColumn {
    const key = isHostname(field) ? "@hostname" : field;
    let column = this.columns.get(key);
    if (!column) {
      column = this.build(field);
      this.columns.set(key, column);
    }
    return column;
  }

  private build(field: string): FieldColumn {
    const ids = new Int32Array(this.agents.length).fill(-1);
    const names: string[] = [];
    const index = new Map<string, number>();
    this.agents.forEach((agent, i) => {
      const raw = rawValue(agent, field);
      if (raw === undefined) return;
      const name = formatAttribute(raw);
      let id = index.get(name);
      if (id === undefined) {
        id = names.push(name) - 1;
        index.set(name, id);
      }
      ids[i] = id;
    });
    return { ids, names };
  }
}

/**
 * The tasks of one group (framework + app) per agent and per field value. Counters move only
 * through `add`, so every view (per agent, per value, the CLUSTER pin) stays consistent.
 */
export class GroupTally {
  /** Tasks of the group on each agent. */
  readonly perAgent: Int32Array;
  /** The agent of every task of the group in placement order (the first pins CLUSTER). */
  private readonly order: number[] = [];
  private readonly byField = new Map<FieldColumn, Int32Array>();
  private readonly pins = new Map<FieldColumn, number>();

  constructor(agentCount: number) {
    this.perAgent = new Int32Array(agentCount);
  }

  add(agent: number): void {
    this.perAgent[agent] = (this.perAgent[agent] ?? 0) + 1;
    this.order.push(agent);
    for (const [column, counts] of this.byField) {
      const id = column.ids[agent] ?? -1;
      if (id >= 0) counts[id] = (counts[id] ?? 0) + 1;
    }
    for (const [column, pin] of this.pins) {
      if (pin < 0) this.pins.set(column, column.ids[agent] ?? -1);
    }
  }

  /** Tasks of the group per value id of `column`. */
  counts(column: FieldColumn): Int32Array {
    let counts = this.byField.get(column);
    if (!counts) {
      counts = new Int32Array(column.names.length);
      for (const agent of this.order) {
        const id = column.ids[agent] ?? -1;
        if (id >= 0) counts[id] = (counts[id] ?? 0) + 1;
      }
      this.byField.set(column, counts);
    }
    return counts;
  }

  /** The value id the group's first task (with a value for this field) pinned, or -1. */
  pin(column: FieldColumn): number {
    let pin = this.pins.get(column);
    if (pin === undefined) {
      const first = this.order.find((agent) => (column.ids[agent] ?? -1) >= 0);
      pin = first === undefined ? -1 : (column.ids[first] ?? -1);
      this.pins.set(column, pin);
    }
    return pin;
  }
}

/**
 * A compiled constraint. `admits` is the part that does not depend on placed tasks (checked once
 * per request); `allows` the part that does (checked per instance, on admitted agents only).
 * What must stay true: as tasks are added, `allows` only ever turns from true to false, except
 * for a check with `load` (GROUP_BY). The agent choice drops refused agents for good on that.
 */
export interface ConstraintCheck {
  /** The reason shown in the queue when this constraint turns an agent down. */
  readonly label: string;
  admits(agent: number): boolean;
  allows?(agent: number): boolean;
  /** Called once before each instance is placed, so `allows` can use per-instance figures. */
  prepare?(): void;
  /** Tasks already on the agent's value, for GROUP_BY's preference for the emptiest value. */
  load?(agent: number): number;
}

/** Compiles `c` for one group. A constraint with an unusable value turns every agent down. */
export function compileConstraint(c: Constraint, table: FieldTable, tally: GroupTally): ConstraintCheck {
  const value = c.value ?? "";
  const label = `constraint ${c.field}:${c.operator}${value === "" ? "" : `:${value}`}`;
  const column = table.column(c.field);
  const has = (agent: number): boolean => (column.ids[agent] ?? -1) >= 0;
  const raw = (agent: number): string | number | undefined => {
    const a = table.agents[agent];
    return a === undefined ? undefined : rawValue(a, c.field);
  };
  const invalid = (why: string): ConstraintCheck => ({ label: `${label} (${why})`, admits: () => false });
  switch (c.operator) {
    case "LIKE":
    case "UNLIKE": {
      if (value === "") return invalid("value required");
      const re = anchored(value);
      if (!re) return invalid("invalid regex");
      const test = (agent: number): boolean => re.test(formatAttribute(raw(agent) ?? ""));
      return c.operator === "LIKE" ? { label, admits: (agent) => has(agent) && test(agent) } : { label, admits: (agent) => !has(agent) || !test(agent) };
    }
    case "IS":
      if (value === "") return invalid("value required");
      return { label, admits: (agent) => valueEquals(raw(agent), value) };
    case "CLUSTER":
      if (value !== "") return { label, admits: (agent) => valueEquals(raw(agent), value) };
      return clusterPinned(label, column, tally, has);
    case "UNIQUE":
      return maxPer(label, column, tally, has, 1);
    case "MAX_PER": {
      if (!/^\d+$/.test(value)) return invalid("value must be a whole number");
      return maxPer(label, column, tally, has, Number(value));
    }
    case "GROUP_BY": {
      if (value !== "" && !/^\d+$/.test(value)) return invalid("value must be a whole number");
      return groupBy(label, column, tally, has, value === "" ? 0 : Number(value));
    }
  }
}

/** Marathon anchors constraint regexes: the whole value must match. */
function anchored(source: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    return undefined;
  }
}

type Has = (agent: number) => boolean;

/** UNIQUE is MAX_PER 1: fewer than `limit` tasks of the group on the agent's value. */
function maxPer(label: string, column: FieldColumn, tally: GroupTally, has: Has, limit: number): ConstraintCheck {
  let counts: Int32Array | undefined;
  return {
    label,
    admits: has,
    allows: (agent) => ((counts ??= tally.counts(column))[column.ids[agent] ?? -1] ?? 0) < limit,
  };
}

/** CLUSTER without a value: the group's first task pins the value the rest must share. */
function clusterPinned(label: string, column: FieldColumn, tally: GroupTally, has: Has): ConstraintCheck {
  return {
    label,
    admits: has,
    allows: (agent) => {
      const pin = tally.pin(column);
      return pin < 0 || pin === column.ids[agent];
    },
  };
}

/**
 * GROUP_BY [n], Marathon's rule: a value without tasks of the group is always allowed; a value
 * with tasks only when at least n values have tasks and it holds the fewest. `load` lets the
 * agent choice prefer the emptiest value, which spreads evenly over every value that has room.
 */
function groupBy(label: string, column: FieldColumn, tally: GroupTally, has: Has, expected: number): ConstraintCheck {
  let fewest = 0;
  let distinct = 0;
  let counts: Int32Array | undefined;
  const countOf = (agent: number): number => (counts ??= tally.counts(column))[column.ids[agent] ?? -1] ?? 0;
  return {
    label,
    admits: has,
    prepare: () => {
      fewest = Number.POSITIVE_INFINITY;
      distinct = 0;
      for (const n of tally.counts(column)) {
        if (n === 0) continue;
        distinct++;
        fewest = Math.min(fewest, n);
      }
    },
    allows: (agent) => {
      const n = countOf(agent);
      return n === 0 || (distinct >= expected && n === fewest);
    },
    load: countOf,
  };
}
