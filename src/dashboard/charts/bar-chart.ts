import { html, type SafeHtml, trusted } from '../html.ts';
import { niceScale } from './scale.ts';

/**
 * A time-series bar chart as inline SVG, rendered on the server: no script, no CDN, works under a strict
 * Content-Security-Policy (colours come from the stylesheet through classes). Series stack bottom-up.
 * Each bar has a <title>, which browsers show as a tooltip.
 */
export interface BarSeries {
  name: string;
  values: number[];
  /** Stylesheet class giving the colour: `c1` … `c6`, `c-bad`. */
  tone: string;
}

export interface BarChartInput {
  /** One label per bucket, for tooltips. */
  labels: string[];
  /** Shorter labels for the x axis; every n-th is shown. */
  axisLabels: string[];
  series: BarSeries[];
  format(value: number): string;
  /** For screen readers. */
  title: string;
  empty?: string;
  /** `wide` for a full-width card, `half` for a card in a two-column row: text keeps about the same size. */
  size?: 'wide' | 'half';
  /** Whole-number values (counts): gridlines at whole numbers. */
  integer?: boolean;
}

const PAD = { top: 12, right: 8, bottom: 26, left: 58 };

export function barChart(input: BarChartInput): SafeHtml {
  const W = input.size === 'half' ? 540 : 960;
  const H = input.size === 'half' ? 240 : 260;
  const n = input.labels.length;
  const totals = Array.from({ length: n }, (_, i) => input.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const scale = niceScale(Math.max(0, ...totals), 4, input.integer ? 1 : 0);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (v / scale.max) * plotH;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, Math.min(28, slot * 0.72));
  const parts: string[] = [];

  const empty = totals.every((t) => t === 0);
  for (const tick of empty ? [0] : scale.ticks) {
    const ty = y(tick).toFixed(1);
    parts.push(`<line class="gridline" x1="${PAD.left}" x2="${W - PAD.right}" y1="${ty}" y2="${ty}"/>`);
    parts.push(
      html`<text class="axis" x="${PAD.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle">${input.format(tick)}</text>`
        .value,
    );
  }
  // Label the buckets that have an axis label, thinned to about eight.
  const labelled = input.axisLabels.map((label, i) => (label ? i : -1)).filter((i) => i >= 0);
  const every = Math.max(1, Math.ceil(labelled.length / 8));
  const shown = new Set(labelled.filter((_, k) => k % every === 0));
  for (let i = 0; i < n; i++) {
    const x = PAD.left + slot * i + (slot - barW) / 2;
    let base = 0;
    const tip = [input.labels[i], ...input.series.map((s) => `${s.name}: ${input.format(s.values[i] ?? 0)}`)].join(
      '\n',
    );
    const rects: string[] = [];
    for (const s of input.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const top = y(base + v);
      const height = Math.max(0.5, y(base) - top);
      rects.push(
        `<rect class="bar ${s.tone}" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${barW.toFixed(1)}" height="${height.toFixed(1)}" rx="${Math.min(3, barW / 4).toFixed(1)}"/>`,
      );
      base += v;
    }
    // A full-height transparent hit area carries the tooltip even for empty buckets.
    parts.push(
      html`<g class="slot"><rect class="hit" x="${(PAD.left + slot * i).toFixed(1)}" y="${PAD.top}" width="${slot.toFixed(1)}" height="${plotH}"/>${trusted(rects.join(''))}<title>${tip}</title></g>`
        .value,
    );
    if (shown.has(i)) {
      // Labels near the right edge end at the plot's edge instead of centring on their bucket: none is cut off.
      const nearEnd = slot * (n - i) < 40;
      const lx = nearEnd ? W - PAD.right : PAD.left + slot * i + slot / 2;
      parts.push(
        html`<text class="axis" x="${lx.toFixed(1)}" y="${H - 8}" text-anchor="${nearEnd ? 'end' : 'middle'}">${input.axisLabels[i] ?? ''}</text>`
          .value,
      );
    }
  }
  parts.push(`<line class="baseline" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}"/>`);
  if (empty) {
    parts.push(
      html`<text class="empty" x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle">${input.empty ?? 'No requests in this period yet'}</text>`
        .value,
    );
  }
  const legend = input.series.map(
    (s) => html`<span class="legend-item"><i class="swatch ${s.tone}"></i>${s.name}</span>`,
  );
  return html`<figure class="chart">
  <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${input.title}" data-bars="${totals.filter((t) => t > 0).length}">${trusted(parts.join(''))}</svg>
  ${input.series.length > 1 ? html`<figcaption class="legend">${legend}</figcaption>` : ''}
</figure>`;
}
