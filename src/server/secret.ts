/**
 * Identifiers and secrets for multiplexed connections, from the Web Crypto API (global in
 * Node ≥ 19 and every browser), so the core needs no `node:crypto`.
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

/**
 * Compares a presented secret with the expected one in time that depends only on the
 * expected length, so response timing says nothing about how much of a guess was right.
 */
export function secretsMatch(presented: string | null, expected: string): boolean {
  if (presented === null) return false;
  let difference = presented.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    difference |= expected.charCodeAt(i) ^ (presented.charCodeAt(i % Math.max(1, presented.length)) || 0);
  }
  return difference === 0;
}
