/**
 * A self-contained HTML report of one or more training runs: an overview table, per run a summary
 * (iterations, size, frames, speed, first → last losses, validation metrics), loss curves, the
 * learning rate, validation metrics over time and the latest sample images (training and
 * held-out); then the evaluation folders given in `evaluations` (lib/report/eval-report.ts).
 * plotly.js and the images are embedded, so the file opens offline and can be mailed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '../io/atomic';
import { resolveInside } from '../io/paths';
import { escapeHtml } from '../viz/display';
import { Figure, figureHtml, plotlyScriptTag } from '../viz/plotly';
import { lineFigure, withSmoothing } from '../viz/charts';
import { SAMPLES_DIR, SAMPLES_INDEX } from '../train/run-folder';
import type { SampleEntry } from '../train/callbacks/samples';
import { RunLog, scalarNames, scalarSeries, trainingSeconds, windowMean } from './run-log';
import { CSS, SCOPE, belowLegend, fmt, formatSeconds, table } from './html';
import { evalReportSections } from './eval-report';
import type { EvalRun } from './eval-run';

export interface ReportOptions {
  title?: string;
  /** Lines shown under the title (e.g. the pipeline's steps and timings). */
  notes?: string[];
  /** The command that produced the report (shown in the header). */
  generatedBy?: string;
  /** Evaluation folders (propainter evaluate) to report after the training runs. */
  evaluations?: EvalRun[];
}

const defaultTitle = (runs: RunLog[], opts: ReportOptions) =>
  `ProPainter-TS ${runs.length && opts.evaluations?.length ? 'training and evaluation' : runs.length ? 'training' : 'evaluation'} report`;


/** Adversarial terms live on another scale than the reconstruction losses: their own plot. */
const isAdversarial = (name: string) => /(^|\/)(dis|gan)/.test(name);


