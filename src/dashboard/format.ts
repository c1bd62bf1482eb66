/** Numbers for people: money, counts, durations, times (UTC, since the server cannot know the reader's zone). */

export function usd(nano: number): string {
  const value = nano / 1e9;
  const abs = Math.abs(value);
  const sign = value < 0 ? '−' : '';
  if (abs === 0) return '$0.00';
  if (abs < 1e-7) return `${sign}<$0.0000001`;
  if (abs < 0.01) {
    // Two significant digits without exponent notation: 0.000123 → $0.00012.
    const decimals = Math.min(9, 1 - Math.floor(Math.log10(abs)));
    return `${sign}$${abs.toFixed(decimals).replace(/0+$/, '')}`;
  }
  if (abs < 100) return `${sign}$${abs.toFixed(abs < 1 ? 4 : 2)}`;
  return `${sign}$${Math.round(abs).toLocaleString('en-US')}`;
}

export function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs < 1_000) return String(Math.round(n));
  if (abs < 1_000_000) return `${trim(n / 1_000)}k`;
  if (abs < 1_000_000_000) return `${trim(n / 1_000_000)}M`;
  return `${trim(n / 1_000_000_000)}B`;
}

function trim(n: number): string {
  return n.toFixed(Math.abs(n) < 10 ? 1 : 0).replace(/\.0$/, '');
}

export function integer(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function ms(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  if (value < 1_000) return `${Math.round(value)} ms`;
  return `${(value / 1_000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '—';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

const pad = (n: number) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function hourLabel(at: number): string {
  const d = new Date(at);
  return `${pad(d.getUTCHours())}:00`;
}

export function dayLabel(at: number): string {
  const d = new Date(at);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

export function dateTime(at: number): string {
  const d = new Date(at);
  return `${dayLabel(at)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
