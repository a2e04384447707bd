/**
 * RAFT (large, as ProPainter uses it: 4 correlation levels, radius 4, hidden/context 128) and the
 * RAFT_bi wrapper, channels-last, forward only. RAFT is frozen in ProPainter: fp32, eval-mode
 * BatchNorm, no gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { BasicEncoder } from './extractor';
import { BasicUpdateBlock, type GruContext } from './update';
import { CorrPyramid, pyramidOnBackend } from './corr';
import { loadPretrained } from '../weights';

export const RAFT_DEFAULT_ITERS = 20;
/** Official default path of the pretrained checkpoint (model/modules/flow_comp_raft.py). */
export const DEFAULT_RAFT_WEIGHTS = 'weights/raft-things.pth';
/**
 * Smallest height/width the official RAFT handles: below 128 px the coarsest correlation level
 * (1/8 resolution pooled 3 times) is 1 pixel high or wide, and its bilinear sampler divides by
 * (size − 1) = 0, so the official flows are all NaN. We refuse such inputs instead.
 */
export const RAFT_MIN_SIZE = 128; // = 8 · 2^(CORR_LEVELS − 1) · 2: the coarsest level keeps ≥ 2 pixels

/** Throws unless H and W are multiples of 8 and at least RAFT_MIN_SIZE. */
export function checkRaftSize(h: number, w: number): void {
  if (h % 8 !== 0 || w % 8 !== 0) {
    throw new Error(`RAFT: frame size ${h}x${w} (HxW) is not a multiple of 8; resize frames to multiples of 8 first (RAFT works on a 1/8 grid and is not padded)`);
  }
  if (h < RAFT_MIN_SIZE || w < RAFT_MIN_SIZE) {
    throw new Error(
      `RAFT: frame size ${h}x${w} (HxW) is below the ${RAFT_MIN_SIZE}-pixel minimum for height and width: ` +
        `the coarsest correlation level would be 1 pixel wide and the official RAFT returns NaN flows there`,
    );
  }
}

/** Pixel-coordinate grid [n, h, w, 2]: channel 0 = x (column), 1 = y (row). */
export function coordsGrid(n: number, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => {
    // tf.reshape rather than chained ops: tslab type-checks notebook imports without their augmentation.
    const xs = tf.tile(tf.reshape(tf.range(0, w, 1, 'float32'), [1, w, 1]), [h, 1, 1]);
    const ys = tf.tile(tf.reshape(tf.range(0, h, 1, 'float32'), [h, 1, 1]), [1, w, 1]);
    const g = tf.reshape(tf.concat([xs, ys], 2), [1, h, w, 2]);
    return (n === 1 ? g : tf.tile(g, [n, 1, 1, 1])) as tf.Tensor4D;
  });
}

/**
 * Convex ×8 upsampling: flow [N,h,w,2] (1/8-res pixels), mask [N,h,w,576] with channel
 * k·64 + a·8 + b (k = dy·3 + dx over the 3×3 neighbourhood, (a, b) the sub-pixel) →
 * [N, 8h, 8w, 2], a softmax-weighted combination of the 3×3 neighbours of 8·flow (zero padded).
 */
export function upsampleFlow(flow: tf.Tensor4D, mask: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w] = flow.shape;
    const p = n * h * w;
    const m = tf.softmax(tf.transpose(tf.reshape(mask, [p, 9, 64]), [0, 2, 1])); // [p, 64, 9]
    const f8 = tf.pad(tf.mul(flow, 8), [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const taps: tf.Tensor[] = [];
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) taps.push(tf.slice(f8, [0, dy, dx, 0], [n, h, w, 2]));
    const nb = tf.reshape(tf.stack(taps, 3), [p, 9, 2]);
    const up = tf.matMul(m, nb); // [p, 64 (a·8 + b), 2]
    return tf.depthToSpace(tf.reshape(up, [n, h, w, 128]) as tf.Tensor4D, 8) as tf.Tensor4D;
  });
}

