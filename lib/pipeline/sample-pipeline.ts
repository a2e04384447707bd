/**
 * The workbook pipeline on the bundled clip (`npm start`, `propainter pipeline`), top to bottom:
 *
 *   1. validate the bundled DAVIS sample (frames, masks, index) and build the indexed training set
 *      the quick configs ask for (synthetic motion over the clip's frames, exact .flo flows);
 *   2. train the flow-completion network (configs/quick_flowcomp.json);
 *   3. train ProPainter with that network frozen (configs/quick_propainter.json);
 *   4. evaluate the quick-trained ProPainter (with the flow-completion network it trained with)
 *      and, as a baseline, det-init (untrained) weights on the quick set's held-out video(s), with
 *      the official protocol at the size the runs trained and the set's exact flows (--load_flow);
 *   5. write a self-contained HTML report of both runs and both evaluations.
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
import { openDatasetRoot } from '../data/layout';
import { runEvaluation } from '../eval/run';
import { readEvalRun, readRunLog, writeRunReport, formatSeconds } from '../report';

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
  /** Folder of the two evaluation folders (default experiments/eval). */
  evalDir?: string;
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
  /** The evaluation folders (quick-trained, det-init); empty when interrupted. */
  evaluations: string[];
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
  evalDir: 'experiments/eval',
};

/** The two evaluations of the pipeline, labelled by their folder names. */
export const EVALUATIONS = { trained: 'quick_propainter-heldout', detInit: 'det-init-heldout' } as const;

/**
 * The quick ProPainter run (generator + the flow-completion network it froze) and det-init
 * weights evaluated on the held-out video(s) of its set (datasets.val) with the official protocol
 * at the training size and the set's exact flows. `fresh` starts the folders over (after
 * retraining: resuming would mix checkpoints and is refused).
 */
async function evaluateQuickRun(pp: TrainConfig, fc: TrainConfig, dir: string, fresh: boolean, log: Log): Promise<string[]> {
  const val = pp.datasets.val;
  if (!val) throw new Error(`${pp.name}: no datasets.val (the held-out videos the pipeline evaluates)`);
  const root = openDatasetRoot(val.root, { width: val.width, height: val.height });
  if (!root.masksDir || !root.flowsDir) throw new Error(`${root.root}: the held-out set needs test_masks/ and flows/ (the quick set has both)`);
  const common = {
    dataset: 'davis' as const, videoRoot: root.framesDir, maskRoot: root.masksDir, flowRoot: root.flowsDir, loadFlow: true,
    width: val.width, height: val.height, videos: val.videos, fresh, log,
  };
  const trained = path.join(dir, EVALUATIONS.trained);
  const baseline = path.join(dir, EVALUATIONS.detInit);
  log(`${pp.name}: evaluating the trained generator (${pp.save_dir}) and flow completion (${fc.save_dir}) → ${trained}`);
  await runEvaluation({ ...common, propainterModelPath: pp.save_dir, fcModelPath: fc.save_dir, out: trained });
  log(`det-init (untrained) weights, the baseline → ${baseline}`);
  await runEvaluation({ ...common, detInit: true, out: baseline });
  return [trained, baseline];
}

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
  // A run trained (or continued) now has a new checkpoint: its evaluation starts over.
  let retrained = false;
  for (const [stage, cfg] of [['train the flow-completion network', fc], ['train ProPainter (flow completion frozen)', pp]] as const) {
    const r = await timed(`${stage}: ${cfg.name}, ${cfg.train.total_iter} iterations`, () => trainStage(cfg, opts, log));
    if (r !== 'skipped') retrained = true;
    if (r === 'interrupted') {
      log(`${cfg.name}: interrupted — its checkpoint is in ${cfg.save_dir}; run again to continue`);
      return { report: '', runs: [fc.save_dir, pp.save_dir], evaluations: [], seconds, status: 'interrupted' };
    }
  }
  const evals = await timed(`evaluate: ${pp.name} vs det-init weights on the held-out video(s) of its set`, () =>
    evaluateQuickRun(pp, fc, opts.evalDir ?? DEFAULTS.evalDir, !!opts.fresh || retrained, log),
  );
  const report = opts.report ?? DEFAULTS.report;
  await timed('report', async () => {
    const bytes = writeRunReport(report, [readRunLog(fc.save_dir), readRunLog(pp.save_dir)], {
      evaluations: evals.map((d) => readEvalRun(d)),
      title: 'ProPainter-TS sample pipeline (bundled clip bmx-trees)',
      notes,
      generatedBy: 'propainter pipeline',
    });
    log(`${report}: ${(bytes / 1e6).toFixed(1)} MB`);
  });
  return { report, runs: [fc.save_dir, pp.save_dir], evaluations: evals, seconds, status: 'finished' };
}
