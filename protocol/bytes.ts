/** `parts` as one array, in order (`total`: their byte length, when the caller has counted it); a lone part is returned as it is. */
export function concatBytes<B extends ArrayBufferLike>(
  parts: readonly Uint8Array<B>[],
  total = parts.reduce((n, p) => n + p.byteLength, 0),
): Uint8Array<B | ArrayBuffer> {
  if (parts.length === 1) return parts[0] as Uint8Array<B>;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Base64 of `bytes` (RFC 4648 §4); with `url`, base64url without padding (§5: secrets, DoH's `?dns=`). */
export function toBase64(bytes: Uint8Array, url = false): string {
  let binary = "";
  // In slices: String.fromCharCode takes its bytes as arguments, and arguments are bounded.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const text = btoa(binary);
  return url ? text.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : text;
}

/**
 * The bytes of Base64 or base64url text, padded or not, whitespace ignored (atob's forgiving
 * decode); throws atob's error for anything else.
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