/** Intermediates of batch element 0 (the first pair, forward direction), for parity checks. */
export interface RaftDebug {
  fmap1?: tf.Tensor4D;
  fmap2?: tf.Tensor4D;
  /** Raw context-encoder output (before the tanh / relu split). */
  cnet?: tf.Tensor4D;
  corrLookupIter0?: tf.Tensor4D;
  /** Final low-resolution flow. */
  flowLowres?: tf.Tensor4D;
  /** Upsampled predictions of the first `predictions` iterations. */
  flowPredictions?: tf.Tensor4D[];
  flowUp?: tf.Tensor4D;
  /** How many per-iteration upsampled predictions to keep (default 3). */
  predictions?: number;
}

export interface RaftOptions {
  /** Refinement iterations (default 20, as every ProPainter script uses). */
  iters?: number;
}

export interface RaftBiOptions extends RaftOptions {
  /** Frame pairs per batch (both directions run together); default from a memory budget. */
  pairChunk?: number;
  /** Collects first-pair intermediates (tensors owned by the caller). */
  debug?: RaftDebug;
  /** Called after each chunk with (pairs done, total pairs). */
  onProgress?: (done: number, total: number) => void;
}

function keep0(t: tf.Tensor): tf.Tensor4D {
  return tf.keep(tf.slice(t, [0, 0, 0, 0], [1, -1, -1, -1])) as tf.Tensor4D;
}

export class RAFT extends Module {
  readonly hiddenDim = 128;
  readonly contextDim = 128;
  readonly fnet: BasicEncoder;
  readonly cnet: BasicEncoder;
  readonly update_block: BasicUpdateBlock;

  constructor() {
    super();
    this.fnet = this.registerModule('fnet', new BasicEncoder(256, 'instance'));
    this.cnet = this.registerModule('cnet', new BasicEncoder(this.hiddenDim + this.contextDim, 'batch'));
    this.update_block = this.registerModule('update_block', new BasicUpdateBlock());
    // Frozen: eval-mode BatchNorm, no trainable variables.
    this.eval();
    this.requiresGrad(false);
  }

  /** Feature maps [N, H/8, W/8, 256] of images [N, H, W, 3] in [-1, 1]. */
  features(images: tf.Tensor4D): tf.Tensor4D {
    return this.fnet.forward(images);
  }

  /** Raw context features [N, H/8, W/8, 256] (split into net = tanh(first 128), inp = relu(last 128)). */
  context(images: tf.Tensor4D): tf.Tensor4D {
    return this.cnet.forward(images);
  }

