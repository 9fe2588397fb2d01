import { fieldErrors, MAX_JSON_DEPTH } from "../../../../protocol/messages.ts";
import { fail, type Outcome } from "../marathon/commands.ts";
import { callProblem, type SchedulerCall } from "./calls.ts";
import { isPlainCall, parseSchedulerCall } from "./plain-call.ts";

/**
 * Reading a scheduler call from the request's text: its JSON checked against the schema
 * (plain-call.ts for the usual shapes, calls.ts for the rest), with Mesos's messages for what
 * is wrong. The Worker reads the calls sent without a stream id (a SUBSCRIBE: it must know the
 * call before it holds the stream open); every other call reaches the Cluster object as the
 * request's text and is read there, once. A busy framework's ACCEPTs carry tens of TaskInfos
 * each: parsing each body in the Worker and again in the object cost a second JSON.parse per
 * call, on the isolate both run in locally and on the object's thread in production anyway.
 */

const malformed = (message: string) => fail("malformed", message);

/** A call's text as the request sent it: 400 for text that is not JSON, nests too deep, or is not a call. */
export function readCallText(text: string): Outcome<SchedulerCall> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return malformed("Malformed JSON in request body.");
  }
  // The usual call (plain-call.ts) holds no null and nests no deeper than its shape: it is taken
  // without the walk that drops nulls, which would visit each of an ACCEPT's TaskInfos once more.
  if (isPlainCall(json)) return checked(json);
  if (!dropNulls(json, MAX_JSON_DEPTH)) return malformed(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  const parsed = parseSchedulerCall(json);
  if (!parsed.success) {
    const details = fieldErrors(parsed.error);
    return { ...malformed(`Failed to validate scheduler::Call: ${details.map((d) => `${d.path}: ${d.errors.join(", ")}`).join("; ")}`), details };
  }
  return checked(parsed.data);
}

/** A call of a valid shape checked beyond it (callProblem): the call, or a 400. */
function checked(call: SchedulerCall): Outcome<SchedulerCall> {
  const problem = callProblem(call);
  return problem ? malformed(`Failed to validate scheduler::Call: ${problem}`) : { ok: true, value: call };
}

/**
 * Removes every null field, in place (the value is the request's own parse): protobuf's JSON
 * mapping reads null as "not set", and protobuf.js-based clients (mesos-framework) send unset
 * message fields as null. A body without nulls is walked, never copied. Returns false, and
 * stops there, when the value nests deeper than `depth` levels: its recursion stays bounded.
 */
function dropNulls(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (depth <= 0) return false;
  if (Array.isArray(value)) return value.every((item) => dropNulls(item, depth - 1));
  const object = value as Record<string, unknown>;
  for (const key in object) {
    if (object[key] === null) delete object[key];
    else if (!dropNulls(object[key], depth - 1)) return false;
  }
  return true;
}
