/**
 * Training batches for the loop: the TrainDataset/DataLoader of lib/data behind a small
 * `BatchSource` with a resumable position (epoch, batch: sample content depends only on
 * (seed, epoch, index), so the position is the whole sampler state), optional fixed masks from
 * `mask_root`, an optional synthetic set built on first use, progressive resizing of the
 * tensors, and the held-out set for validation.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { DataLoader, type Shard } from '../data/loader';
import { TrainDataset } from '../data/train-dataset';
import { TestDataset } from '../data/test-dataset';
import type { Batch } from '../data/sample';
import { BatchTensors, batchToTensors } from '../data/tensors';
import { MAX_BAD_SAMPLES_IN_A_ROW, TrainConfig } from './config';
import type { Log } from './system';
import { writeJsonAtomic } from '../io/atomic';
import { writeSynthDataset } from '../data/prepare';

export interface DataPosition {
  epoch: number;
  batch: number;
}

export interface BatchSource {
  next(): Promise<Batch>;
  /** Position of the next batch (saved in checkpoints). */
  position(): DataPosition;
  close(): Promise<void>;
}

/**
 * Builds the synthetic set a config asks for (datasets.train.synth) at its root. The parameters
 * are recorded in `<root>/synth.json` once the set is complete, so an interrupted build resumes
 * and a root built with other parameters is an error rather than silently reused.
 */
export async function ensureSynthSet(cfg: TrainConfig, log: Log): Promise<void> {
  const d = cfg.datasets.train;
  if (!d.synth) return;
  const params = { ...d.synth, width: d.width, height: d.height };
  const marker = path.join(d.root, 'synth.json');
  if (fs.existsSync(marker)) {
    const have = JSON.parse(fs.readFileSync(marker, 'utf8')) as Record<string, unknown>;
    if (JSON.stringify(have) === JSON.stringify(params)) return;
    throw new Error(
      `datasets.train.synth: ${d.root} was built with ${JSON.stringify(have)}, the config asks for ${JSON.stringify(params)}; ` +
        'delete that folder or point datasets.train.root elsewhere',
    );
  }
  if (fs.existsSync(path.join(d.root, 'train.json'))) return; // a dataset that is not ours: use it as it is
  const from = d.synth.source ? `, textured with the frames of ${d.synth.source}` : '';
  log(`datasets.train.synth: writing ${d.synth.videos} synthetic video(s) of ${d.synth.frames} frames at ${d.width}×${d.height}${from} to ${d.root}`);
  await writeSynthDataset({
    out: d.root, videos: d.synth.videos, frames: d.synth.frames, width: d.width, height: d.height, seed: d.synth.seed,
    format: 'png', floEncoding: 'float32', objects: d.synth.objects, maxSpeed: d.synth.max_speed, source: d.synth.source,
  });
  writeJsonAtomic(marker, params);
}

/** The training set of a config (paths relative to the working directory). */
export function trainDataset(cfg: TrainConfig): TrainDataset {
  const d = cfg.datasets.train;
  return new TrainDataset({
    root: d.root,
    framesDir: d.frames_dir,
    indexFile: d.index ? path.resolve(d.index) : undefined,
    videos: d.videos,
    flowRoot: d.flow_root ? path.resolve(d.flow_root) : undefined,
    loadFlow: d.load_flow,
    numLocalFrames: d.num_local_frames,
    numRefFrames: d.num_ref_frames,
    width: d.width,
    height: d.height,
    seed: cfg.seed,
    flip: d.flip,
    randomReverse: d.random_reverse_clip,
  });
}

/**
 * Samples per batch in this process: train.batch_size is the total batch (as in the official
 * trainers and the guide), split evenly over `worldSize` data-parallel processes.
 */
export function processBatchSize(cfg: TrainConfig, worldSize = 1): number {
  const b = cfg.train.batch_size;
  if (b % worldSize) {
    throw new Error(`train.batch_size: the total batch ${b} does not split evenly over ${worldSize} processes; give a multiple of ${worldSize} (or another number of processes)`);
  }
  return b / worldSize;
}

/** The fixed training masks of `mask_root`; every training video needs a mask folder there. */
function fixedMasks(d: TrainConfig['datasets']['train'], ds: TrainDataset): TestDataset {
  const root = path.resolve(d.mask_root!);
  const missing = ds.videoNames.filter((v) => !fs.existsSync(path.join(root, v)));
  if (missing.length) {
    throw new Error(
      `datasets.train.mask_root: no mask folder ${path.join(root, missing[0])} (${missing.length} of ${ds.videoNames.length} training videos lack one); ` +
        'remove mask_root to train with the official random masks',
    );
  }
  return new TestDataset({ framesDir: ds.framesDir, masksDir: root, width: d.width, height: d.height, dilation: 0, videos: ds.videoNames.slice() });
}

/** Replaces a batch's masks by fixed masks (`<mask_root>/<video>/<i>.png`, no dilation). */
async function applyFixedMasks(b: Batch, masks: TestDataset): Promise<void> {
  const hw = b.H * b.W;
  for (let s = 0; s < b.B; s++) {
    const per = await Promise.all(b.frameIndices[s].map((i) => masks.loadMask(b.names[s], i)));
    per.forEach((m, t) => {
      const base = (s * b.T + t) * hw;
      for (let k = 0; k < hw; k++) b.masks[base + k] = m[k];
    });
  }
}