  /**
   * The iterative part of RAFT.forward for precomputed features: fmap1/fmap2 [N,h,w,256], raw
   * context `ctx` [N,h,w,256] of image 1. Returns the final low-res flow and the ×8 upsampled flow
   * of the last iteration (test_mode=True outputs).
   */
  refine(fmap1: tf.Tensor4D, fmap2: tf.Tensor4D, ctx: tf.Tensor4D, opts: RaftOptions & { debug?: RaftDebug } = {}): { flowLow: tf.Tensor4D; flowUp: tf.Tensor4D } {
    const iters = opts.iters ?? RAFT_DEFAULT_ITERS;
    if (!Number.isInteger(iters) || iters < 1) throw new Error(`RAFT: iters must be a positive integer, got ${iters}`);
    const dbg = opts.debug;
    const nPred = dbg ? dbg.predictions ?? 3 : 0;
    const [n, h, w] = fmap1.shape;
    const pyramid = new CorrPyramid(fmap1, fmap2);
    const coords0 = coordsGrid(n, h, w);
    const { net: net0, inp } = tf.tidy(() => ({
      net: tf.tanh(tf.slice(ctx, [0, 0, 0, 0], [-1, -1, -1, this.hiddenDim])) as tf.Tensor4D,
      inp: tf.relu(tf.slice(ctx, [0, 0, 0, this.hiddenDim], [-1, -1, -1, this.contextDim])) as tf.Tensor4D,
    }));
    let net = net0;
    let coords1 = coords0.clone();
    let gruContext: GruContext | null = null;
    try {
      gruContext = this.update_block.gru.prepare(inp);
      if (dbg) dbg.flowPredictions = [];
      for (let it = 0; it < iters; it++) {
        const next = tf.tidy(() => {
          const corr = pyramid.lookup(coords1);
          if (dbg && it === 0) dbg.corrLookupIter0 = keep0(corr);
          const flow = tf.sub(coords1, coords0) as tf.Tensor4D;
          const r = this.update_block.forward(net, inp, corr, flow, gruContext!);
          const c1 = tf.add(coords1, r.delta) as tf.Tensor4D;
          if (dbg && it < nPred) {
            const up = upsampleFlow(tf.sub(c1, coords0) as tf.Tensor4D, this.update_block.upMask(r.net));
            dbg.flowPredictions!.push(keep0(up));
          }
          return { net: r.net, coords1: c1 };
        });
        net.dispose();
        coords1.dispose();
        net = next.net;
        coords1 = next.coords1;
      }
      return tf.tidy(() => {
        const flowLow = tf.sub(coords1, coords0) as tf.Tensor4D;
        const flowUp = upsampleFlow(flowLow, this.update_block.upMask(net));
        if (dbg) {
          dbg.flowLowres = keep0(flowLow);
          dbg.flowUp = keep0(flowUp);
        }
        return { flowLow, flowUp };
      });
    } finally {
      gruContext?.dispose();
      pyramid.dispose();
      coords0.dispose();
      coords1.dispose();
      net.dispose();
      inp.dispose();
    }
  }

  /**
   * RAFT(image1, image2, iters, test_mode=True): images [N, H, W, 3] in [-1, 1] (H, W multiples
   * of 8, ≥ 128) → { flowLow [N, H/8, W/8, 2], flowUp [N, H, W, 2] } (pixels, x then y).
   */
  forward(image1: tf.Tensor4D, image2: tf.Tensor4D, opts: RaftOptions = {}): { flowLow: tf.Tensor4D; flowUp: tf.Tensor4D } {
    const [, h, w] = image1.shape;
    checkRaftSize(h, w);
    const f1 = this.features(image1);
    const f2 = this.features(image2);
    const ctx = this.context(image1);
    try {
      return this.refine(f1, f2, ctx, opts);
    } finally {
      f1.dispose();
      f2.dispose();
      ctx.dispose();
    }
  }
}

/**
 * Budget for the correlation pyramids of one chunk (floats): 32 M = 128 MB held on the host, or
 * 16 M = 64 MB where they stay in the backend's memory for its lookup kernel (wasm: at 240×432
 * that is 2 pairs instead of 4, and the RAFT stage's heap high-water mark 426 MiB instead of
 * 511 MiB with the host pyramids and 613 MiB with 4 pairs on the heap; same results, the chunk
 * does not change them).
 */
const CORR_BUDGET = { host: 32 * 1024 * 1024, backend: 16 * 1024 * 1024 };

/** Default pairs per chunk for H×W frames: both directions' pyramids within CORR_BUDGET, 1..12. */
export function defaultPairChunk(h: number, w: number): number {
  const q = (h / 8) * (w / 8);
  const perPair = 2 * q * q * (4 / 3);
  const budget = pyramidOnBackend() ? CORR_BUDGET.backend : CORR_BUDGET.host;
  return Math.max(1, Math.min(12, Math.floor(budget / perPair)));
}

/**
 * RAFT_bi: frames [B, L, H, W, 3] in [-1, 1] → forward flows (frame k → k+1, on frame k's grid)
 * and backward flows (k+1 → k, on frame k+1's grid), each [B, L-1, H, W, 2], from the last
 * iteration's upsampled flow. Pairs are processed in chunks (both directions batched together);
 * each frame's features are computed once per chunk and shared by both directions, which is
 * numerically the same as the official per-direction calls (instance norm is per sample and
 * BatchNorm is in eval mode).
 */
