/**
 * Figure builders for the workbook: training curves (static and live), per-frame metric lines,
 * histograms, bar charts and scatter plots. They return plain plotly `Figure` JSON; show with `showFigure`,
 * export with `exportFigure`.
 */
import { Figure, FigureView, Trace } from './plotly';

/** y values (x = 0, 1, …) or explicit x/y pairs, by series name. */
export type SeriesInput = Record<string, ArrayLike<number> | { x: ArrayLike<number>; y: ArrayLike<number> }>;

export interface AxisOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  logY?: boolean;
  height?: number;
}

/** The qualitative palette used for series (plotly's default order). */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const arr = (a: ArrayLike<number>): number[] => Array.from(a, (v) => (Number.isFinite(v) ? v : NaN));

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return typeof (v as ArrayLike<number>).length === 'number';
}

function titled(text: string | undefined): Record<string, unknown> | undefined {
  return text ? { text } : undefined;
}

/** Figure titles sit left, clear of the legend (top right). */
function figureTitle(text: string | undefined): Record<string, unknown> | undefined {
  return text ? { text, x: 0.01, xanchor: 'left' } : undefined;
}

/** Line chart of one or more series. */
export function lineFigure(series: SeriesInput, opts: AxisOptions & { markers?: boolean } = {}): Figure {
  const data: Trace[] = Object.entries(series).map(([name, s], i) => {
    const xy = isArrayLike(s) ? null : s;
    const y = xy ? arr(xy.y) : arr(s as ArrayLike<number>);
    const x = xy ? arr(xy.x) : y.map((_, k) => k);
    return {
      type: 'scatter',
      mode: opts.markers ? 'lines+markers' : 'lines',
      name,
      x,
      y,
      line: { color: PALETTE[i % PALETTE.length], width: 2 },
    };
  });
  return {
    data,
    layout: {
      title: figureTitle(opts.title),
      height: opts.height,
      xaxis: { title: titled(opts.xTitle ?? 'step') },
      yaxis: { title: titled(opts.yTitle), type: opts.logY ? 'log' : 'linear' },
      showlegend: data.length > 1,
    },
  };
}

/**
 * Per-frame metrics (PSNR, SSIM, flow EPE, …) as stacked line plots sharing the frame axis: each
 * metric has its own scale, so they are not overlaid. Values may be several clips' series per
 * metric: `{ PSNR: { clipA: [...], clipB: [...] } }`. Frame numbers are 0, 1, … (+ firstFrame),
 * or `frames` when only some frames were measured.
 */
export function frameMetricsFigure(
  metrics: Record<string, ArrayLike<number> | Record<string, ArrayLike<number>>>,
  opts: { title?: string; firstFrame?: number; frames?: ArrayLike<number>; height?: number } = {},
): Figure {
  const names = Object.keys(metrics);
  const data: Trace[] = [];
  const layout: Record<string, unknown> = {
    title: figureTitle(opts.title),
    height: opts.height ?? Math.max(260, 200 * names.length),
    grid: { rows: names.length, columns: 1, pattern: 'coupled', roworder: 'top to bottom' },
    showlegend: false,
  };
  const seriesNames = new Set<string>();
  names.forEach((metric, row) => {
    const v = metrics[metric];
    const series: Record<string, ArrayLike<number>> =
      isArrayLike(v) ? { [metric]: v } : v;
    Object.entries(series).forEach(([name, ys], i) => {
      const y = arr(ys);
      seriesNames.add(name);
      data.push({
        type: 'scatter',
        mode: y.length <= 60 ? 'lines+markers' : 'lines',
        name: name === metric ? metric : `${name} · ${metric}`,
        legendgroup: name,
        x: opts.frames ? Array.from(opts.frames) : y.map((_, k) => k + (opts.firstFrame ?? 0)),
        y,
        xaxis: 'x',
        yaxis: row === 0 ? 'y' : `y${row + 1}`,
        line: { color: PALETTE[i % PALETTE.length], width: 2 },
        marker: { size: 4 },
      });
    });
    layout[row === 0 ? 'yaxis' : `yaxis${row + 1}`] = { title: titled(metric) };
  });
  const xs = data.flatMap((t) => t.x as number[]);
  const span = xs.length ? Math.max(...xs) - Math.min(...xs) : 0;
  // Frames are integers: no 0.5 ticks on short clips.
  layout.xaxis = { title: titled('frame'), dtick: span <= 20 ? 1 : undefined, zeroline: false };
  layout.showlegend = seriesNames.size > names.length || data.length > names.length;
  return { data, layout };
}

/** Histogram(s) of raw values (overlaid when several). */
export function histogramFigure(
  values: ArrayLike<number> | Record<string, ArrayLike<number>>,
  opts: AxisOptions & { bins?: number } = {},
): Figure {
  const series: Record<string, ArrayLike<number>> =
    isArrayLike(values) ? { values } : values;
  const entries = Object.entries(series);
  // One bin grid for all series, or overlaid histograms are not comparable.
  const data: Trace[] = entries.map(([name, v], i) => ({
    type: 'histogram',
    name,
    x: arr(v),
    nbinsx: opts.bins,
    bingroup: 'shared',
    opacity: entries.length > 1 ? 0.6 : 1,
    marker: { color: PALETTE[i % PALETTE.length] },
  }));
  return {
    data,
    layout: {
      title: figureTitle(opts.title),
      height: opts.height,
      barmode: 'overlay',
      xaxis: { title: titled(opts.xTitle) },
      yaxis: { title: titled(opts.yTitle ?? 'count'), type: opts.logY ? 'log' : 'linear' },
      showlegend: entries.length > 1,
    },
  };
}

