/**
 * Evaluation sections of the HTML report: a summary table (every metric, with the protocol and the
 * weights used), per-video bars sorted by the main metric, the metric against the mask area, the
 * strips (masked input | result | ground truth) of the best and worst videos and, given several
 * folders (e.g. official weights vs a fine-tuned checkpoint), one table and chart of the
 * per-video differences. The main metric is PSNR for video completion, EPE for flow completion.
 */
import * as fs from 'fs';
import * as path from 'path';
import { escapeHtml } from '../viz/display';
import { figureHtml } from '../viz/plotly';
import { barFigure, scatterFigure } from '../viz/charts';
import { DET_INIT_WEIGHTS, type EvalSummary, type VideoRow } from '../eval/results';
import { belowLegend, fmt, table } from './html';
import type { EvalRun } from './eval-run';

interface Metric {
  key: string;
  label: string;
  higherIsBetter: boolean;
  digits: number;
}

const PSNR: Metric = { key: 'psnr', label: 'PSNR (dB)', higherIsBetter: true, digits: 2 };
const SSIM: Metric = { key: 'ssim', label: 'SSIM', higherIsBetter: true, digits: 4 };
const EPE: Metric = { key: 'epe', label: 'EPE (px)', higherIsBetter: false, digits: 4 };
const TIME: Metric = { key: 'seconds_per_frame', label: 'seconds per frame', higherIsBetter: false, digits: 3 };

/** The metrics a folder is compared on, main one first. */
function metricsOf(e: EvalRun): Metric[] {
  const p = e.results.protocol;
  if (p.model === 'flowcomp') return [EPE];
  return p.task === 'video_completion' ? [PSNR, SSIM] : [TIME];
}

