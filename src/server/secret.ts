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
