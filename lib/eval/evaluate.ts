/**
 * The evaluation loops of `propainter evaluate`: scripts/evaluate_propainter.py (complete each
 * whole video, then PSNR / SSIM / VFID, plus E_warp and LPIPS) and
 * scripts/evaluate_flow_completion.py (complete each video's flows, EPE), with the outputs of
 * docs/evaluation.md. Videos are independent: each one's record is stored as it finishes, and a
 * restarted evaluation in the same folder skips the finished ones.
 *
 * The ProPainter loop is built around `CompleteVideo`, "one whole video → completed frames";
 * the official stages (lib/inference) plug in there.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic, writeFileAtomicAsync } from '../io/atomic';
import { encodeJpeg, encodePng, readRgb } from '../io/image';
import { childPath, listFrames } from '../data/layout';
import { forEachLimit } from '../data/fsutil';
import type { InceptionI3d } from '../models/i3d';
import type { LPIPS } from '../models/lpips';
import { RecurrentFlowCompleteNet, completeFlows } from '../models/flow-completion';
import { flowToColor, maxFlowRadius } from '../viz/flow';
import { frameGrid, maskOverlay } from '../viz/image';
import type { EvalDataset, EvalVideo, VideoFlows } from './dataset';
import { FlowSource, videoFlows } from './flows';
import { epe } from './metrics';
import { flowMetricsText, objectRemovalLines, perVideoCsv, propainterMetricsText } from './metrics-file';
import {
  EvalProtocol, EvalSummary, RECORDS_DIR, RESULTS_FILE, RESULTS_FORMAT, RecordStore, ResultsFile, STRIPS_DIR, VideoRecord,
  WeightInfo, protocolDifferences, readResultsFile, summarize, toJson, videoRow,
} from './results';
import { frameQuality, i3dVideoFeatures, lpipsFrames, maskArea, truncateToU8 } from './video-metrics';
import { videoWarpError } from './warp-error';

/**
 * Completes one whole video: T×H×W×3 float RGB in [0, 255] — the official `comp_frames`, known
 * pixels from the uint8 frames, holes from the model, overlapping windows blended without
 * re-quantisation. `flows` are the video's flows when the evaluation computes them for it.
 */
export type CompleteVideo = (video: EvalVideo, flows: VideoFlows | null) => Promise<Float32Array>;

export interface EvaluationCommon {
  /** Output folder (created). */
  out: string;
  protocol: EvalProtocol;
  dataset: EvalDataset;
  /** The weight files used, by role (raft, flowcomp, propainter, i3d, lpips…). */
  weights: Record<string, WeightInfo>;
  /** --save_results: completed frames (or flow PNGs) per video. */
  saveResults?: boolean;
  /** Drop this folder's earlier records and outputs instead of resuming. */
  fresh?: boolean;
  /** Lines for results.json and the report (e.g. metrics skipped for lack of weights). */
  notes?: string[];
  backend?: string;
  log?: (line: string) => void;
}

export interface ProPainterEvaluationOptions extends EvaluationCommon {
  complete: CompleteVideo;
  /** The flows' source (loaded or RAFT): given to `complete` when it needs them, and E_warp's. Null: no E_warp. */
  flows: FlowSource | null;
  completionNeedsFlows: boolean;
  /** False when `complete` reads finished frames instead of computing them: no time is reported. */
  timed: boolean;
  /** VFID's network (null: VFID skipped). */
  i3d: InceptionI3d | null;
  /** LPIPS network (null: skipped). */
  lpips: LPIPS | null;
}

export interface FlowCompletionEvaluationOptions extends EvaluationCommon {
  model: RecurrentFlowCompleteNet;
  flows: FlowSource;
}

/** Evaluates video `index` of the dataset (reads it, runs the metrics, writes its saved outputs) → its record. */
export type VideoEvaluation = (index: number) => Promise<VideoRecord>;

/** The official outputs of a loop, which depend on what is evaluated but not on the networks. */
interface Bookkeeping {
  /** Whether video i's outputs beyond its record (saved frames) are complete. */
  outputsComplete(i: number): boolean;
  /** The official metrics file for the records so far (null: none for this task). */
  metricsText(records: VideoRecord[], final: EvalSummary | null): string | null;
  /** The official stdout lines of the records so far, one per record. */
  lines(records: VideoRecord[]): string[];
}

const now = () => performance.now() / 1000;
const linesOf = (text: string) => text.trimEnd().split('\n');

/** `<dataset>_metrics.txt`, the official name. */
export function metricsFileName(p: EvalProtocol): string {
  return `${p.dataset}_metrics.txt`;
}

