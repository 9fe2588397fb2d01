/**
 * Reads Mesos's RecordIO (`<length>\n<record>` repeated) from a stream, yielding each record's
 * text as it completes. DCX keeps the records ASCII (control/cluster/frameworks/external/
 * stream.ts), so a length in bytes is a length in characters. Errors of the stream propagate.
 */
export async function* recordIoRecords(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (;;) {
      const nl = buffer.indexOf("\n");
      if (nl < 0) break;
      const length = Number(buffer.slice(0, nl));
      if (buffer.length < nl + 1 + length) break;
      yield buffer.slice(nl + 1, nl + 1 + length);
      buffer = buffer.slice(nl + 1 + length);
    }
  }
}
