/** Pieces shared by the HTML reports: number formats, tables, scoped styles, figure layout. */
import { escapeHtml } from '../viz/display';
import type { Figure } from '../viz/plotly';

/** Fixed digits, or 2-digit exponent notation for very small / large magnitudes; '–' when not finite. */
export const fmt = (v: number, digits = 4): string => {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(digits);
};

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** An HTML table; cells are HTML (escape text first), headers are text. */
export function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

/** Half-width figures: the legend goes under the plot, where it cannot cover the title. */
export function belowLegend(fig: Figure): Figure {
  const layout = { ...fig.layout, legend: { orientation: 'h', x: 0, xanchor: 'left', y: -0.3, yanchor: 'top' }, margin: { l: 60, r: 20, t: 50, b: 90 } };
  return { ...fig, layout };
}

/** Scoped under the wrapper class, so the same markup can sit inside a notebook page. */
export const SCOPE = 'propainter-report';
export const CSS = `
.${SCOPE}{font:14px/1.45 Helvetica,Arial,sans-serif;color:#222;max-width:1100px;margin:24px auto;padding:0 16px}
.${SCOPE} h1{font-size:22px;margin-bottom:4px}.${SCOPE} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.${SCOPE} h3{font-size:15px;margin-top:20px}.${SCOPE} .meta{color:#666;font-size:12px}
.${SCOPE} table{border-collapse:collapse;margin:8px 0}.${SCOPE} td,.${SCOPE} th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
.${SCOPE} th{background:#f3f3f6}.${SCOPE} figure{display:inline-block;margin:6px;vertical-align:top}
.${SCOPE} figure img{image-rendering:pixelated;max-width:100%}.${SCOPE} figcaption{font-size:12px;color:#555;text-align:center}
.${SCOPE} ul.notes{color:#333;font-size:13px}.${SCOPE} .grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}.${SCOPE} .grid>div{min-width:0}
.${SCOPE} .better{color:#1a7f37}.${SCOPE} .worse{color:#c62828}`;