function clearOutputs(out: string, o: EvaluationCommon): void {
  for (const f of [RESULTS_FILE, 'per_video.csv', metricsFileName(o.protocol), RECORDS_DIR, STRIPS_DIR]) {
    fs.rmSync(path.join(out, f), { recursive: true, force: true });
  }
  for (const v of o.dataset.videoNames) fs.rmSync(childPath(out, v, 'video'), { recursive: true, force: true });
}

/** Refuses to mix records made under other settings or weights into this folder. */
function checkResumable(out: string, o: EvaluationCommon): void {
  if (!fs.existsSync(path.join(out, RESULTS_FILE))) return;
  const prev = readResultsFile(out);
  const diff = protocolDifferences(prev.protocol, o.protocol);
  for (const k of new Set([...Object.keys(prev.weights), ...Object.keys(o.weights)])) {
    if (prev.weights[k]?.sha256 !== o.weights[k]?.sha256) diff.push(`${k} weights ${prev.weights[k]?.path ?? 'none'} → ${o.weights[k]?.path ?? 'none'}`);
  }
  if (diff.length) {
    throw new Error(
      `${path.join(out, RESULTS_FILE)}: this folder holds an evaluation with other settings (${diff.join('; ')}); ` +
        `pass another -o, or --fresh to start over`,
    );
  }
}

function bookkeeping(o: EvaluationCommon): Bookkeeping {
  const out = path.resolve(o.out);
  const names = o.dataset.videoNames;
  const counts = o.dataset.frameCounts;
  const total = o.dataset.length;
  if (o.protocol.model === 'flowcomp') {
    return {
      outputsComplete(i) {
        if (!o.saveResults) return true;
        const dir = childPath(out, names[i], 'video');
        return hasPngs(path.join(dir, 'forward_png'), counts[i] - 1) && hasPngs(path.join(dir, 'backward_png'), counts[i] - 1);
      },
      metricsText: (records, final) => flowMetricsText(records, total, final !== null),
      lines: (records) => linesOf(flowMetricsText(records, total)),
    };
  }
  const completion = o.protocol.task === 'video_completion';
  return {
    outputsComplete: (i) => !o.saveResults || hasPngs(childPath(out, names[i], 'video'), counts[i]),
    metricsText: (records, final) => (completion ? propainterMetricsText(records, total, final ? { vfid: final.vfid } : undefined) : null),
    lines: (records) => linesOf(completion ? propainterMetricsText(records, total) : objectRemovalLines(records, total)),
  };
}

/**
 * The loop shared by both evaluations: resumes (or, fresh, clears) the output folder, evaluates
 * the unfinished videos with `evaluate`, up to `concurrency` at a time (worker processes), stores
 * each record as it arrives and keeps results.json, per_video.csv and the metrics file current;
 * the final files once every video is done. When a video fails, the videos already running are
 * let finish (and recorded), then the first error is thrown.
 */
export async function evaluateVideos(o: EvaluationCommon, evaluate: VideoEvaluation, opts: { concurrency?: number } = {}): Promise<ResultsFile> {
  const log = o.log ?? ((l: string) => console.log(l));
  const r = bookkeeping(o);
  const out = path.resolve(o.out);
  fs.mkdirSync(out, { recursive: true });
  if (o.fresh) clearOutputs(out, o);
  else checkResumable(out, o);
  const store = new RecordStore(out);
  const names = o.dataset.videoNames;
  const records: Array<VideoRecord | null> = names.map((v, i) => (store.has(v) && r.outputsComplete(i) ? store.read(v) : null));
  const done = () => records.filter((x): x is VideoRecord => x !== null);
  const write = (final: boolean): ResultsFile => {
    const finished = done();
    const complete = final && finished.length === names.length;
    const { summary, notes } = summarize(o.protocol.model, finished, { vfid: complete });
    const res: ResultsFile = {
      format: RESULTS_FORMAT,
      version: 1,
      complete,
      protocol: o.protocol,
      weights: o.weights,
      backend: o.backend ?? tf.getBackend() ?? 'none',
      updated: new Date().toISOString(),
      videos_total: names.length,
      summary,
      notes: [...(o.notes ?? []), ...notes],
      per_video: finished.map(videoRow),
    };
    const text = r.metricsText(finished, complete ? summary : null);
    if (text !== null) writeFileAtomic(path.join(out, metricsFileName(o.protocol)), text);
    writeFileAtomic(path.join(out, 'per_video.csv'), perVideoCsv(res.per_video));
    writeFileAtomic(path.join(out, RESULTS_FILE), toJson(res));
    return res;
  };
  write(false);
  const skipped = records.filter(Boolean).length;
  if (skipped) log(`${out}: ${skipped} of ${names.length} videos finished earlier, skipped`);
  const todo = names.map((_, i) => i).filter((i) => !records[i]);
  let failure: unknown = null;
  const lane = async (): Promise<void> => {
    while (failure === null && todo.length) {
      const i = todo.shift()!;
      let rec: VideoRecord;
      try {
        rec = await evaluate(i);
      } catch (e) {
        failure ??= e;
        return;
      }
      store.write(rec);
      records[i] = rec;
      // The official progress line, numbered by completion: with several workers (or a resume)
      // videos finish out of dataset order; the file written below keeps the dataset order.
      const order = [...done().filter((x) => x !== rec), rec];
      log(r.lines(order)[order.length - 1]);
      write(false);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, todo.length)) }, lane));
  if (failure !== null) throw failure;
  const res = write(true);
  // The caller's notes were shown when it chose them; these come from the summary.
  for (const n of res.notes.slice(o.notes?.length ?? 0)) log(`note: ${n}`);
  return res;
}

