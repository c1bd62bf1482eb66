import type { UsageRecord } from '../store/usage.ts';
import type { BreakdownRow } from '../store/usage-queries.ts';
import { RANGES, type RangeKey, type UsageView } from './analytics.ts';
import { barChart } from './charts/bar-chart.ts';
import { donut } from './charts/donut.ts';
import { latencyHistogram } from './charts/histogram.ts';
import { shareBar } from './charts/share-bar.ts';
import { compact, dateTime, dayLabel, hourLabel, integer, ms, percent, usd } from './format.ts';
import { html, type SafeHtml } from './html.ts';

/** Building blocks shared by the client and admin dashboards. */

const TONES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];

export function rangeTabs(base: string, active: RangeKey): SafeHtml {
  return html`<nav class="segmented" aria-label="Period">${(Object.keys(RANGES) as RangeKey[]).map(
    (key) =>
      html`<a href="${base}?range=${key}"${key === active ? html` class="active" aria-current="true"` : ''}>${RANGES[key].label}</a>`,
  )}</nav>`;
}

export function kpi(
  label: string,
  value: string,
  sub?: SafeHtml | string,
  options: { tone?: 'good' | 'bad'; highlight?: boolean } = {},
): SafeHtml {
  return html`<section class="card kpi${options.highlight ? ' highlight' : ''}">
  <div class="label">${label}</div>
  <div class="value${options.tone ? ` ${options.tone}` : ''}">${value}</div>
  ${sub ? html`<div class="kpi-sub">${sub}</div>` : ''}
</section>`;
}

function labelsOf(view: UsageView): { labels: string[]; axis: string[] } {
  const hourly = view.range.bucket === 'hour';
  const labels = view.series.map((p) =>
    hourly
      ? `${dayLabel(p.start)} ${hourLabel(p.start)}–${hourLabel(p.start + view.range.bucketMs)}`
      : dayLabel(p.start),
  );
  const axis = view.series.map((p) =>
    hourly && view.range.key === '24h'
      ? hourLabel(p.start)
      : new Date(p.start).getUTCHours() === 0 || !hourly
        ? dayLabel(p.start)
        : '',
  );
  return { labels, axis };
}

export function spendChart(view: UsageView, size: 'wide' | 'half' = 'wide'): SafeHtml {
  const { labels, axis } = labelsOf(view);
  return barChart({
    size,
    title: 'Spend over time',
    labels,
    axisLabels: axis,
    series: [{ name: 'Spend', values: view.series.map((p) => p.costNanoUsd), tone: 'c1' }],
    format: usd,
  });
}

export function requestsChart(view: UsageView): SafeHtml {
  const { labels, axis } = labelsOf(view);
  return barChart({
    size: 'half',
    integer: true,
    title: 'Requests over time',
    labels,
    axisLabels: axis,
    series: [
      { name: 'Succeeded', values: view.series.map((p) => p.requests - p.errors), tone: 'c3' },
      { name: 'Failed', values: view.series.map((p) => p.errors), tone: 'c-bad' },
    ],
    format: compact,
  });
}

export function tokensChart(view: UsageView): SafeHtml {
  const { labels, axis } = labelsOf(view);
  return barChart({
    size: 'half',
    integer: true,
    title: 'Tokens over time',
    labels,
    axisLabels: axis,
    series: [
      { name: 'Input', values: view.series.map((p) => p.inputTokens), tone: 'c2' },
      { name: 'Output', values: view.series.map((p) => p.outputTokens), tone: 'c6' },
    ],
    format: compact,
  });
}

export function breakdownTable(
  rows: BreakdownRow[],
  noun: string,
  options: { keyLink?: (key: string) => string } = {},
): SafeHtml {
  const spend = rows.reduce((s, r) => s + r.costNanoUsd, 0);
  const requests = rows.reduce((s, r) => s + r.requests, 0);
  if (rows.length === 0) return html`<p class="empty-row">No ${noun} data in this period.</p>`;
  return html`<div class="table-wrap"><table>
  <thead><tr><th>${noun}</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Spend</th><th class="num">Errors</th><th class="num">Avg latency</th></tr></thead>
  <tbody>${rows.map((r, i) => {
    const name = r.key ?? '(not routed)';
    const share = spend > 0 ? r.costNanoUsd / spend : requests > 0 ? r.requests / requests : 0;
    const link = r.key && options.keyLink ? options.keyLink(r.key) : undefined;
    return html`<tr>
      <td><div class="name">${link ? html`<a href="${link}">${name}</a>` : name}</div>${shareBar(share, TONES[i % TONES.length])}</td>
      <td class="num">${integer(r.requests)}</td>
      <td class="num">${compact(r.inputTokens + r.outputTokens)}</td>
      <td class="num">${usd(r.costNanoUsd)}</td>
      <td class="num">${r.errors > 0 ? html`<span class="badge bad">${percent(r.errors, r.requests)}</span>` : html`<span class="badge good">0%</span>`}</td>
      <td class="num">${ms(r.requests > 0 ? r.avgLatencyMs : null)}</td>
    </tr>`;
  })}</tbody>
</table></div>`;
}

