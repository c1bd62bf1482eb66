import { LATENCY_BUCKET_BOUNDS_MS } from '../../store/latency-buckets.ts';
import { html, type SafeHtml, trusted } from '../html.ts';

/** The latency histogram of the rollups' fixed buckets, as a compact SVG column chart. */
export function latencyHistogram(buckets: readonly number[]): SafeHtml {
  const W = 540;
  const H = 150;
  const bottom = 22;
  const side = 14;
  const max = Math.max(1, ...buckets);
  const slot = (W - 2 * side) / buckets.length;
  const parts: string[] = [];
  buckets.forEach((count, i) => {
    const h = (count / max) * (H - bottom - 6);
    const lower = i === 0 ? 0 : LATENCY_BUCKET_BOUNDS_MS[i - 1]!;
    const upper = LATENCY_BUCKET_BOUNDS_MS[i];
    const label = upper === undefined ? `> ${short(lower)}` : `${short(lower)}–${short(upper)}`;
    parts.push(
      html`<g><rect class="bar c2" x="${(side + i * slot + 2).toFixed(1)}" y="${(H - bottom - h).toFixed(1)}" width="${(slot - 4).toFixed(1)}" height="${Math.max(count > 0 ? 1 : 0, h).toFixed(1)}" rx="2"/><title>${label}: ${count} requests</title></g>`
        .value,
    );
    if (i % 3 === 0) {
      parts.push(
        html`<text class="axis" x="${(side + i * slot + slot / 2).toFixed(1)}" y="${H - 6}" text-anchor="middle">${upper === undefined ? '∞' : short(upper)}</text>`
          .value,
      );
    }
  });
  return html`<svg class="histogram" viewBox="0 0 ${W} ${H}" role="img" aria-label="Latency distribution">${trusted(parts.join(''))}<line class="baseline" x1="0" x2="${W}" y1="${H - bottom}" y2="${H - bottom}"/></svg>`;
}

function short(msValue: number): string {
  return msValue >= 1000 ? `${msValue / 1000}s` : `${msValue}ms`;
}