/** Index of the frame with the largest hole (the strip shows it). */
function largestHoleFrame(video: EvalVideo): number {
  const hw = video.H * video.W;
  let best = 0;
  let bestArea = -1;
  for (let t = 0; t < video.T; t++) {
    let a = 0;
    for (let p = 0; p < hw; p++) a += video.masks[t * hw + p];
    if (a > bestArea) {
      best = t;
      bestArea = a;
    }
  }
  return best;
}

/** strips/<video>.jpg: the given panels side by side (JPEG, for the report). */
async function writeStrip(out: string, video: string, panels: Parameters<typeof frameGrid>[0]): Promise<void> {
  const grid = frameGrid(panels, { cols: panels.length, gap: 4 });
  writeFileAtomic(childPath(path.join(out, STRIPS_DIR), `${video}.jpg`, 'strip'), await encodeJpeg({ ...grid, channels: 3 }, 90));
}

const frameName = (i: number) => `${String(i).padStart(5, '0')}.png`;

/** True when `dir` holds the n PNGs 00000.png … */
function hasPngs(dir: string, n: number): boolean {
  for (let i = 0; i < n; i++) if (!fs.existsSync(path.join(dir, frameName(i)))) return false;
  return true;
}

/** Writes images as `dir/NNNNN.png` (atomic, several at a time). */
async function savePngs(dir: string, count: number, image: (i: number) => { width: number; height: number; data: Uint8Array }): Promise<void> {
  await forEachLimit(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const img = image(i);
    await writeFileAtomicAsync(path.join(dir, frameName(i)), await encodePng({ ...img, channels: 3 }));
  });
}

/**
 * One video of scripts/evaluate_propainter.py: the flows (when needed), the completion (timed
 * together, as the script does), then PSNR / SSIM of the float results against the uint8 frames,
 * I3D features of both (VFID), LPIPS, E_warp on the truncated results; its strip and, with
 * saveResults, `<video>/NNNNN.png`.
 */
export function propainterVideoEvaluator(o: ProPainterEvaluationOptions): VideoEvaluation {
  const out = path.resolve(o.out);
  const completion = o.protocol.task === 'video_completion';
  return async (index) => {
    const video = await o.dataset.load(index);
    const { T, H, W } = video;
    const t0 = now();
    let flows = o.flows && o.completionNeedsFlows ? await videoFlows(video, o.flows) : null;
    const comp = await o.complete(video, flows);
    const seconds = now() - t0;
    if (comp.length !== T * H * W * 3) throw new Error(`${video.name}: the completion returned ${comp.length} values for ${T}×${H}×${W}×3`);
    const compU8 = truncateToU8(comp);
    const rec: VideoRecord = {
      video: video.name, index: video.index, frames: T, height: H, width: W,
      mask_area: maskArea(video.masks), seconds_per_frame: o.timed ? seconds / T : NaN,
    };
    if (completion) {
      const q = frameQuality(video.framesU8, comp, T, H, W);
      rec.psnr = q.psnr;
      if (q.ssim) rec.ssim = q.ssim;
      if (o.i3d) {
        rec.i3d_real = Array.from(await i3dVideoFeatures(o.i3d, video.framesU8, T, H, W));
        rec.i3d_fake = Array.from(await i3dVideoFeatures(o.i3d, compU8, T, H, W));
      }
      if (o.lpips) rec.lpips = await lpipsFrames(o.lpips, compU8, video.framesU8, T, H, W);
      if (o.flows) {
        flows ??= await videoFlows(video, o.flows);
        rec.ewarp = videoWarpError(compU8, flows.forward, flows.backward, T, H, W).mean;
      }
    }
    const n = H * W * 3;
    const frameAt = (t: number, src: Uint8Array) => ({ width: W, height: H, data: src.subarray(t * n, (t + 1) * n) });
    if (o.saveResults) await savePngs(childPath(out, video.name, 'video'), T, (t) => frameAt(t, compU8));
    const t = largestHoleFrame(video);
    const gt = frameAt(t, video.framesU8);
    await writeStrip(out, video.name, [maskOverlay(gt, video.masks.subarray(t * H * W, (t + 1) * H * W)), frameAt(t, compU8), gt]);
    return rec;
  };
}

