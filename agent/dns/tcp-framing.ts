/**
 * DNS over TCP frames each message with a two-byte big-endian length (RFC 1035 §4.2.2; RFC 7766
 * for several messages per connection). This is the framing only; messages themselves are
 * read and written by the DNS library.
 */

/** The largest message a two-byte length can frame. */
export const MAX_FRAMED_MESSAGE = 0xffff;

/** Prefixes `message` with its length. Throws when it is too long to frame. */
export function lengthPrefixed(message: Uint8Array): Uint8Array {
  if (message.length > MAX_FRAMED_MESSAGE) throw new Error(`a ${message.length}-byte message is too long for DNS over TCP`);
  const framed = new Uint8Array(message.length + 2);
  new DataView(framed.buffer).setUint16(0, message.length);
  framed.set(message, 2);
  return framed;
}

/**
 * Splits a TCP byte stream into messages. It holds at most one incomplete frame (under 64 KiB
 * plus the last chunk), so a peer cannot make it buffer without bound.
 */
export class FrameReader {
  private pending = new Uint8Array(0);

  /** Adds a chunk of the stream; returns every message it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const data = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const messages: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= 2) {
      const length = view.getUint16(offset);
      if (data.length - offset - 2 < length) break;
      messages.push(data.slice(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.pending = data.slice(offset);
    return messages;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
