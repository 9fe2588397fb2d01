import { describe, expect, test } from "bun:test";
import { decode, encode } from "@leichtgewicht/dns-packet";
import type { Answer, Packet } from "@leichtgewicht/dns-packet";
import { RCODE, decodeHead, decodeStrict, ednsOf, encodeReply, headerOnlyReply, peekHeader, udpLimit } from "./messages.ts";
import { FrameReader, lengthPrefixed } from "./tcp-framing.ts";

const query: Packet = { type: "query", id: 0x1234, flags: 0x0100 | 0x0010, questions: [{ name: "web.marathon.mesos", type: "A", class: "IN" }] };
const opt = (udpPayloadSize: number, flags = 0): Answer => ({ type: "OPT", name: ".", data: [], udpPayloadSize, flags }) as Answer;

describe("reading messages", () => {
  test("peekHeader reads id, QR and opcode from 12 bytes, and nothing from fewer", () => {
    const bytes = encode({ type: "response", id: 77, flags: 4 << 11 });
    expect(peekHeader(bytes)).toEqual({ id: 77, flags: 4 << 11, isResponse: true, opcode: 4 });
    expect(peekHeader(bytes.slice(0, 11))).toBeUndefined();
  });

  test("decodeStrict refuses a message cut anywhere inside its question, which the library alone would pad with zeros", () => {
    const bytes = encode(query);
    expect(decodeStrict(bytes)?.questions?.[0]?.name).toBe("web.marathon.mesos");
    for (let length = 12; length < bytes.length; length++) expect(decodeStrict(bytes.slice(0, length))).toBeUndefined();
  });

  test("decodeHead reads the question of an answer whose records do not decode", () => {
    const answer = encode({ type: "response", id: 1, questions: query.questions, answers: [{ type: "A", name: "x.mesos", ttl: 1, data: "10.0.0.1" }] });
    const broken = answer.slice(0, answer.length - 2);
    expect(decodeStrict(broken)).toBeUndefined();
    expect(decodeHead(broken)?.questions?.[0]?.name).toBe("web.marathon.mesos");
  });

  test("EDNS: the client's payload size and DO bit; 512 without OPT, clamped to 512..4096", () => {
    expect(ednsOf(query)).toBeUndefined();
    expect(udpLimit(undefined)).toBe(512);
    const withOpt = decode(encode({ ...query, additionals: [opt(1400, 0x8000)] }));
    expect(ednsOf(withOpt)).toEqual({ udpPayloadSize: 1400, dnssecOk: true });
    expect(udpLimit({ udpPayloadSize: 100, dnssecOk: false })).toBe(512);
    expect(udpLimit({ udpPayloadSize: 65_000, dnssecOk: false })).toBe(4096);
  });
});

describe("writing answers", () => {
  test("echoes id, question, RD and CD; sets QR, RA and the rcode", () => {
    const reply = decode(encodeReply(query, { rcode: RCODE.NXDOMAIN, flags: 0x0400 }));
    expect(reply).toMatchObject({
      id: 0x1234,
      type: "response",
      rcode: "NXDOMAIN",
      flag_rd: true,
      flag_cd: true,
      flag_ra: true,
      flag_aa: true,
      flag_tc: false,
    });
    expect(reply.questions).toEqual(query.questions ?? []);
  });

  test("an EDNS query gets an OPT record with its DO bit echoed", () => {
    const reply = decode(encodeReply(decode(encode({ ...query, additionals: [opt(4096, 0x8000)] })), { rcode: 0 }));
    const replyOpt = reply.additionals?.[0];
    expect(replyOpt?.type).toBe("OPT");
    expect(Reflect.get(replyOpt ?? {}, "udpPayloadSize")).toBe(1232);
    expect(Reflect.get(replyOpt ?? {}, "flag_do")).toBe(true);
  });

  test("too large for the limit: an empty answer with TC", () => {
    const answers: Answer[] = Array.from({ length: 40 }, (_, i) => ({ type: "A", name: "web.marathon.mesos", ttl: 5, data: `10.0.0.${i}` }));
    expect(decode(encodeReply(query, { rcode: 0, answers })).answers).toHaveLength(40);
    const truncated = decode(encodeReply(query, { rcode: 0, answers }, 512));
    expect(truncated).toMatchObject({ flag_tc: true, answers: [] });
    expect(truncated.questions).toEqual(query.questions ?? []);
  });

  test("headerOnlyReply keeps id and opcode, sets the rcode, and carries no question", () => {
    const header = peekHeader(encode({ type: "query", id: 9, flags: 0x0100 | (1 << 11) }));
    if (header === undefined) throw new Error("no header");
    const reply = decode(headerOnlyReply(header, RCODE.NOTIMP));
    expect(reply).toMatchObject({ id: 9, type: "response", opcode: "IQUERY", rcode: "NOTIMP", questions: [] });
  });
});

describe("TCP framing", () => {
  test("messages split across chunks and several in one chunk come out whole and in order", () => {
    const one = encode(query);
    const two = encode({ ...query, id: 2 });
    const stream = new Uint8Array([...lengthPrefixed(one), ...lengthPrefixed(two), ...lengthPrefixed(one)]);
    const reader = new FrameReader();
    const out: Uint8Array[] = [];
    for (let offset = 0; offset < stream.length; offset += 7) out.push(...reader.push(stream.slice(offset, offset + 7)));
    expect(out.map((message) => decode(message).id)).toEqual([0x1234, 2, 0x1234]);
    expect(new FrameReader().push(stream).length).toBe(3);
  });

  test("a message longer than 65535 bytes cannot be framed", () => {
    expect(() => lengthPrefixed(new Uint8Array(70_000))).toThrow(/too long/);
  });
});
