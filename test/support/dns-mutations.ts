import { encodeQuery } from "../../control/dns/wire.ts";

/** Random bytes, and mutations of valid queries: truncations, bit flips, huge counts, pointer loops, other classes. */
export function dnsMessages(count: number, random: () => number): Uint8Array[] {
  const valid = [
    encodeQuery("web-shop.marathon.mesos", "A"),
    encodeQuery("_web-shop._tcp.marathon.mesos", "SRV", 7, { udpPayloadSize: 4096 }),
    encodeQuery("example.com", "AAAA"),
  ];
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const base = (valid[i % valid.length] as Uint8Array).slice();
    const kind = i % 6;
    if (kind === 0) out.push(Uint8Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256)));
    else if (kind === 1) out.push(base.slice(0, Math.floor(random() * base.length)));
    else if (kind === 2) {
      for (let f = 0; f < 3; f++) {
        const at = Math.floor(random() * base.length);
        base[at] = (base[at] ?? 0) ^ (1 << Math.floor(random() * 8));
      }
      out.push(base);
    } else if (kind === 3) {
      base[4 + 2 * Math.floor(random() * 4)] = 0xff;
      base[5 + 2 * Math.floor(random() * 4)] = 0xff;
      out.push(base);
    } else if (kind === 4) {
      // A compression pointer to itself where the question name starts.
      base[12] = 0xc0;
      base[13] = 12;
      out.push(base);
    } else {
      base[base.length - 1] = Math.floor(random() * 256);
      out.push(base);
    }
  }
  return out;
}
