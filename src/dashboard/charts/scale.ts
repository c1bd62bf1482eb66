/**
 * A "nice" axis maximum (1, 2, 2.5 or 5 × 10^k) at or above `max`, and its evenly spaced ticks. `minStep`
 * keeps counts on whole numbers (no "1.5 requests" gridline).
 */
export function niceScale(max: number, ticks = 4, minStep = 0): { max: number; ticks: number[] } {
  if (!(max > 0)) return { max: 1, ticks: Array.from({ length: ticks + 1 }, (_, i) => i / ticks) };
  const rough = Math.max(max / ticks, minStep);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step =
    [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough && (minStep === 0 || Number.isInteger(s))) ??
    10 * power;
  const top = step * ticks;
  return { max: top, ticks: Array.from({ length: ticks + 1 }, (_, i) => i * step) };
}
