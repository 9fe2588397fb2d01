/**
 * Mesos-DNS naming: label mangling (`records/labels/labels.go`), framework domain fragments,
 * and the canonical per-task name `{task}-{hash}-{agentIdTail}` (`records/generator.go`).
 * Pure functions; the only asynchrony is WebCrypto's SHA-1 behind `taskHash`.
 */

/** RFC 1123 label length; Mesos-DNS's default (`RFC1123` spec). */
export const MAX_LABEL_LENGTH = 63;

/** z-base-32 alphabet (Zooko's human-oriented base-32), as `tv42/zbase32`. */
const ZBASE32_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769";

/** Maps one character as `labels.go` `mapping`: lowercase, keep a-z0-9, `-._` → `-`, drop the rest. */
function mapChar(c: string): string {
  if (c >= "A" && c <= "Z") return c.toLowerCase();
  if ((c >= "a" && c <= "z") || (c >= "0" && c <= "9")) return c;
  if (c === "-" || c === "." || c === "_") return "-";
  return "";
}

/**
 * Mangles any string into one DNS label exactly as Mesos-DNS's `labels.RFC1123`: map the
 * characters, trim leading `-`, cut at 63, trim trailing `-`. When the cut leaves trailing
 * dashes, labels.go refills the freed room from the text after the cut (minus its leading
 * dashes), so `hello` + 58 dashes + `f` becomes `hellof`, not `hello`.
 */
export function mangleLabel(name: string, maxLength = MAX_LABEL_LENGTH): string {
  let mapped = "";
  for (const c of name) mapped += mapChar(c);
  const trimmed = mapped.replace(/^-+/, "");
  const size = Math.min(trimmed.length, maxLength);
  const head = trimmed.slice(0, size).replace(/-+$/, "");
  if (head.length === size) return head;
  const tail = trimmed.slice(size).replace(/^-+/, "");
  return head + tail.slice(0, size - head.length);
}

/**
 * Mesos-DNS `labels.DomainFrag` for framework names: split on `.`, mangle each part, drop the
 * empty ones, so dots survive (`marathon-0.6.0-dev` → `marathon-0.6.0-dev`, `a..c` → `a.c`).
 */
export function domainFrag(name: string): string {
  return name
    .split(".")
    .map((part) => mangleLabel(part))
    .filter((label) => label !== "")
    .join(".");
}

/** z-base-32 of whole bytes, most significant bit first, the last group zero-padded (`tv42/zbase32` EncodeToString). */
export function zbase32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ZBASE32_ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += ZBASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Hashes are stable per task id; memoised so rebuilding a zone per query does not re-digest. */
const HASH_CACHE = new Map<string, string>();
const HASH_CACHE_LIMIT = 20_000;

/** The 5-character task hash of Mesos-DNS: the first 5 characters of zbase32(SHA-1(taskId)). */
export async function taskHash(taskId: string): Promise<string> {
  const cached = HASH_CACHE.get(taskId);
  if (cached !== undefined) return cached;
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(taskId));
  const hash = zbase32(new Uint8Array(digest)).slice(0, 5);
  if (HASH_CACHE.size >= HASH_CACHE_LIMIT) HASH_CACHE.clear();
  HASH_CACHE.set(taskId, hash);
  return hash;
}

/** The lowercased last `-` segment of an agent id: `…-S3` → `s3` (Mesos-DNS `slaveIDTail`). */
export function agentIdTail(agentId: string): string {
  const fields = agentId.split("-");
  return (fields[fields.length - 1] ?? "").toLowerCase();
}

/** The canonical task label `{task}-{hash}-{agentIdTail}`, e.g. `nginx-jhy6r-s1`. */
export function canonicalTaskLabel(taskName: string, hash: string, agentId: string): string {
  return `${taskName}-${hash}-${agentIdTail(agentId)}`;
}

/**
 * A query name in the form the zone index uses: ASCII-lowercased (DNS names compare without
 * case, RFC 4343) and without the trailing dot. The root is the empty string.
 */
export function normalizeName(name: string): string {
  const lower = name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** A fully qualified name for display and the HTTP API: with exactly one trailing dot. */
export function fqdn(name: string): string {
  return name === "" || name === "." ? "." : `${normalizeName(name)}.`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function isIPv6(ip: string): boolean {
  const halves = ip.split("::");
  if (halves.length > 2) return false;
  const groups = halves.map((half) => (half === "" ? [] : half.split(":")));
  const all = groups.flat();
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) counts as two hextets.
  const last = all[all.length - 1];
  const v4Tail = last !== undefined && IPV4.test(last);
  const hextets = v4Tail ? all.slice(0, -1) : all;
  if (!hextets.every((h) => HEXTET.test(h))) return false;
  const count = hextets.length + (v4Tail ? 2 : 0);
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** Which address record an IP belongs in, or null if it is not an IP literal (it then gets no record). */
export function addressType(ip: string): "A" | "AAAA" | null {
  if (IPV4.test(ip)) return "A";
  return ip.includes(":") && isIPv6(ip) ? "AAAA" : null;
}