/**
 * scripts/evaluate_propainter.py over the dataset (propainterVideoEvaluator per video, in this
 * process): `<dataset>_metrics.txt`, results.json, per_video.csv, strips and, with saveResults,
 * `<video>/NNNNN.png`.
 */
export function evaluateProPainter(o: ProPainterEvaluationOptions): Promise<ResultsFile> {
  return evaluateVideos(o, propainterVideoEvaluator(o));
}

/**
 * One video of scripts/evaluate_flow_completion.py: flows (loaded or RAFT), the flow completion
 * (timed), EPE of each direction over the whole frame against the input flows; its strip and,
 * with saveResults, `<video>/forward_png|backward_png/NNNNN.png` in cvbase colours.
 */
export function flowCompletionVideoEvaluator(o: FlowCompletionEvaluationOptions): VideoEvaluation {
  const out = path.resolve(o.out);
  o.model.eval();
  return async (index) => {
    const video = await o.dataset.load(index);
    const { T, H, W } = video;
    const flows = await videoFlows(video, o.flows);
    const shape: [number, number, number, number, number] = [1, T - 1, H, W, 2];
    const gtF = tf.tensor5d(flows.forward, shape);
    const gtB = tf.tensor5d(flows.backward, shape);
    const masks = tf.tensor5d(video.masks, [1, T, H, W, 1]);
    const t0 = now();
    let pf: Float32Array;
    let pb: Float32Array;
    try {
      const [f, b] = completeFlows(o.model, [gtF, gtB], masks);
      try {
        pf = (await f.data()) as Float32Array;
        pb = (await b.data()) as Float32Array;
      } finally {
        tf.dispose([f, b]);
      }
    } finally {
      tf.dispose([gtF, gtB, masks]);
    }
    const seconds = now() - t0;
    const rec: VideoRecord = {
      video: video.name, index: video.index, frames: T, height: H, width: W,
      mask_area: maskArea(video.masks), seconds_per_frame: seconds / T,
      epe_forward: epe(pf, flows.forward), epe_backward: epe(pb, flows.backward),
    };
    const per = H * W * 2;
    const flowAt = (src: Float32Array, k: number) => ({ width: W, height: H, data: src.subarray(k * per, (k + 1) * per) });
    if (o.saveResults) {
      const dir = childPath(out, video.name, 'video');
      await savePngs(path.join(dir, 'forward_png'), T - 1, (k) => flowToColor(flowAt(pf, k), { style: 'cvbase' }));
      await savePngs(path.join(dir, 'backward_png'), T - 1, (k) => flowToColor(flowAt(pb, k), { style: 'cvbase' }));
    }
    // Strip of the forward flow with the largest hole: input (hole zeroed) | completed | ground truth, one colour scale.
    const k = Math.min(largestHoleFrame(video), T - 2);
    const gt = flowAt(flows.forward, k);
    const hole = video.masks.subarray(k * H * W, (k + 1) * H * W);
    const masked = { width: W, height: H, data: gt.data.map((v, i) => (hole[i >> 1] ? 0 : v)) };
    const maxRadius = maxFlowRadius(gt);
    await writeStrip(out, video.name, [masked, flowAt(pf, k), gt].map((f) => flowToColor(f, { maxRadius })));
    return rec;
  };
}

/** scripts/evaluate_flow_completion.py over the dataset (flowCompletionVideoEvaluator per video, in this process). */
export function evaluateFlowCompletion(o: FlowCompletionEvaluationOptions): Promise<ResultsFile> {
  return evaluateVideos(o, flowCompletionVideoEvaluator(o));
}

/**
 * A CompleteVideo that reads finished results instead of computing them: `dir/<video>/NNNNN.png`
 * at the evaluation size (e.g. another method's outputs, or the official script's
 * --save_results), so they are scored with the same protocol.
 */
export function framesFromFolder(dir: string): CompleteVideo {
  const root = path.resolve(dir);
  return async (video) => {
    const vdir = childPath(root, video.name, 'video');
    const files = listFrames(vdir);
    if (files.length !== video.T) throw new Error(`${vdir}: ${files.length} result frames for a ${video.T}-frame video`);
    const n = video.H * video.W * 3;
    const out = new Float32Array(video.T * n);
    for (let t = 0; t < video.T; t++) {
      const file = path.join(vdir, files[t]);
      const img = await readRgb(file);
      if (img.width !== video.W || img.height !== video.H) {
        throw new Error(`${file}: ${img.width}x${img.height}, the evaluation runs at ${video.W}x${video.H}`);
      }
      out.set(img.data, t * n);
    }
    return out;
  };
}
