/**
 * JSON with byte arrays.
 *
 * `JSON.stringify(new Uint8Array([1, 2]))` gives `{"0":1,"1":2}` and a `Buffer` gives
 * `{"type":"Buffer","data":[…]}`: neither comes back as bytes, and both cost several bytes
 * per byte. Here every `Uint8Array` (Buffers included) travels as a one-key object
 * `{"$trpcSseBinary":"<base64>"}` and is revived on the other side, with or without a
 * tRPC transformer (the tag is applied after the transformer serializes, and removed
 * before it deserializes).
 *
 * The tag is deliberately unusual; a user object whose only key is `$trpcSseBinary` with a
 * string value would be revived as bytes. That is the whole of the ambiguity.
 */

/** The key of the object that stands for a byte array on the wire. */
export const BINARY_TAG = '$trpcSseBinary';

// Searching for the quoted tag is far cheaper than running a reviver over every value.
const QUOTED_TAG = `"${BINARY_TAG}"`;

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

interface BufferLike {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: string): string };
  from(text: string, encoding: string): Uint8Array;
}

// Node's Buffer is an order of magnitude faster than a JS loop; browsers fall back to the loop.
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Encodes bytes as standard base64 (with padding). */
export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) {
    // A view on the same memory: no copy before encoding.
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64_ALPHABET[n >> 18]! + BASE64_ALPHABET[(n >> 12) & 63]! + BASE64_ALPHABET[(n >> 6) & 63]! + BASE64_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += BASE64_ALPHABET[n >> 18]! + BASE64_ALPHABET[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += BASE64_ALPHABET[n >> 18]! + BASE64_ALPHABET[(n >> 12) & 63]! + BASE64_ALPHABET[(n >> 6) & 63]! + '=';
  }
  return out;
}

const BASE64_LOOKUP = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < BASE64_ALPHABET.length; i++) table[BASE64_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Decodes standard base64; throws a `TypeError` on characters outside the alphabet. */
export function base64ToBytes(text: string): Uint8Array {
  if (NodeBuffer) {
    const buffer = NodeBuffer.from(text, 'base64');
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  const clean = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let j = 0;
  for (let i = 0; i < clean.length; i++) {
    const code = clean.charCodeAt(i);
    const v = code < 128 ? BASE64_LOOKUP[code]! : -1;
    if (v < 0) throw new TypeError(`Invalid base64 character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function binaryReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // `this[key]` is the value before `toJSON` ran: a Buffer's own toJSON would hide it.
  const original = this[key];
  if (original instanceof Uint8Array) return { [BINARY_TAG]: bytesToBase64(original) };
  return value;
}

function binaryReviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)[BINARY_TAG];
    if (typeof tagged === 'string' && Object.keys(value).length === 1) return base64ToBytes(tagged);
  }
  return value;
}

/**
 * `JSON.stringify` that carries byte arrays.
 *
 * @param binary when false, plain `JSON.stringify` (no replacer: V8's fast path).
 */
export function stringifyJSON(value: unknown, binary: boolean): string {
  const text = binary ? JSON.stringify(value, binaryReplacer) : JSON.stringify(value);
  // JSON.stringify(undefined) is undefined; the wire needs text.
  return text === undefined ? 'null' : text;
}

/** `JSON.parse` that revives byte arrays sent by {@link stringifyJSON}. */
export function parseJSON(text: string): unknown {
  return text.includes(QUOTED_TAG) ? JSON.parse(text, binaryReviver) : JSON.parse(text);
}
