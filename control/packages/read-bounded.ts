import { concatBytes } from "../../protocol/bytes.ts";

/**
 * A response's body, read whole but never past `maxBytes`: `tooLarge()` is thrown, the body
 * cancelled, as soon as its Content-Length or the bytes received say more. What repositories
 * and package resources are fetched through, each with its own bound and error.
 */
export async function readBounded(res: Response, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array<ArrayBuffer>> {
  if (Number(res.headers.get("Content-Length")) > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}