export function tierSplit(view: UsageView): SafeHtml {
  const rows = view.byTier.filter((r) => r.requests > 0);
  const order = ['utility', 'fast', 'deep'];
  rows.sort((a, b) => order.indexOf(a.key ?? '') - order.indexOf(b.key ?? ''));
  const toneOf = (key: string | null) => ({ utility: 'c3', fast: 'c2', deep: 'c1' })[key ?? ''] ?? 'c4';
  const total = rows.reduce((s, r) => s + r.requests, 0);
  return html`<div class="split">
  ${donut(
    rows.map((r) => ({
      label: `${r.key ?? 'not routed'}: ${r.requests} requests`,
      value: r.requests,
      tone: toneOf(r.key),
    })),
    compact(total),
    'requests',
  )}
  <div class="table-wrap"><table>
    <thead><tr><th>Tier</th><th class="num">Requests</th><th class="num">Spend</th></tr></thead>
    <tbody>${
      rows.length === 0
        ? html`<tr><td colspan="3" class="empty-row">No requests in this period yet.</td></tr>`
        : rows.map(
            (
              r,
            ) => html`<tr><td><span class="legend-item"><i class="swatch ${toneOf(r.key)}"></i><span class="name">${r.key ?? '(not routed)'}</span></span></td>
            <td class="num">${integer(r.requests)} <span class="sub">${percent(r.requests, total)}</span></td>
            <td class="num">${usd(r.costNanoUsd)}</td></tr>`,
          )
    }</tbody>
  </table></div>
</div>`;
}

export function latencyCard(view: UsageView): SafeHtml {
  const p = (n: number) => view.latency.percentiles.find((x) => x.p === n)?.ms ?? null;
  return html`<section class="card">
  <div class="card-head"><h2>Latency</h2><span class="hint">successful requests, end to end</span></div>
  <div class="stats">
    <div class="stat"><div class="label">p50</div><div class="value">${ms(p(50))}</div></div>
    <div class="stat"><div class="label">p90</div><div class="value">${ms(p(90))}</div></div>
    <div class="stat"><div class="label">p95</div><div class="value">${ms(p(95))}</div></div>
    <div class="stat"><div class="label">p99</div><div class="value">${ms(p(99))}</div></div>
  </div>
  ${latencyHistogram(view.latency.buckets)}
</section>`;
}

export function statusBadge(status: number, errorCode: string | null): SafeHtml {
  if (status >= 200 && status < 300) return html`<span class="badge good">${status}</span>`;
  if (status === 499) return html`<span class="badge warn">client closed</span>`;
  return html`<span class="badge bad" title="${errorCode ?? ''}">${status}${errorCode ? ` ${errorCode}` : ''}</span>`;
}

export function recentTable(records: UsageRecord[]): SafeHtml {
  if (records.length === 0) return html`<p class="empty-row">No requests yet. Your next API call shows up here.</p>`;
  return html`<div class="table-wrap"><table class="recent">
  <thead><tr><th>Time</th><th>Requested → routed</th><th>Tier</th><th class="num">Tokens in / out</th><th class="num">Cost</th><th class="num">Latency</th><th>Status</th></tr></thead>
  <tbody>${records.map(
    (r) => html`<tr>
      <td class="mono">${dateTime(r.at)}</td>
      <td><div class="name">${r.requestedModel || '—'} → ${r.modelId ?? '—'}</div><div class="sub">${r.providerId ?? 'no provider'}${r.stream ? ' · stream' : ''}${r.attempts > 1 ? ` · ${r.attempts} attempts` : ''}</div></td>
      <td>${r.tier ? html`<span class="badge accent">${r.tier}</span>` : '—'}</td>
      <td class="num">${integer(r.inputTokens)} / ${integer(r.outputTokens)}</td>
      <td class="num">${usd(r.costNanoUsd)}</td>
      <td class="num">${ms(r.latencyMs)}</td>
      <td>${statusBadge(r.status, r.errorCode)}</td>
    </tr>`,
  )}</tbody>
</table></div>`;
}