/** Folder names made unique (a, b, b (2)…) for legends and columns. */
function labels(evals: EvalRun[]): string[] {
  const seen = new Map<string, number>();
  return evals.map((e) => {
    const n = (seen.get(e.name) ?? 0) + 1;
    seen.set(e.name, n);
    return n === 1 ? e.name : `${e.name} (${n})`;
  });
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
const cell = (v: number | null | undefined, digits: number, scale = 1) => `<span>${v === null || v === undefined ? '–' : fmt(v * scale, digits)}</span>`;

function summaryTable(evals: EvalRun[], names: string[]): string {
  const s = (e: EvalRun): EvalSummary => e.results.summary;
  return table(
    ['evaluation', 'model', 'dataset · task', 'videos', 'frames', 'PSNR', 'SSIM', 'VFID', 'E_warp ×10⁻³', 'LPIPS', 'EPE', 's / frame'],
    evals.map((e, i) => {
      const p = e.results.protocol;
      return [
        `<a href="#eval-${i}">${escapeHtml(names[i])}</a>${e.results.complete ? '' : ' <em>(unfinished)</em>'}`,
        escapeHtml(p.model),
        escapeHtml(`${p.dataset} · ${p.task}`),
        `${s(e).videos} / ${e.results.videos_total}`,
        String(s(e).frames),
        cell(s(e).psnr, 2), cell(s(e).ssim, 4), cell(s(e).vfid, 4), cell(s(e).ewarp, 3, 1e3), cell(s(e).lpips, 4), cell(s(e).epe, 4),
        cell(s(e).seconds_per_frame, 3),
      ];
    }),
  );
}

/** Settings, weights and notes of one folder. */
function protocolTable(e: EvalRun): string {
  const p = e.results.protocol;
  const rows: string[][] = [
    ['folder', escapeHtml(path.resolve(e.dir))],
    ['size', `${p.width}×${p.height}`],
    ['windows', p.model === 'flowcomp' ? '– (whole video)' : `neighbor_length ${p.neighbor_length}, ref_stride ${p.ref_stride}`],
    ['flows', p.load_flow ? `loaded from ${escapeHtml(String(p.flow_root))}` : `RAFT, ${p.raft_iter} iterations, 60-frame chunks`],
    ['videos', escapeHtml(p.videos ? p.videos.join(', ') : `all of ${p.mask_root}`)],
  ];
  if (p.max_frames) rows.push(['frames per video', `first ${p.max_frames} only (not the official protocol)`]);
  if (p.frames_from) rows.push(['results', `read from ${escapeHtml(p.frames_from)} (not computed here; no timing)`]);
  const w = Object.entries(e.results.weights);
  rows.push([
    'weights',
    w.length
      ? w.map(([role, x]) =>
          x.sha256 === DET_INIT_WEIGHTS.sha256
            ? `${escapeHtml(role)}: <b>det-init v1</b> <span class="meta">(untrained, deterministic: a baseline, not inpainting results)</span>`
            : `${escapeHtml(role)}: ${escapeHtml(path.basename(x.path))} <span class="meta">(${(x.bytes / 1e6).toFixed(1)} MB, sha256 ${x.sha256.slice(0, 12)}…)</span>`,
        ).join('<br>')
      : '–',
  ]);
  rows.push(['backend', escapeHtml(String(e.results.backend))], ['updated', escapeHtml(String(e.results.updated))]);
  const notes = e.results.notes.length ? `<ul class="notes">${e.results.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return table(['', ''], rows) + notes;
}

/** Videos sorted from best to worst by `m`. */
function ranked(rows: VideoRow[], m: Metric): VideoRow[] {
  return rows.filter((r) => Number.isFinite(num(r[m.key]))).sort((a, b) => (m.higherIsBetter ? num(b[m.key]) - num(a[m.key]) : num(a[m.key]) - num(b[m.key])));
}

function stripFigure(e: EvalRun, row: VideoRow, m: Metric): string {
  const file = e.strips[String(row.video)];
  if (!file) return '';
  const jpg = fs.readFileSync(file).toString('base64');
  const what = e.results.protocol.model === 'flowcomp' ? 'masked flow | completed | ground truth' : 'masked input | result | ground truth';
  return (
    `<figure><img src="data:image/jpeg;base64,${jpg}" alt="${escapeHtml(String(row.video))}">` +
    `<figcaption>${escapeHtml(String(row.video))} · ${m.label} ${fmt(num(row[m.key]), m.digits)} · ${what}</figcaption></figure>`
  );
}

/** Best and worst videos (up to 3 each, never the same video twice). */
function stripsSection(e: EvalRun, m: Metric): string {
  const order = ranked(e.results.per_video, m);
  const k = Math.min(3, Math.ceil(order.length / 2));
  const best = order.slice(0, k);
  const worst = order.slice(Math.max(k, order.length - k)).reverse();
  const figs = (rows: VideoRow[]) => rows.map((r) => stripFigure(e, r, m)).join('');
  if (!best.length || !Object.keys(e.strips).length) return '';
  return `<h3>Best videos</h3>${figs(best)}${worst.length ? `<h3>Worst videos</h3>${figs(worst)}` : ''}`;
}

/** Per-video bars (sorted by the first folder's ranking) and metric vs mask area, for folders sharing a main metric. */
function perVideoFigures(evals: EvalRun[], names: string[], m: Metric): string {
  const order = ranked(evals[0].results.per_video, m).map((r) => String(r.video));
  const byVideo = evals.map((e) => new Map(e.results.per_video.map((r) => [String(r.video), r])));
  const others = [...new Set(evals.flatMap((e) => e.results.per_video.map((r) => String(r.video))))].filter((v) => !order.includes(v));
  const videos = [...order, ...others];
  const series = Object.fromEntries(evals.map((_, i) => [names[i], videos.map((v) => num(byVideo[i].get(v)?.[m.key]))]));
  const bars = barFigure(videos, series, { title: `${m.label} per video (${m.higherIsBetter ? 'best' : 'lowest'} first)`, yTitle: m.label, height: 380 });
  const scatter = scatterFigure(
    Object.fromEntries(evals.map((e, i) => [names[i], {
      x: e.results.per_video.map((r) => 100 * num(r.mask_area)),
      y: e.results.per_video.map((r) => num(r[m.key])),
      labels: e.results.per_video.map((r) => String(r.video)),
    }])),
    { title: `${m.label} vs mask area`, xTitle: 'hole area (% of pixels, dilated masks)', yTitle: m.label, height: 380 },
  );
  return figureHtml(belowLegend(bars)) + figureHtml(belowLegend(scatter));
}

/**
 * Per-video values of every folder and their differences to the first folder ('–' where a folder
 * lacks the video), with a chart of the differences of the main metric.
 */
function comparison(evals: EvalRun[], names: string[], metrics: Metric[]): string {
  const rowsOf = evals.map((e) => new Map(e.results.per_video.map((r) => [String(r.video), r])));
  const videos = evals[0].results.per_video.map((r) => String(r.video)).filter((v) => rowsOf.slice(1).some((m) => m.has(v)));
  if (!videos.length) return `<p>No video of ${escapeHtml(names[0])} was evaluated in the other folders.</p>`;
  const value = (i: number, v: string, m: Metric) => num(rowsOf[i].get(v)?.[m.key]);
  const diff = (i: number, v: string, m: Metric) => value(i, v, m) - value(0, v, m);
  const shade = (d: number, m: Metric) => (d === 0 || !Number.isFinite(d) ? '' : (d > 0) === m.higherIsBetter ? 'better' : 'worse');
  const head = ['video', ...metrics.flatMap((m) => [`${m.label}: ${names[0]}`, ...names.slice(1).flatMap((n) => [n, `Δ ${n}`])])];
  const body = videos.map((v) => [
    escapeHtml(v),
    ...metrics.flatMap((m) => [
      fmt(value(0, v, m), m.digits),
      ...evals.slice(1).flatMap((_, j) => {
        const d = diff(j + 1, v, m);
        return [fmt(value(j + 1, v, m), m.digits), `<span class="${shade(d, m)}">${d > 0 ? '+' : ''}${fmt(d, m.digits)}</span>`];
      }),
    ]),
  ]);
  const m = metrics[0];
  const deltas = Object.fromEntries(evals.slice(1).map((_, j) => [`${names[j + 1]} − ${names[0]}`, videos.map((v) => diff(j + 1, v, m))]));
  const chart = barFigure(videos, deltas, { title: `${m.label} difference per video (vs ${names[0]})`, yTitle: `Δ ${m.label}`, height: 360 });
  return table(head, body) + figureHtml(belowLegend(chart));
}

/** The evaluation part of a report (inside the report's scoped wrapper). */
export function evalReportSections(evals: EvalRun[]): string {
  if (!evals.length) return '';
  const names = labels(evals);
  let html = `<h2>Evaluation</h2>${summaryTable(evals, names)}`;
  // Folders are compared within groups that share a main metric (ProPainter vs flow completion).
  const groups = new Map<string, number[]>();
  evals.forEach((e, i) => {
    const k = metricsOf(e)[0].key;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  for (const idx of groups.values()) {
    const g = idx.map((i) => evals[i]);
    const gNames = idx.map((i) => names[i]);
    const metrics = metricsOf(g[0]);
    html += `<h3>Per video: ${escapeHtml(metrics[0].label)}</h3>${perVideoFigures(g, gNames, metrics[0])}`;
    if (g.length > 1) html += `<h3>Comparison per video</h3>${comparison(g, gNames, metrics)}`;
  }
  evals.forEach((e, i) => {
    html += `<h2 id="eval-${i}">${escapeHtml(names[i])}</h2>${protocolTable(e)}${stripsSection(e, metricsOf(e)[0])}`;
  });
  return html;
}
