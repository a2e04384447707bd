/**
 * plotly.js figures as inline HTML. The CDN is not reachable (and reports must work offline), so
 * the plotly.js-dist-min bundle (~4.8 MB) is embedded once per kernel session, as its own output,
 * before the first figure; each figure is then a small <div> + <script> that waits for
 * `window.Plotly`. The executed notebook and its HTML export therefore carry the bundle once.
 */
import * as fs from 'fs';
import { Bundle, Output, escapeHtml, inNotebook, newOutput, scriptJson, show, uniqueId } from './display';

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;
export type PlotConfig = Record<string, unknown>;

/** A plotly.js figure: the same JSON `Plotly.newPlot(el, data, layout, config)` takes. */
export interface Figure {
  data: Trace[];
  layout?: Layout;
  config?: PlotConfig;
}

/** Marks the bundle's <script> (runner and tests count it). */
export const BUNDLE_MARKER = 'data-propainter-plotly-bundle';
/** Marks each figure's <div>. */
export const FIGURE_MARKER = 'data-propainter-plot';

let bundleText: string | null = null;

export function plotlyBundlePath(): string {
  return require.resolve('plotly.js-dist-min');
}

/** The plotly.js source, safe to inline in a <script> element. */
export function plotlyBundle(): string {
  if (bundleText === null) {
    // `</script` inside the source would end the element early; `<\/` means the same in JS.
    bundleText = fs.readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/(script)/gi, '<\\/$1');
  }
  return bundleText;
}

export function plotlyScriptTag(): string {
  return `<script ${BUNDLE_MARKER}>${plotlyBundle()}</script>`;
}

let bundleShown = false;

/**
 * Embeds plotly.js in the notebook (once per kernel session unless `force`). Figures call this
 * themselves; put `setupPlotly({ force: true })` in a notebook's first cell so the bundle stays in
 * a cell that is always re-run. Does nothing outside a notebook.
 */
export function setupPlotly(opts: { force?: boolean } = {}): void {
  if (!inNotebook()) return;
  if (bundleShown && !opts.force) return;
  show({ html: plotlyScriptTag() });
  bundleShown = true;
}

/** Forgets that the bundle was shown (tests). */
export function resetPlotlySetup(): void {
  bundleShown = false;
}

const BASE_LAYOUT: Layout = {
  margin: { l: 60, r: 20, t: 50, b: 50 },
  font: { family: 'Helvetica, Arial, sans-serif', size: 12 },
  legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.02, yanchor: 'bottom' },
  paper_bgcolor: 'white',
  plot_bgcolor: '#f7f7f9',
};

/** The figure with the shared defaults filled in (explicit layout keys win). */
export function withDefaults(fig: Figure, height = 360): Required<Figure> {
  return {
    data: fig.data,
    layout: { ...BASE_LAYOUT, height, ...(fig.layout ?? {}) },
    config: { displaylogo: false, responsive: true, ...(fig.config ?? {}) },
  };
}

export interface FigureHtmlOptions {
  id?: string;
  /** Default 360 px, or layout.height. */
  height?: number;
}

/** A <div> plus the script that draws the figure into it once plotly.js is available. */
export function figureHtml(fig: Figure, opts: FigureHtmlOptions = {}): string {
  const id = opts.id ?? uniqueId('pp-plot');
  const spec = withDefaults(fig, opts.height ?? 360);
  const height = Number(spec.layout.height) || 360;
  const missing = 'plotly.js is not loaded on this page: run setupPlotly({ force: true }) (lib/viz) and re-run this cell.';
  return (
    `<div id="${escapeHtml(id)}" class="propainter-plot" ${FIGURE_MARKER} style="width:100%;min-height:${height}px"></div>` +
    `<script>(function(){var spec=${scriptJson(spec)},id=${scriptJson(id)},t0=Date.now();` +
    `function draw(){var el=document.getElementById(id);if(!el)return;` +
    `if(window.Plotly){window.Plotly.newPlot(el,spec.data,spec.layout,spec.config);}` +
    `else if(Date.now()-t0<20000){setTimeout(draw,50);}` +
    `else{el.textContent=${scriptJson(missing)};}}draw();})();</script>`
  );
}

/** A short text stand-in for terminals: the trace names and sizes. */
export function figureText(fig: Figure): string {
  const title = (fig.layout?.title as { text?: string } | string | undefined) ?? '';
  const t = typeof title === 'string' ? title : title.text ?? '';
  const traces = fig.data.map((tr) => {
    const y = tr.y as ArrayLike<unknown> | undefined;
    const x = tr.x as ArrayLike<unknown> | undefined;
    return `${String(tr.name ?? tr.type ?? 'trace')} (${(y ?? x)?.length ?? 0} points)`;
  });
  return `[figure${t ? ` "${t}"` : ''}: ${traces.join(', ')}]`;
}

export function figureBundle(fig: Figure, opts: FigureHtmlOptions = {}): Bundle {
  return { html: figureHtml(fig, opts), text: figureText(fig) };
}

/** Shows a figure inline (embedding plotly.js first if this session has not yet). */
export function showFigure(fig: Figure, opts: FigureHtmlOptions & { output?: Output } = {}): void {
  setupPlotly();
  const b = figureBundle(fig, opts);
  if (opts.output) opts.output.show(b);
  else show(b);
}

/**
 * A figure shown in one output area that can be redrawn in place (a display handle):
 * `const v = new FigureView(); … v.update(fig)`. Updates closer than `minIntervalMs` apart are
 * coalesced; `flush()` draws the latest pending one.
 */
export class FigureView {
  private output: Output | null = null;
  private pending: Figure | null = null;
  private last = -Infinity;
  constructor(private readonly opts: FigureHtmlOptions & { minIntervalMs?: number } = {}) {}

  update(fig: Figure, force = false): void {
    this.pending = fig;
    const now = Date.now();
    if (force || now - this.last >= (this.opts.minIntervalMs ?? 1000)) this.flush();
  }

  flush(): void {
    if (!this.pending) return;
    if (!inNotebook()) {
      this.pending = null;
      return;
    }
    setupPlotly();
    this.output ??= newOutput();
    this.output.show(figureBundle(this.pending, this.opts));
    this.pending = null;
    this.last = Date.now();
  }
}
