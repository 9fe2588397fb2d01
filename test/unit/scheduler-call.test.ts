import { describe, expect, it } from "vitest";
import { SchedulerCall } from "../../control/cluster/frameworks/external/calls.ts";
import { isPlainCall, parseSchedulerCall } from "../../control/cluster/frameworks/external/plain-call.ts";
import { readCallText } from "../../control/cluster/frameworks/external/read-call.ts";

/**
 * parseSchedulerCall checks the usual ACCEPT, DECLINE and ACKNOWLEDGE by hand and every other
 * call with the schema: for any body it must answer exactly as the schema does (same value,
 * same errors), so the quick check can only ever be a shortcut, never a second opinion.
 */

const task = (over: Record<string, unknown> = {}) => ({
  name: "web",
  task_id: { value: "web-1" },
  agent_id: { value: "agent-1" },
  resources: [
    { name: "cpus", type: "SCALAR", scalar: { value: 0.1 } },
    { name: "mem", type: "SCALAR", scalar: { value: 32 }, role: "*" },
  ],
  command: { value: "sleep 600" },
  ...over,
});
const accept = (tasks: unknown[], over: Record<string, unknown> = {}, call: Record<string, unknown> = {}) => ({
  type: "ACCEPT",
  framework_id: { value: "fw-1" },
  accept: { offer_ids: [{ value: "o-1" }], operations: [{ type: "LAUNCH", launch: { task_infos: tasks } }], filters: { refuse_seconds: 5 }, ...over },
  ...call,
});
const ack = (over: Record<string, unknown> = {}) => ({
  type: "ACKNOWLEDGE",
  framework_id: { value: "fw-1" },
  acknowledge: { agent_id: { value: "agent-1" }, task_id: { value: "web-1" }, uuid: "q83vEjRWeJq83vEjRWeJqw==", ...over },
});
const decline = (over: Record<string, unknown> = {}) => ({
  type: "DECLINE",
  framework_id: { value: "fw-1" },
  decline: { offer_ids: [{ value: "o-1" }], ...over },
});

/** Bodies as JSON texts (each test parses its own copy: a check must not depend on another's). */
const texts = (...bodies: unknown[]) => bodies.map((b) => JSON.stringify(b));

/** Bodies the quick check takes as they are. */
const QUICK = texts(
  accept([task()]),
  accept(Array.from({ length: 1000 }, (_, i) => task({ task_id: { value: `t-${i}` } }))),
  accept([task({ name: "", command: { value: "x", shell: true } }), task({ command: undefined, resources: [] })]),
  accept([
    task({
      resources: [
        { name: "disk", scalar: { value: 0 } },
        { name: "gpus", type: "SCALAR", scalar: { value: 1e12 } },
      ],
    }),
  ]),
  accept([task()], { filters: undefined }),
  accept([task()], { operations: [], offer_ids: [] }),
  accept([task({ name: "n".repeat(1024), task_id: { value: "t".repeat(255) } })]),
  decline(),
  decline({ filters: { refuse_seconds: 3600 } }),
  ack(),
  ack({ uuid: "u".repeat(64) }),
);

/** Bodies the schema takes, in shapes the quick check leaves to it (defaults, stripped fields, other calls). */
const SCHEMA_TAKES = texts(
  accept([task({ resources: undefined })]),
  accept([task({ labels: { labels: [] } })]),
  accept([task({ resources: [{ name: "ports", type: "RANGES", ranges: { range: [{ begin: 31000, end: 31001 }] } }] })]),
  accept([task({ unknown: 1 })]),
  accept([task()], { operations: undefined }),
  accept([task()], {}, { extra: true }),
  {
    type: "ACCEPT",
    framework_id: { value: "fw-1" },
    accept: { offer_ids: [], operations: [{ type: "LAUNCH_GROUP", launch_group: { task_group: { tasks: [task()] } } }] },
  },
  decline({ filters: { refuse_seconds: 1, other: 2 } }),
  { type: "REVIVE", framework_id: { value: "fw-1" } },
  { type: "SUBSCRIBE", subscribe: { framework_info: { user: "", name: "x" } } },
  { type: "ACCEPT", accept: { offer_ids: [] } },
  { ...ack(), framework_id: { value: "fw-1", extra: 1 } },
).concat(
  // A field the schema strips (JSON.parse makes `__proto__` an own key).
  '{"type":"ACKNOWLEDGE","framework_id":{"value":"fw-1"},"acknowledge":{"__proto__":{},"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"u"}}',
);

