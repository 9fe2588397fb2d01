/** Secrets: random tokens, SHA-256 token hashes, and PBKDF2 password hashes (WebCrypto only). */
import { fromBase64, toBase64 } from "../protocol/bytes.ts";

/** The Workers runtime refuses PBKDF2 above 100,000 iterations in production. */
export const PBKDF2_ITERATIONS = 100_000;
const PBKDF2_HASH_BYTES = 32;

/** Kinds of secret, each with its own prefix so a leaked one is recognisable (and scannable). */
export const TOKEN_PREFIX = {
  user: "dcxu_",
  join: "dcxj_",
  agent: "dcxa_",
  dns: "dcxd_",
  service: "dcxs_",
} as const;
export type TokenKind = keyof typeof TOKEN_PREFIX;

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A random lowercase id, DNS-label safe. 12 characters give ~62 bits. */
export function newId(length = 12): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  // 256 % 36 = 4, so the first 4 symbols are very slightly likelier; fine for ids, not for secrets.
  for (const b of bytes) out += ID_ALPHABET[b % ID_ALPHABET.length];
  return out;
}

/** A new secret of the given kind: the prefix plus 32 random bytes in base64url. */
export function newToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + toBase64(crypto.getRandomValues(new Uint8Array(32)), true);
}

/** A secret is its prefix and 32 bytes in base64url: 43 characters, no padding. */
const SECRET_BODY = /^[A-Za-z0-9_-]{43}$/;

/**
 * Whether `token` has the exact shape of a secret of `kind` (or of any kind). Every credential
 * is checked for shape before it is hashed or looked up: a malformed one costs no database
 * read and no Durable Object wake-up, whatever its length.
 */
export function isWellFormedToken(token: string, kind?: TokenKind): boolean {
  const found = tokenKind(token);
  if (found === undefined || (kind !== undefined && found !== kind)) return false;
  return SECRET_BODY.test(token.slice(TOKEN_PREFIX[found].length));
}

export function tokenKind(token: string): TokenKind | undefined {
  return (Object.keys(TOKEN_PREFIX) as TokenKind[]).find((k) => token.startsWith(TOKEN_PREFIX[k]));
}

/** SHA-256 of a token, hex: what is stored and looked up. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return hex(new Uint8Array(digest));
}

/** Hashes a password as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url parts). */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${toBase64(salt, true)}$${toBase64(hash, true)}`;
}

/** Verifies against a stored hash, replaying the iteration count stored with it. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iterText, saltText, hashText] = stored.split("$");
  const iterations = Number(iterText);
  if (scheme !== "pbkdf2-sha256" || !Number.isInteger(iterations) || !saltText || !hashText) return false;
  if (iterations < 1 || iterations > PBKDF2_ITERATIONS) return false;
  const actual = await pbkdf2(password, fromBase64(saltText), iterations);
  return timingSafeEqual(actual, fromBase64(hashText));
}

async function pbkdf2(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, PBKDF2_HASH_BYTES * 8);
  return new Uint8Array(bits);
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
