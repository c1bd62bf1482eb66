/**
 * 32-bit hashing for the feature extractor: FNV-1a steps while a word is read, then a murmur3 finalizer so
 * that nearby words spread over the whole table. Integer arithmetic only (Math.imul), so one word costs a
 * few nanoseconds and allocates nothing.
 */

export const FNV_OFFSET = 0x811c9dc5 | 0;

/** One FNV-1a step: folds a character code into a running word hash. */
export function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193);
}

/** murmur3 fmix32: the avalanche step that turns a running hash into a well-spread bucket key. */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Combines two hashes (a word and the one before it) into one key, order-sensitive. */
export function combine(a: number, b: number): number {
  return mix32(Math.imul(a, 0x9e3779b1) ^ b);
}

/** Hash of a whole string, for fixed feature names (bins, markers). */
export function hashString(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) h = fnvStep(h, text.charCodeAt(i));
  return mix32(h);
}
