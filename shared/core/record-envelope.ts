/**
 * Kinesis records have no headers: replay's origin headers (record-headers.ts) travel inside the
 * record's data instead, in a small envelope. Records without the envelope (written by another
 * tool) decode as a value without headers, as a Kafka record without headers does.
 *
 * Layout: the 4 bytes `DLE1`, the headers' JSON length as a 32-bit big-endian integer, the headers
 * as a JSON object of strings, then the value's bytes unchanged (binary dt words stay binary).
 */

const MAGIC = new Uint8Array([0x44, 0x4c, 0x45, 0x31]); // "DLE1"
const PREFIX_BYTES = MAGIC.length + 4;

export interface Enveloped {
  readonly headers: ReadonlyMap<string, string>;
  readonly value: Uint8Array;
}

function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? new TextEncoder().encode(value) : value;
}

/** The value alone when there are no headers, else the envelope around it. */
export function encodeEnvelope(
  headers: Readonly<Record<string, string>> | undefined,
  value: Uint8Array | string,
): Uint8Array {
  const body = toBytes(value);
  if (!headers || Object.keys(headers).length === 0) return body;
  const headerBytes = new TextEncoder().encode(JSON.stringify(headers));
  const data = new Uint8Array(PREFIX_BYTES + headerBytes.length + body.length);
  data.set(MAGIC, 0);
  new DataView(data.buffer).setUint32(MAGIC.length, headerBytes.length);
  data.set(headerBytes, PREFIX_BYTES);
  data.set(body, PREFIX_BYTES + headerBytes.length);
  return data;
}

function hasMagic(data: Uint8Array): boolean {
  return data.length >= PREFIX_BYTES && MAGIC.every((byte, index) => data[index] === byte);
}

function parseHeaders(text: string): Map<string, string> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const entries = Object.entries(parsed);
    if (!entries.every(([, value]) => typeof value === 'string')) return undefined;
    return new Map(entries.map(([name, value]) => [name, String(value)]));
  } catch {
    return undefined; // not an envelope after all: the data is the value
  }
}

/** Headers and value of a record's data; data without a valid envelope is all value. */
export function decodeEnvelope(data: Uint8Array): Enveloped {
  const none: Enveloped = { headers: new Map(), value: data };
  if (!hasMagic(data)) return none;
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(MAGIC.length);
  if (PREFIX_BYTES + length > data.length) return none;
  const headerText = new TextDecoder().decode(data.subarray(PREFIX_BYTES, PREFIX_BYTES + length));
  const headers = parseHeaders(headerText);
  return headers ? { headers, value: data.subarray(PREFIX_BYTES + length) } : none;
}
