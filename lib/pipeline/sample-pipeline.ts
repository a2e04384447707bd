/**
 * The workbook pipeline on the bundled clip (`npm start`, `propainter pipeline`), top to bottom:
 *
 *   1. validate the bundled DAVIS sample (frames, masks, index) and build the indexed training set
 *      the quick configs ask for (synthetic motion over the clip's frames, exact .flo flows);
 *   2. train the flow-completion network (configs/quick_flowcomp.json);
 *   3. train ProPainter with that network frozen (configs/quick_propainter.json);
 *   4. write a self-contained HTML report of both runs.
 *
 * Each training step resumes from its run folder: a finished run is skipped, an interrupted one
 * continues from its latest checkpoint (`fresh` starts over). The same function backs notebooks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig, TrainConfig } from '../train/config';
import { ensureSynthSet } from '../train/data';
import { latestCheckpoint } from '../train/run-folder';
import { Run } from '../train/loop';
import { formatProblem, validateDataset } from '../data/validate';
import type { Log } from '../train/system';
import { readRunLog, writeRunReport, formatSeconds } from '../report';

export interface PipelineOptions {
  /** The bundled sample to validate (default data/davis-sample). */
  sample?: string;
  flowcompConfig?: string;
  propainterConfig?: string;
  /** `key.path=value` overrides per stage. */
  flowcompSets?: string[];
  propainterSets?: string[];
  /** Output HTML report (default reports/sample-pipeline.html). */
  report?: string;
  /** Delete the two run folders first and train from scratch. */
  fresh?: boolean;
  /** Progress line during training (default true). */
  console?: boolean;
  /** Stop cleanly on SIGINT/SIGTERM (the CLI sets this). */
  handleSignals?: boolean;
  log?: Log;
}

export interface PipelineResult {
  report: string;
  runs: string[];
  /** Wall seconds per stage. */
  seconds: Record<string, number>;
  /** 'finished', or 'interrupted' when a signal stopped training (the report is then not written). */
  status: 'finished' | 'interrupted';
}

export const DEFAULTS = {
  sample: 'data/davis-sample',
  flowcompConfig: 'configs/quick_flowcomp.json',
  propainterConfig: 'configs/quick_propainter.json',
  report: 'reports/sample-pipeline.html',
};

/** Trains one config to its total_iter, resuming or skipping what its folder already holds. */
async function trainStage(cfg: TrainConfig, opts: PipelineOptions, log: Log): Promise<'finished' | 'interrupted' | 'skipped'> {
  const done = latestCheckpoint(cfg.save_dir) ?? -1;
  if (done >= cfg.train.total_iter) {
    log(`${cfg.name}: already trained to iteration ${done} in ${cfg.save_dir} (skipped; --fresh retrains)`);
    return 'skipped';
  }
  const run = await Run.create(cfg, { resume: done > 0 ? cfg.save_dir : undefined, console: opts.console ?? true, handleSignals: opts.handleSignals, log });
  try {
    const reason = await run.train();
    return reason === 'interrupted' ? 'interrupted' : 'finished';
  } finally {
    await run.dispose();
  }
}

export async function runSamplePipeline(opts: PipelineOptions = {}): Promise<PipelineResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const seconds: Record<string, number> = {};
  const notes: string[] = [];
  const timed = async <T>(stage: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    log(`\n== ${stage}`);
    const r = await f();
    seconds[stage] = (performance.now() - t0) / 1000;
    notes.push(`${stage}: ${r === 'skipped' ? 'skipped (already trained; its figures are from the earlier run)' : formatSeconds(seconds[stage])}`);
    return r;
  };
  const sample = opts.sample ?? DEFAULTS.sample;
  const fc = loadConfig(opts.flowcompConfig ?? DEFAULTS.flowcompConfig, opts.flowcompSets);
  // ProPainter freezes the flow-completion net this pipeline trains.
  const pp = loadConfig(opts.propainterConfig ?? DEFAULTS.propainterConfig, [`networks.flow_completion=${fc.save_dir}`, ...(opts.propainterSets ?? [])]);
  if (opts.fresh) for (const c of [fc, pp]) fs.rmSync(c.save_dir, { recursive: true, force: true });

  await timed('data: validate the bundled clip, build the indexed training set', async () => {
    const rep = await validateDataset(sample);
    if (rep.problems.length) {
      const shown = rep.problems.slice(0, 10).map(formatProblem);
      throw new Error(`${sample}: ${rep.problems.length} problem(s):\n  ${shown.join('\n  ')}`);
    }
    log(`${sample}: ${rep.videos} video(s), ${rep.frames} frames, ${rep.masks} masks — frames, masks and index agree`);
    for (const c of [fc, pp]) {
      await ensureSynthSet(c, log);
      const idx = path.join(c.datasets.train.root, 'train.json');
      if (!fs.existsSync(idx)) throw new Error(`${idx}: missing (datasets.train.root of ${c.name})`);
      const videos = Object.keys(JSON.parse(fs.readFileSync(idx, 'utf8')) as object).length;
      log(`${c.name}: training set ${c.datasets.train.root} (${videos} indexed videos)`);
    }
  });
  for (const [stage, cfg] of [['train the flow-completion network', fc], ['train ProPainter (flow completion frozen)', pp]] as const) {
    const r = await timed(`${stage}: ${cfg.name}, ${cfg.train.total_iter} iterations`, () => trainStage(cfg, opts, log));
    if (r === 'interrupted') {
      log(`${cfg.name}: interrupted — its checkpoint is in ${cfg.save_dir}; run again to continue`);
      return { report: '', runs: [fc.save_dir, pp.save_dir], seconds, status: 'interrupted' };
    }
  }
  const report = opts.report ?? DEFAULTS.report;
  await timed('report', async () => {
    const bytes = writeRunReport(report, [readRunLog(fc.save_dir), readRunLog(pp.save_dir)], {
      title: 'ProPainter-TS sample pipeline (bundled clip bmx-trees)',
      notes,
      generatedBy: 'propainter pipeline',
    });
    log(`${report}: ${(bytes / 1e6).toFixed(1)} MB`);
  });
  return { report, runs: [fc.save_dir, pp.save_dir], seconds, status: 'finished' };
}
