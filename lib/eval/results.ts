/**
 * Evaluation results on disk: one record per finished video (`per_video/<video>.json`, written
 * atomically as the video finishes, so a restarted evaluation skips it), the settings they were
 * made with (`results.json`, which also holds the summary) and the dataset-level numbers computed
 * from the records with the official averaging rules.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/atomic';
import { childPath } from '../data/layout';
import { activationFrechet } from './metrics';

export type EvalModel = 'propainter' | 'flowcomp';
export type EvalTask = 'video_completion' | 'object_removal';
export type EvalDatasetName = 'davis' | 'youtube-vos';

/** Everything that decides the numbers; a folder's records are only reused under equal settings. */
export interface EvalProtocol {
  model: EvalModel;
  dataset: EvalDatasetName;
  task: EvalTask;
  width: number;
  height: number;
  neighbor_length: number;
  ref_stride: number;
  raft_iter: number;
  load_flow: boolean;
  video_root: string;
  mask_root: string;
  flow_root: string | null;
  /** The --videos subset, or null for all. */
  videos: string[] | null;
  max_frames: number | null;
  /** Completed frames read from this folder instead of computed (--frames_from). */
  frames_from: string | null;
}

/** A weight file as used: where, how big, and its SHA-256 (which identifies it). */
export interface WeightInfo {
  path: string;
  bytes: number;
  sha256: string;
}

/** What results.json records for det-init weights (no file: the name says what they are). */
export const DET_INIT_WEIGHTS: WeightInfo = { path: 'det-init v1 (untrained, deterministic)', bytes: 0, sha256: 'det-init-v1' };

/** What one finished video contributes. Keys are the file's (snake_case). */
export interface VideoRecord {
  video: string;
  /** Position in the dataset (official order). */
  index: number;
  frames: number;
  height: number;
  width: number;
  /** Fraction of hole pixels (dilated masks) over all frames. */
  mask_area: number;
  /** Wall time per frame of the timed steps (official: flows → completion; flowcomp: completion). */
  seconds_per_frame: number;
  /** video_completion: per-frame PSNR / SSIM (float results vs uint8 ground truth). */
  psnr?: number[];
  ssim?: number[];
  /** Per-frame LPIPS, when its weights were given. */
  lpips?: number[];
  /** Mean flow warping error of the video (raw, reported ×10⁻³). */
  ewarp?: number;
  /** I3D Mixed_5c features (1024) of the ground truth and of the results, for VFID. */
  i3d_real?: number[];
  i3d_fake?: number[];
  /** flowcomp: EPE of each direction over all its T−1 flows and all pixels. */
  epe_forward?: number;
  epe_backward?: number;
}

/**
 * One video's line of results.json / per_video.csv: video, index, frames, height, width,
 * mask_area, the video's metric means (psnr, ssim, lpips, ewarp | epe, epe_forward,
 * epe_backward) and seconds_per_frame.
 */
export type VideoRow = Record<string, number | string>;

/** Dataset-level numbers (null = not measured; see notes). */
export interface EvalSummary {
  videos: number;
  frames: number;
  psnr: number | null;
  ssim: number | null;
  vfid: number | null;
  /** Raw mean over videos; papers print it ×10³. */
  ewarp: number | null;
  lpips: number | null;
  epe: number | null;
  seconds_per_frame: number | null;
}

export interface ResultsFile {
  format: typeof RESULTS_FORMAT;
  version: 1;
  /** False while the evaluation is running or was interrupted. */
  complete: boolean;
  protocol: EvalProtocol;
  weights: Record<string, WeightInfo>;
  backend: string;
  updated: string;
  videos_total: number;
  summary: EvalSummary;
  notes: string[];
  per_video: VideoRow[];
}

export const RESULTS_FORMAT = 'propainter-ts evaluation';
export const RESULTS_FILE = 'results.json';
export const RECORDS_DIR = 'per_video';
export const STRIPS_DIR = 'strips';

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** JSON without losing ±inf / nan (a PSNR of identical frames is inf): they become strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf') : v), 2) + '\n';
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : v)) as T;
}

