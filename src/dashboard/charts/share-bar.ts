import { type SafeHtml, trusted } from '../html.ts';

/** A thin horizontal bar showing a share (0..1) as SVG, so widths need no inline style under the CSP. */
export function shareBar(share: number, tone = 'c1'): SafeHtml {
  const width = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0)) * 100;
  return trusted(
    `<svg class="share" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="6" rx="3"/><rect class="bar ${tone}" width="${width.toFixed(2)}" height="6" rx="3"/></svg>`,
  );
}