export function raftBi(model: RAFT, frames: tf.Tensor, opts: RaftBiOptions = {}): { forward: tf.Tensor5D; backward: tf.Tensor5D } {
  if (frames.rank !== 5 || frames.shape[4] !== 3) {
    throw new Error(`raftBi: frames must be [B, L, H, W, 3], got [${frames.shape.join(', ')}]`);
  }
  const [b, l, h, w] = frames.shape as [number, number, number, number, number];
  if (l < 2) throw new Error(`raftBi: need at least 2 frames, got ${l}`);
  checkRaftSize(h, w);
  const chunk = opts.pairChunk ?? defaultPairChunk(h, w);
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`raftBi: pairChunk must be a positive integer, got ${chunk}`);
  const total = b * (l - 1);
  const fwd: tf.Tensor4D[] = [];
  const bwd: tf.Tensor4D[] = [];
  let done = 0;
  try {
    for (let bi = 0; bi < b; bi++) {
      for (let k0 = 0; k0 < l - 1; k0 += chunk) {
        const c = Math.min(chunk, l - 1 - k0);
        const debug = bi === 0 && k0 === 0 ? opts.debug : undefined;
        const out = tf.tidy(() => {
          const imgs = tf.reshape(tf.slice(frames, [bi, k0, 0, 0, 0], [1, c + 1, h, w, 3]), [c + 1, h, w, 3]) as tf.Tensor4D;
          const feat = model.features(imgs);
          const ctx = model.context(imgs);
          const first = (t: tf.Tensor4D) => tf.slice(t, [0, 0, 0, 0], [c, -1, -1, -1]);
          const rest = (t: tf.Tensor4D) => tf.slice(t, [1, 0, 0, 0], [c, -1, -1, -1]);
          // Batch = [forward pairs (k, k+1) …, backward pairs (k+1, k) …].
          const fmap1 = tf.concat([first(feat), rest(feat)], 0) as tf.Tensor4D;
          const fmap2 = tf.concat([rest(feat), first(feat)], 0) as tf.Tensor4D;
          const cctx = tf.concat([first(ctx), rest(ctx)], 0) as tf.Tensor4D;
          if (debug) {
            debug.fmap1 = keep0(fmap1);
            debug.fmap2 = keep0(fmap2);
            debug.cnet = keep0(cctx);
          }
          const { flowUp } = model.refine(fmap1, fmap2, cctx, { iters: opts.iters, debug });
          return {
            f: tf.slice(flowUp, [0, 0, 0, 0], [c, -1, -1, -1]) as tf.Tensor4D,
            b: tf.slice(flowUp, [c, 0, 0, 0], [c, -1, -1, -1]) as tf.Tensor4D,
          };
        });
        fwd.push(out.f);
        bwd.push(out.b);
        done += c;
        opts.onProgress?.(done, total);
      }
    }
    return tf.tidy(() => ({
      forward: tf.reshape(fwd.length === 1 ? fwd[0] : tf.concat(fwd, 0), [b, l - 1, h, w, 2]) as tf.Tensor5D,
      backward: tf.reshape(bwd.length === 1 ? bwd[0] : tf.concat(bwd, 0), [b, l - 1, h, w, 2]) as tf.Tensor5D,
    }));
  } finally {
    for (const t of [...fwd, ...bwd]) t.dispose();
  }
}

/**
 * A RAFT with the weights of `file`: the official raft-things.pth (zip or legacy .pth, with or
 * without the DataParallel `module.` prefix, read by lib/io/checkpoint) or one of our
 * safetensors files. Pretrained weights are user-supplied; nothing is ever downloaded.
 */
export function loadRaft(file: string = DEFAULT_RAFT_WEIGHTS): RAFT {
  return loadPretrained(() => new RAFT(), file, 'RAFT', 'raft-things.pth from the official ProPainter release');
}