/**
 * The configured training batches from `start` on (endless epochs); a number = the batches an
 * uninterrupted run would have consumed by then (an official checkpoint holds only its iteration).
 * With `shard`, this process's part of each total batch (positions count total batches, so a
 * run resumes on any number of processes).
 */
export function loaderSource(cfg: TrainConfig, start: DataPosition | number, log: Log = () => {}, shard: Shard = { rank: 0, count: 1 }): BatchSource {
  const d = cfg.datasets.train;
  const ds = trainDataset(cfg);
  // A batch count past the first epoch is fine: the loader carries it into later epochs.
  const from = typeof start === 'number' ? { epoch: 0, batch: start } : start;
  const loader = new DataLoader(ds, {
    batchSize: processBatchSize(cfg, shard.count),
    shard,
    numWorkers: d.num_workers,
    prefetch: d.num_workers > 0 ? d.prefetch : undefined,
    seed: cfg.seed,
    epochs: Infinity,
    startEpoch: from.epoch,
    startBatch: from.batch,
    skipBadSamples: d.skip_bad_samples ? MAX_BAD_SAMPLES_IN_A_ROW : 0,
  });
  const fixed = d.mask_root ? fixedMasks(d, ds) : null;
  const it = loader[Symbol.asyncIterator]();
  let consumed = 0;
  return {
    async next() {
      const r = await it.next();
      if (r.done) throw new Error('training data ended unexpectedly');
      consumed++;
      // Cast: tslab compiles lib/ without strictNullChecks, where `r.done` does not narrow `r`.
      const batch = r.value as Batch;
      for (const why of batch.skipped ?? []) log(`datasets.train.skip_bad_samples: skipped an unreadable sample (${why})`);
      if (fixed) await applyFixedMasks(batch, fixed);
      return batch;
    },
    position() {
      const j = loader.job(consumed);
      return { epoch: j.epoch, batch: j.batch };
    },
    async close() {
      await it.return?.(undefined);
      await loader.close();
    },
  };
}

/** The same batch every step (overfit runs, tests, benchmarks). */
export function fixedSource(batch: Batch): BatchSource {
  let n = 0;
  return {
    async next() {
      n++;
      return batch;
    },
    position: () => ({ epoch: 0, batch: n }),
    async close() {},
  };
}

/**
 * Spatial size [H, W] at `iteration` with progressive resizing (sizes in the config are [W, H]):
 * with a list of grow_steps the size steps up at each listed iteration, in equal steps from
 * start_size to end_size; with a number N it grows linearly over N iterations. Rounded down to
 * a multiple of 8. The configured size without progressive resizing.
 */
export function progressiveSize(cfg: TrainConfig, iteration: number): [number, number] {
  const full: [number, number] = [cfg.datasets.train.height, cfg.datasets.train.width];
  const p = cfg.progressive;
  if (!p) return full;
  const g = p.grow_steps;
  const f = Array.isArray(g) ? g.filter((s) => s <= iteration).length / g.length : Math.min(1, iteration / g);
  const at = (i: 0 | 1) => Math.max(8, Math.floor((p.start_size[i] + f * (p.end_size[i] - p.start_size[i])) / 8) * 8);
  return [at(1), at(0)];
}

/**
 * Batch → tensors at size [h, w]: frames bilinear (half-pixel centres), masks nearest, flows
 * bilinear with dx, dy rescaled. Off the tape (data preparation).
 */
export function batchTensorsAt(b: Batch, size: [number, number]): BatchTensors {
  const t = batchToTensors(b);
  const [h, w] = size;
  if (h === b.H && w === b.W) return t;
  return tf.tidy(() => {
    const clip = (x: tf.Tensor5D, f: (y: tf.Tensor4D) => tf.Tensor4D) => {
      const [bb, n, , , c] = x.shape;
      return tf.reshape(f(tf.reshape(x, [bb * n, b.H, b.W, c])), [bb, n, h, w, c]) as tf.Tensor5D;
    };
    const flow = (x: tf.Tensor5D | null) =>
      x ? clip(x, (y) => tf.mul(tf.image.resizeBilinear(y, [h, w], false, true), tf.tensor1d([w / b.W, h / b.H]))) : null;
    const out: BatchTensors = {
      frames: clip(t.frames, (y) => tf.image.resizeBilinear(y, [h, w], false, true)),
      masks: clip(t.masks, (y) => tf.cast(tf.greater(tf.image.resizeNearestNeighbor(y, [h, w], false, true), 0.5), 'float32') as tf.Tensor4D),
      flowsF: flow(t.flowsF),
      flowsB: flow(t.flowsB),
    };
    tf.dispose([t.frames, t.masks, ...(t.flowsF ? [t.flowsF] : []), ...(t.flowsB ? [t.flowsB] : [])]);
    return out as unknown as tf.TensorContainer;
  }) as unknown as BatchTensors;
}

/** The held-out set (datasets.val): whole videos (first max_frames frames) with their test masks. */
export function valDataset(cfg: TrainConfig): TestDataset | null {
  const v = cfg.datasets.val;
  if (!v) return null;
  const ds = new TestDataset({
    root: v.root,
    width: v.width,
    height: v.height,
    dilation: v.dilation,
    maxFrames: v.max_frames,
    videos: v.videos,
    loadFlow: v.load_flow ?? cfg.datasets.train.load_flow,
    flowRoot: v.flow_root ? path.resolve(v.flow_root) : undefined,
  });
  if (v.max_videos > 0 && ds.videoNames.length > v.max_videos) {
    return new TestDataset({ ...ds.options, videos: ds.videoNames.slice(0, v.max_videos) });
  }
  return ds;
}