/** Bodies the schema refuses: the quick check must leave every one to it. */
const REFUSED = [
  ...texts(
    accept([task({ name: 1 })]),
    accept([task({ name: "n".repeat(1025) })]),
    accept([task({ task_id: { value: "" } })]),
    accept([task({ task_id: { value: "t".repeat(256) } })]),
    accept([task({ agent_id: undefined })]),
    accept([task({ agent_id: "agent-1" })]),
    accept([task({ resources: [{ name: "", scalar: { value: 1 } }] })]),
    accept([task({ resources: [{ name: "n".repeat(65), scalar: { value: 1 } }] })]),
    accept([task({ resources: [{ name: "cpus", type: "FLOAT", scalar: { value: 1 } }] })]),
    accept([task({ resources: [{ name: "cpus", scalar: { value: -1 } }] })]),
    accept([task({ resources: [{ name: "cpus", scalar: { value: 1e13 } }] })]),
    accept([task({ resources: [{ name: "cpus", scalar: { value: "1" } }] })]),
    accept([task({ resources: [{ name: "cpus", scalar: {} }] })]),
    accept([task({ resources: [{ name: "cpus", scalar: { value: 1 }, role: "r".repeat(256) }] })]),
    accept([task({ resources: Array.from({ length: 101 }, () => ({ name: "cpus", scalar: { value: 0 } })) })]),
    accept([task({ resources: {} })]),
    accept([task({ command: { value: "v".repeat(65_537) } })]),
    accept([task({ command: { value: "x", shell: "yes" } })]),
    accept([task({ command: "sleep 1" })]),
    accept(Array.from({ length: 1001 }, () => task())),
    accept([task(), null]),
    accept([task()], { offer_ids: [{ value: "" }] }),
    accept([task()], { offer_ids: Array.from({ length: 1001 }, (_, i) => ({ value: `o-${i}` })) }),
    accept([task()], { filters: { refuse_seconds: -1 } }),
    accept([task()], { filters: { refuse_seconds: "5" } }),
    accept([task()], { operations: {} }),
    accept([task()], {}, { framework_id: { value: 1 } }),
    accept([task()], {}, { type: "" }),
    decline({ offer_ids: "o-1" }),
    ack({ uuid: "" }),
    ack({ uuid: "u".repeat(65) }),
    ack({ task_id: undefined }),
    { type: 7, framework_id: { value: "fw-1" }, acknowledge: ack().acknowledge },
    { type: "ACKNOWLEDGE", framework_id: { value: "fw-1" }, acknowledge: [] },
    null,
    [],
    "ACCEPT",
  ),
  '{"type":"ACCEPT","framework_id":{"value":"fw-1"},"accept":{"offer_ids":[],"operations":[],"filters":{"refuse_seconds":1e400}}}',
];

describe("parseSchedulerCall", () => {
  it("takes the usual ACCEPT, DECLINE and ACKNOWLEDGE as they are, as the schema takes them", () => {
    for (const text of QUICK) {
      const quick = parseSchedulerCall(JSON.parse(text));
      expect(quick.success, text.slice(0, 160)).toBe(true);
      expect(quick).toEqual(SchedulerCall.safeParse(JSON.parse(text)));
    }
  });

  it("answers every other body exactly as the schema does", () => {
    for (const text of [...SCHEMA_TAKES, ...REFUSED]) {
      const quick = parseSchedulerCall(JSON.parse(text));
      const schema = SchedulerCall.safeParse(JSON.parse(text));
      expect(quick.success, text.slice(0, 160)).toBe(schema.success);
      if (quick.success) expect(quick.data).toEqual(schema.data);
      else expect(quick.error?.issues).toEqual(schema.error?.issues);
    }
    expect(REFUSED.filter((text) => SchedulerCall.safeParse(JSON.parse(text)).success)).toEqual([]);
    expect(SCHEMA_TAKES.filter((text) => !SchedulerCall.safeParse(JSON.parse(text)).success)).toEqual([]);
  });
});

describe("readCallText", () => {
  it("takes a usual call as parsed: it holds no null (what isPlainCall takes never does), so no walk drops any", () => {
    for (const text of [...QUICK, ...SCHEMA_TAKES, ...REFUSED]) {
      const json: unknown = JSON.parse(text);
      if (isPlainCall(json)) expect(JSON.stringify(json), text.slice(0, 160)).not.toContain("null");
    }
    const text = QUICK[0] as string;
    const read = readCallText(text);
    expect(read).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it("drops null fields (protobuf.js clients send unset fields as null) before the schema reads the call", () => {
    const call = JSON.parse(QUICK[0] as string) as { accept: Record<string, unknown> };
    const read = readCallText(JSON.stringify({ ...call, accept: { ...call.accept, filters: null } }));
    expect(read.ok && read.value.accept?.filters).toBeUndefined();
    expect(read.ok).toBe(true);
  });

  it("answers 400 for text that is not JSON, nests deeper than 64 levels (in any field), or is not a call", () => {
    const deep = `${"[".repeat(70)}${"]".repeat(70)}`;
    const call = JSON.parse(QUICK[0] as string) as Record<string, unknown>;
    const cases: [string, string][] = [
      ["{", "Malformed JSON in request body."],
      [`{"type":"REVIVE","framework_id":{"value":"fw-1"},"revive":${deep}}`, "The JSON body nests deeper than 64 levels."],
      [JSON.stringify({ ...call, extra: JSON.parse(deep) }), "The JSON body nests deeper than 64 levels."],
    ];
    for (const [text, message] of cases) expect(readCallText(text)).toMatchObject({ ok: false, code: "malformed", message });
    expect(readCallText(JSON.stringify({ type: "FROB", framework_id: { value: "fw-1" } }))).toMatchObject({ ok: false, code: "malformed" });
  });
});