/** Grouped bars: one bar per category for each series. */
export function barFigure(
  categories: string[],
  series: Record<string, ArrayLike<number>>,
  opts: AxisOptions & { horizontal?: boolean } = {},
): Figure {
  const data: Trace[] = Object.entries(series).map(([name, v], i) => ({
    type: 'bar',
    name,
    orientation: opts.horizontal ? 'h' : 'v',
    x: opts.horizontal ? arr(v) : categories,
    y: opts.horizontal ? categories : arr(v),
    marker: { color: PALETTE[i % PALETTE.length] },
  }));
  return {
    data,
    layout: {
      title: figureTitle(opts.title),
      height: opts.height,
      barmode: 'group',
      xaxis: { title: titled(opts.xTitle) },
      yaxis: { title: titled(opts.yTitle), type: opts.logY ? 'log' : 'linear' },
      showlegend: data.length > 1,
    },
  };
}

/** Scatter plot: one marker trace per series; `labels` show on hover (e.g. video names). */
export function scatterFigure(
  series: Record<string, { x: ArrayLike<number>; y: ArrayLike<number>; labels?: readonly string[] }>,
  opts: AxisOptions = {},
): Figure {
  const data: Trace[] = Object.entries(series).map(([name, s], i) => ({
    type: 'scatter',
    mode: 'markers',
    name,
    x: arr(s.x),
    y: arr(s.y),
    text: s.labels ? [...s.labels] : undefined,
    hovertemplate: s.labels ? '%{text}<br>%{x}, %{y}<extra></extra>' : undefined,
    marker: { color: PALETTE[i % PALETTE.length], size: 8, opacity: 0.8 },
  }));
  return {
    data,
    layout: {
      title: figureTitle(opts.title),
      height: opts.height,
      xaxis: { title: titled(opts.xTitle) },
      yaxis: { title: titled(opts.yTitle), type: opts.logY ? 'log' : 'linear' },
      showlegend: data.length > 1,
    },
  };
}

export interface LiveCurvesOptions extends AxisOptions {
  /** Minimum time between redraws (default 1000 ms); the last values are drawn by `flush()`. */
  minIntervalMs?: number;
  /** Exponential moving average shown next to each raw series (0 = off, e.g. 0.9). */
  smoothing?: number;
}

/**
 * Loss / metric curves that redraw in place while a loop runs (a notebook display handle):
 *
 *   const curves = new LiveCurves({ title: 'losses', logY: true });
 *   for (…) curves.push(step, { l1: …, adv: … });
 *   curves.flush();
 *
 * In a terminal nothing is drawn; the values are still collected (`figure()`, `series`).
 */
export class LiveCurves {
  readonly series = new Map<string, { x: number[]; y: number[] }>();
  private readonly view: FigureView;

  constructor(private readonly opts: LiveCurvesOptions = {}) {
    this.view = new FigureView({ height: opts.height, minIntervalMs: opts.minIntervalMs ?? 1000 });
  }

  push(step: number, values: Record<string, number>): void {
    for (const [name, v] of Object.entries(values)) {
      let s = this.series.get(name);
      if (!s) this.series.set(name, (s = { x: [], y: [] }));
      s.x.push(step);
      s.y.push(v);
    }
    this.view.update(this.figure());
  }

  /** Draws the latest values now (call after the loop). */
  flush(): void {
    this.view.update(this.figure(), true);
  }

  figure(): Figure {
    const input: SeriesInput = {};
    for (const [name, s] of this.series) input[name] = s;
    return withSmoothing(lineFigure(input, this.opts), this.opts.smoothing ?? 0);
  }
}

/**
 * Adds an EMA (weight `alpha`, 0 = off) next to each line trace of a figure, in the trace's
 * colour, and fades the raw traces: noisy per-step losses stay readable.
 */
export function withSmoothing(fig: Figure, alpha: number): Figure {
  if (!(alpha > 0)) return fig;
  const smoothed = fig.data.map((t, i): Trace => ({
    type: 'scatter',
    mode: 'lines',
    name: `${String(t.name)} (EMA ${alpha})`,
    x: t.x,
    y: ema(t.y as number[], alpha),
    line: { color: (t.line as { color?: string } | undefined)?.color ?? PALETTE[i % PALETTE.length], width: 2.5 },
  }));
  for (const t of fig.data) (t as { opacity?: number }).opacity = 0.35;
  fig.data.push(...smoothed);
  (fig.layout as Record<string, unknown>).showlegend = true;
  return fig;
}

/** Exponential moving average with bias correction (as TensorBoard's smoothing slider). */
export function ema(values: ArrayLike<number>, alpha: number): number[] {
  const out: number[] = [];
  let acc = 0;
  let weight = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out.push(NaN);
      continue;
    }
    acc = alpha * acc + (1 - alpha) * v;
    weight = alpha * weight + (1 - alpha);
    out.push(acc / weight);
  }
  return out;
}
