/**
 * Random identifiers (connection ids and secrets, log epochs, process ids), from the Web
 * Crypto API (global in Node ≥ 19 and every browser), so no module that uses them needs
 * `node:crypto`.
 */

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes as base64url: 16 bytes = 128 bits. */
export function randomToken(bytes = 16): string {
  const buffer = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buffer);
  return base64url(buffer);
}
