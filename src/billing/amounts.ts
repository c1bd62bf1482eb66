/** Money in: amounts typed by people, the deposit fee and the calendar month, in integer nano-dollars. */

/** Largest manual amount: one million dollars (and far below 2^53 nano-dollars). */
export const MAX_MANUAL_NANO = 1_000_000 * 1e9;

/** The fee on a deposit, rounded half up to a whole nano-dollar (BigInt: no float on money). */
export function depositFee(amountNano: number, feeBps: number): number {
  return Number((BigInt(amountNano) * BigInt(feeBps) + 5_000n) / 10_000n);
}

/** Start of the UTC calendar month that holds `now`. */
export function monthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * An amount in dollars as text (`12.5`, `0.000000001`) or nano-dollars (a whole number) → nano-dollars,
 * exactly; undefined when it is neither.
 */
export function parseAmount(input: { usd?: unknown; nano?: unknown }): number | undefined {
  if (input.nano !== undefined) {
    const n = typeof input.nano === 'string' && /^\d{1,16}$/.test(input.nano) ? Number(input.nano) : input.nano;
    return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
  }
  const text = typeof input.usd === 'number' ? String(input.usd) : input.usd;
  if (typeof text !== 'string') return undefined;
  const m = /^(\d{1,7})(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
}

/**
 * An amount an admin types in a form (dollars, at most 6 decimals: `12.5`, `0.000001`) → nano-dollars, or
 * the reason it is refused. Positive, at most MAX_MANUAL_NANO, no signs, exponents or separators.
 */
export function parseDollarsInput(input: unknown): { ok: true; nano: number } | { ok: false; message: string } {
  const text = typeof input === 'string' ? input.trim() : '';
  if (text === '') return { ok: false, message: 'Enter an amount in dollars, e.g. 12.50' };
  const m = /^(\d{1,7})(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) {
    return /^\d+\.\d{7,}$/.test(text)
      ? { ok: false, message: 'Amounts have at most 6 decimals (a millionth of a dollar)' }
      : { ok: false, message: 'The amount must be a positive number of dollars like 12.50 (digits and one dot)' };
  }
  const nano = Number(m[1]) * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
  if (nano <= 0) return { ok: false, message: 'The amount must be more than $0' };
  if (nano > MAX_MANUAL_NANO) return { ok: false, message: 'The amount must be at most $1,000,000' };
  return { ok: true, nano };
}