/** The per-video columns of results.json and per_video.csv (per-frame lists reduced to means). */
export function videoRow(r: VideoRecord): VideoRow {
  const row: VideoRow = {
    video: r.video, index: r.index, frames: r.frames, height: r.height, width: r.width, mask_area: r.mask_area,
  };
  if (r.psnr) row.psnr = mean(r.psnr);
  if (r.ssim) row.ssim = mean(r.ssim);
  if (r.lpips) row.lpips = mean(r.lpips);
  if (r.ewarp !== undefined) row.ewarp = r.ewarp;
  if (r.epe_forward !== undefined && r.epe_backward !== undefined) {
    row.epe = (r.epe_forward + r.epe_backward) / 2;
    row.epe_forward = r.epe_forward;
    row.epe_backward = r.epe_backward;
  }
  row.seconds_per_frame = r.seconds_per_frame;
  return row;
}

/**
 * The official dataset-level numbers: PSNR / SSIM (and LPIPS) frame-weighted over all frames,
 * VFID = Fréchet distance between the videos' I3D features (needs ≥ 2 videos), E_warp the mean
 * over videos, EPE weighting each direction by its flow count, time as the official scripts
 * average it (ProPainter: mean of the videos' seconds per frame; flowcomp: frame-weighted).
 */
export function summarize(model: EvalModel, records: readonly VideoRecord[], opts: { vfid?: boolean } = {}): { summary: EvalSummary; notes: string[] } {
  const notes: string[] = [];
  const frames = records.reduce((a, r) => a + r.frames, 0);
  const pooled = (k: 'psnr' | 'ssim' | 'lpips') => {
    if (!records.length || records.some((r) => !r[k])) return null;
    return mean(records.flatMap((r) => r[k]!));
  };
  let vfid: number | null = null;
  const withI3d = records.filter((r) => r.i3d_real && r.i3d_fake);
  // VFID (two 1024² eigendecompositions) only when asked: not after every video.
  if ((opts.vfid ?? true) && withI3d.length && withI3d.length === records.length) {
    if (records.length < 2) notes.push('VFID not computed: it compares feature statistics across videos and needs at least 2 videos');
    else {
      const dims = records[0].i3d_real!.length;
      vfid = activationFrechet(Float64Array.from(records.flatMap((r) => r.i3d_real!)), Float64Array.from(records.flatMap((r) => r.i3d_fake!)), records.length, dims);
    }
  }
  const ew = records.map((r) => r.ewarp);
  const ewarp = records.length && ew.every((v) => v !== undefined) ? mean(ew as number[]) : null;
  let epe: number | null = null;
  if (records.length && records.every((r) => r.epe_forward !== undefined && r.epe_backward !== undefined)) {
    const w = records.map((r) => r.frames - 1);
    const total = 2 * w.reduce((a, b) => a + b, 0);
    epe = records.reduce((a, r, i) => a + (r.epe_forward! + r.epe_backward!) * w[i], 0) / total;
  }
  let spf: number | null = null;
  if (records.length) {
    spf = model === 'flowcomp'
      ? records.reduce((a, r) => a + r.seconds_per_frame * r.frames, 0) / frames
      : mean(records.map((r) => r.seconds_per_frame));
  }
  return {
    summary: { videos: records.length, frames, psnr: pooled('psnr'), ssim: pooled('ssim'), vfid, ewarp, lpips: pooled('lpips'), epe, seconds_per_frame: spf },
    notes,
  };
}

/** Reads results.json of an evaluation folder; throws naming the file. */
export function readResultsFile(dir: string): ResultsFile {
  const file = path.join(dir, RESULTS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${file}: missing — not an evaluation folder (propainter evaluate writes it)`);
  }
  let r: ResultsFile;
  try {
    r = fromJson<ResultsFile>(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (r?.format !== RESULTS_FORMAT) throw new Error(`${file}: not a ${RESULTS_FORMAT} file`);
  return r;
}

/** The settings that differ between two protocols (empty when equal). */
export function protocolDifferences(a: EvalProtocol, b: EvalProtocol): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof EvalProtocol>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k} ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`);
}

/** The per-video records of an output folder, and the files that mark progress. */
export class RecordStore {
  readonly recordsDir: string;

  constructor(readonly dir: string) {
    this.recordsDir = path.join(dir, RECORDS_DIR);
  }

  file(video: string): string {
    return childPath(this.recordsDir, `${video}.json`, 'video record');
  }

  has(video: string): boolean {
    return fs.existsSync(this.file(video));
  }

  read(video: string): VideoRecord {
    const f = this.file(video);
    try {
      return fromJson<VideoRecord>(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      throw new Error(`${f}: unreadable video record (${(e as Error).message}); delete it to evaluate the video again`);
    }
  }

  write(r: VideoRecord): void {
    writeFileAtomic(this.file(r.video), toJson(r));
  }
}
