import { html, type SafeHtml, trusted } from '../html.ts';

/** A donut of shares (e.g. spend by tier) with a centred caption; slices are stroke dashes on one circle. */
export function donut(
  slices: Array<{ label: string; value: number; tone: string }>,
  caption: string,
  sub: string,
): SafeHtml {
  const total = slices.reduce((s, x) => s + Math.max(0, x.value), 0);
  const r = 42;
  const circumference = 2 * Math.PI * r;
  let offset = 0;
  const arcs: string[] = [];
  if (total > 0) {
    for (const slice of slices) {
      if (slice.value <= 0) continue;
      const length = (slice.value / total) * circumference;
      arcs.push(
        html`<circle class="arc ${slice.tone}" cx="60" cy="60" r="${r}" stroke-dasharray="${length.toFixed(2)} ${(circumference - length).toFixed(2)}" stroke-dashoffset="${(-offset).toFixed(2)}"><title>${slice.label}</title></circle>`
          .value,
      );
      offset += length;
    }
  }
  return html`<svg class="donut" viewBox="0 0 120 120" role="img" aria-label="${caption} ${sub}">
  <circle class="arc-track" cx="60" cy="60" r="${r}"/>
  <g transform="rotate(-90 60 60)">${trusted(arcs.join(''))}</g>
  <text class="donut-value" x="60" y="58" text-anchor="middle">${caption}</text>
  <text class="donut-sub" x="60" y="74" text-anchor="middle">${sub}</text>
</svg>`;
}