function lossFigures(run: RunLog): Figure[] {
  const names = scalarNames(run);
  const groups: Array<[string, string[]]> = [
    ['losses', names.filter((n) => n.startsWith('loss/') && !isAdversarial(n))],
    ['adversarial losses', names.filter((n) => n.startsWith('loss/') && isAdversarial(n))],
    ['other logged values', names.filter((n) => !n.startsWith('loss/'))],
  ];
  const markers = run.steps.length <= 60;
  const figs: Figure[] = [];
  for (const [title, group] of groups) {
    if (group.length === 0) continue;
    const series = Object.fromEntries(group.map((n) => [n.replace(/^loss\//, ''), scalarSeries(run, n)]));
    const fig = lineFigure(series, { title: `${run.name}: ${title}`, xTitle: 'iteration', markers, height: 340 });
    // Per-step losses jump with each clip and mask: long runs get a smoothed line beside the raw one.
    figs.push(belowLegend(withSmoothing(fig, run.steps.length > 30 ? 0.9 : 0)));
  }
  const lr = { x: run.steps.map((s) => s.iteration), y: run.steps.map((s) => s.lr) };
  // A constant learning rate is a line in the summary table, not a plot.
  if (new Set(lr.y).size > 1) figs.push(lineFigure({ lr }, { title: `${run.name}: learning rate`, xTitle: 'iteration', markers, height: 240 }));
  if (run.validations.length > 1) {
    const metrics = [...new Set(run.validations.flatMap((v) => Object.keys(v.metrics)))];
    for (const m of metrics) {
      const s = { x: run.validations.map((v) => v.iteration), y: run.validations.map((v) => v.metrics[m] ?? NaN) };
      figs.push(lineFigure({ [m]: s }, { title: `${run.name}: validation ${m}`, xTitle: 'iteration', markers: true, height: 260 }));
    }
  }
  return figs;
}

function summaryRows(run: RunLog): string[][] {
  const c = run.config;
  const d = c.datasets?.train ?? {};
  const total = c.train?.total_iter;
  const last = run.steps[run.steps.length - 1];
  const rows: string[][] = [
    ['model', escapeHtml(run.model)],
    ['iterations', `${last?.iteration ?? 0}${total ? ` of ${total}` : ''}`],
    ['input', last ? `${last.size[0]}×${last.size[1]}, ${d.num_local_frames ?? '?'} local + ${d.num_ref_frames ?? '?'} reference frames, batch ${c.train?.batch_size ?? '?'}` : '–'],
    ['training data', escapeHtml(`${d.root ?? '?'}${d.synth?.source ? ` (synthetic motion over the frames of ${d.synth.source})` : ''}`)],
    ['learning rate', run.steps.length ? `${fmt(run.steps[0].lr)} → ${fmt(last.lr)} (${escapeHtml(String(c.train?.lr_scheme ?? ''))})` : '–'],
    ['backend', escapeHtml([...new Set(run.segments.map((s) => s.backend).filter(Boolean))].join(', ') || '–')],
    ['time in training steps', `${formatSeconds(trainingSeconds(run))}${run.steps.length ? ` (${fmt(run.steps.length / trainingSeconds(run), 3)} it/s)` : ''}`],
  ];
  if (run.segments.length > 1) rows.push(['sessions', `${run.segments.length} (resumed)`]);
  for (const n of scalarNames(run).filter((k) => k.startsWith('loss/'))) {
    rows.push([escapeHtml(n.slice(5)), `${fmt(windowMean(run, n, 'first'))} → ${fmt(windowMean(run, n, 'last'))}`]);
  }
  const vals = run.validations;
  if (vals.length) {
    const first = vals[0];
    const lastV = vals[vals.length - 1];
    for (const [k, v] of Object.entries(lastV.metrics)) {
      const from = vals.length > 1 && first.metrics[k] !== undefined ? `${fmt(first.metrics[k])} (it ${first.iteration}) → ` : '';
      rows.push([`validation ${escapeHtml(k)}`, `${from}${fmt(v)} (it ${lastV.iteration})`]);
    }
  }
  return rows;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function imageTag(run: RunLog, e: SampleEntry): string {
  // The index is a file in the run folder: its names must not embed files from elsewhere.
  const samples = path.join(run.dir, SAMPLES_DIR);
  const file = resolveInside(samples, e.file, `${path.join(samples, SAMPLES_INDEX)}: file`, { real: true });
  const png = fs.readFileSync(file);
  if (png.byteLength < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error(`${file}: not a PNG image`);
  // Small training-size images are shown enlarged (crisp pixels) to about 400 px wide or 600 px high.
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const shown = width * Math.max(1, Math.min(Math.floor(400 / width), Math.floor(600 / height)));
  const caption = `${e.phase === 'val' ? 'held-out' : 'training'} · ${e.tag} · iteration ${e.iteration}`;
  return (
    `<figure><img src="data:image/png;base64,${png.toString('base64')}" width="${shown}" alt="${escapeHtml(e.tag)}">` +
    `<figcaption>${escapeHtml(caption)}</figcaption></figure>`
  );
}

/** Latest training images, and the first and last held-out images (to see the change). */
function pickSamples(run: RunLog): SampleEntry[] {
  const train = run.samples.filter((s) => s.phase === 'train');
  const val = run.samples.filter((s) => s.phase === 'val');
  const lastTrain = train.length ? train[train.length - 1].iteration : -1;
  const valIts = [...new Set(val.map((s) => s.iteration))];
  const shownVal = new Set([valIts[0], valIts[valIts.length - 1]]);
  return [...val.filter((s) => shownVal.has(s.iteration)), ...train.filter((s) => s.iteration === lastTrain)];
}


/**
 * The report without the page around it and without plotly.js, for a page that already loads
 * plotly (a notebook after `setupPlotly`): `showHtml(runReportFragment(runs))`.
 */
export function runReportFragment(runs: RunLog[], opts: ReportOptions = {}): string {
  const title = opts.title ?? defaultTitle(runs, opts);
  const overview = table(
    ['run', 'model', 'iterations', 'time in steps', 'last losses', 'last validation'],
    runs.map((r) => {
      const last = r.steps[r.steps.length - 1];
      const losses = scalarNames(r)
        .filter((n) => n.startsWith('loss/') && !isAdversarial(n))
        .map((n) => `${escapeHtml(n.slice(5))} ${fmt(windowMean(r, n, 'last'))}`)
        .join(', ');
      const v = r.validations[r.validations.length - 1];
      return [
        `<a href="#${escapeHtml(r.name)}">${escapeHtml(r.name)}</a>`,
        escapeHtml(r.model),
        String(last?.iteration ?? 0),
        formatSeconds(trainingSeconds(r)),
        losses || '–',
        v ? Object.entries(v.metrics).map(([k, x]) => `${escapeHtml(k)} ${fmt(x)}`).join(', ') : '–',
      ];
    }),
  );
  const sections = runs.map((r) => {
    const figs = lossFigures(r).map((f) => `<div>${figureHtml(f)}</div>`).join('\n');
    const samples = pickSamples(r);
    const images = samples.length ? `<h3>Samples</h3><p class="meta">held-out: masked input / result / ground truth (rows) at a few frames; training: the official TensorBoard images.</p>${samples.map((s) => imageTag(r, s)).join('')}` : '';
    return (
      `<h2 id="${escapeHtml(r.name)}">${escapeHtml(r.name)}</h2><p class="meta">${escapeHtml(path.resolve(r.dir))}</p>` +
      table(['', ''], summaryRows(r)) +
      `<h3>Curves</h3>${figs ? `<div class="grid">${figs}</div>` : '<p>No steps logged.</p>'}${images}`
    );
  });
  const notes = opts.notes?.length ? `<ul class="notes">${opts.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  const meta = `generated ${new Date().toISOString()} on ${escapeHtml(os.hostname())} (${os.cpus().length} CPUs, node ${process.version})${opts.generatedBy ? ` by <code>${escapeHtml(opts.generatedBy)}</code>` : ''}`;
  const training = runs.length ? `<h2>Overview</h2>${overview}${sections.join('\n')}` : '';
  const evaluation = opts.evaluations?.length ? evalReportSections(opts.evaluations) : '';
  return `<div class="${SCOPE}"><style>${CSS}</style><h1>${escapeHtml(title)}</h1><p class="meta">${meta}</p>${notes}${training}${evaluation}</div>`;
}

/** The report as one self-contained HTML document (plotly.js and images inlined). */
export function renderRunReport(runs: RunLog[], opts: ReportOptions = {}): string {
  const title = escapeHtml(opts.title ?? defaultTitle(runs, opts));
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>${plotlyScriptTag()}</head>` +
    `<body>${runReportFragment(runs, opts)}</body></html>\n`
  );
}


/** Writes the report atomically; returns its size in bytes. */
export function writeRunReport(file: string, runs: RunLog[], opts: ReportOptions = {}): number {
  const html = renderRunReport(runs, opts);
  writeFileAtomic(file, html);
  return Buffer.byteLength(html);
}
