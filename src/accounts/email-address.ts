/**
 * Email addresses as accounts use them: trimmed and lower-cased (one account per mailbox, whatever the case
 * typed), at most 254 characters, one `@`, a dotted domain, no spaces or control characters. Deliverability
 * is what the verification link proves; this only refuses what cannot be an address.
 */
const ADDRESS =
  /^[^\s@<>()[\]\\,;:"\p{Cc}]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/u;

export function normalizeEmail(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const email = input.trim().toLowerCase();
  return email.length <= 254 && ADDRESS.test(email) ? email : undefined;
}
