/**
 * Byte arrays in JSON values.
 *
 * `JSON.stringify(new Uint8Array([1, 2]))` gives `{"0":1,"1":2}` and a `Buffer` gives
 * `{"type":"Buffer","data":[…]}`: neither comes back as bytes, and both cost several bytes
 * per byte. Here every `Uint8Array` (Buffers included) travels as a one-key object
 * `{"$trpcSseBinary":"<base64>"}` and is revived on the other side, with or without a
 * tRPC transformer (bytes are tagged before the transformer serializes, and revived after
 * it deserializes).
 *
 * The tag is deliberately unusual; a user object whose only key is `$trpcSseBinary` with a
 * string value would be revived as bytes. That is the whole of the ambiguity.
 */

/** The key of the object that stands for a byte array on the wire. */
const BINARY_TAG = '$trpcSseBinary';

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
function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer) {
    // A view on the same memory: no copy before encoding.
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out +=
      BASE64_ALPHABET[n >> 18]! +
      BASE64_ALPHABET[(n >> 12) & 63]! +
      BASE64_ALPHABET[(n >> 6) & 63]! +
      BASE64_ALPHABET[n & 63]!;
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
function base64ToBytes(text: string): Uint8Array {
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

function isPlainContainer(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces every `Uint8Array` inside plain objects and arrays by its tagged base64 form.
 * Runs before the tRPC transformer, so the transformer (superjson turns bytes into number
 * arrays, and cannot revive a Buffer) only ever sees plain JSON. Copy-on-write: a value
 * without bytes is returned as it is, allocation-free.
 */
export function tagBinary(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return { [BINARY_TAG]: bytesToBase64(value) };
  // Deeper than any sane payload: leave it to JSON.stringify, which reports cycles itself.
  if (depth > 256 || !isPlainContainer(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const tagged = tagBinary(item, depth + 1);
      if (tagged !== item) (copy ??= value.slice())[i] = tagged;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    const tagged = tagBinary(item, depth + 1);
    if (tagged !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = tagged;
  }
  return copy ?? value;
}

/** Undoes {@link tagBinary} (in place: the value was just parsed and is ours). */
export function reviveBinary(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 256) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveBinary(value[i], depth + 1);
    return value;
  }
  if (!isPlainContainer(value)) return value;
  const record = value as Record<string, unknown>;
  const tagged = record[BINARY_TAG];
  if (typeof tagged === 'string' && Object.keys(record).length === 1) return base64ToBytes(tagged);
  for (const key in record) record[key] = reviveBinary(record[key], depth + 1);
  return value;
}

/** Whether wire text may hold tagged bytes; a substring search is far cheaper than a walk. */
export function mayContainBinary(text: string): boolean {
  return text.includes(QUOTED_TAG);
}
