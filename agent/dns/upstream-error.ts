/** An upstream (the DoH endpoint or a resolv.conf nameserver) gave no usable answer. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** Which upstream failed: "doh" or "resolv.conf". */
    readonly upstream: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}
