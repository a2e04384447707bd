/**
 * Layers with PyTorch parameter names and shapes, operating on channels-last tensors
 * (NHWC for 2-D, [B, T, H, W, C] for 3-D, [..., features] for Linear/LayerNorm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary, isUnary } from './module';
import { CONV2D, CONV3D, CONV_TRANSPOSE2D, LINEAR } from './layout';
import { Initializer, defaultUniform, ones, zeros } from './init';
import { Pair, PaddingMode, conv2d, conv3d, convTranspose2d, pair } from '../ops/conv';

export interface Conv2dConfig {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
}

export class Conv2d extends Module implements Unary {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;
  readonly paddingMode: PaddingMode;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | Pair, cfg: Conv2dConfig = {}) {
    super();
    this.kernel = pair(kernelSize);
    this.stride = pair(cfg.stride ?? 1);
    this.padding = pair(cfg.padding ?? 0);
    this.dilation = pair(cfg.dilation ?? 1);
    this.groups = cfg.groups ?? 1;
    this.paddingMode = cfg.paddingMode ?? 'zeros';
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(`Conv2d: channels ${inChannels}→${outChannels} not divisible by groups ${this.groups}`);
    }
    const fanIn = (inChannels / this.groups) * this.kernel[0] * this.kernel[1];
    const init = defaultUniform(fanIn);
    this.weight = this.registerParameter('weight', [outChannels, inChannels / this.groups, ...this.kernel], init, CONV2D);
    this.bias = cfg.bias === false ? null : this.registerParameter('bias', [outChannels], init);
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      paddingMode: this.paddingMode,
      bias: this.bias as tf.Tensor1D | null,
    });
  }
}

export class ConvTranspose2d extends Module implements Unary {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Pair,
    readonly cfg: { stride?: number | Pair; padding?: number | Pair; outputPadding?: number | Pair; bias?: boolean } = {},
  ) {
    super();
    const k = pair(kernelSize);
    const init = defaultUniform(outChannels * k[0] * k[1]);
    this.weight = this.registerParameter('weight', [inChannels, outChannels, ...k], init, CONV_TRANSPOSE2D);
    this.bias = cfg.bias === false ? null : this.registerParameter('bias', [outChannels], init);
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return convTranspose2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, {
      stride: this.cfg.stride,
      padding: this.cfg.padding,
      outputPadding: this.cfg.outputPadding,
      bias: this.bias as tf.Tensor1D | null,
    });
  }
}

type Triple = [number, number, number];
const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);

export class Conv3d extends Module implements Unary {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: Triple;
  readonly padding: Triple;
  readonly dilation: Triple;
  readonly paddingMode: PaddingMode;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Triple,
    cfg: { stride?: number | Triple; padding?: number | Triple; dilation?: number | Triple; bias?: boolean; paddingMode?: PaddingMode } = {},
  ) {
    super();
    const k = triple(kernelSize);
    this.stride = triple(cfg.stride ?? 1);
    this.padding = triple(cfg.padding ?? 0);
    this.dilation = triple(cfg.dilation ?? 1);
    this.paddingMode = cfg.paddingMode ?? 'zeros';
    const init = defaultUniform(inChannels * k[0] * k[1] * k[2]);
    this.weight = this.registerParameter('weight', [outChannels, inChannels, ...k], init, CONV3D);
    this.bias = cfg.bias === false ? null : this.registerParameter('bias', [outChannels], init);
  }

  /** x: [B, T, H, W, C]. */
  forward(x: tf.Tensor): tf.Tensor5D {
    return conv3d(x as tf.Tensor5D, this.weight as tf.Tensor5D, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      paddingMode: this.paddingMode,
      bias: this.bias as tf.Tensor1D | null,
    });
  }
}

export class Linear extends Module implements Unary {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, cfg: { bias?: boolean } = {}) {
    super();
    const init = defaultUniform(inFeatures);
    this.weight = this.registerParameter('weight', [outFeatures, inFeatures], init, LINEAR);
    this.bias = cfg.bias === false ? null : this.registerParameter('bias', [outFeatures], init);
  }

  /** x: [..., in] → [..., out]. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
      let y: tf.Tensor = tf.matMul(x2, this.weight as tf.Tensor2D);
      if (this.bias) y = tf.add(y, this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}

/** LayerNorm over the last axis (biased variance, eps inside the sqrt, as PyTorch). */
export class LayerNorm extends Module implements Unary {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;

  constructor(readonly dim: number, readonly eps = 1e-5, affine = true) {
    super();
    this.weight = affine ? this.registerParameter('weight', [dim], ones) : null;
    this.bias = affine ? this.registerParameter('bias', [dim], zeros) : null;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
      if (this.weight) y = tf.add(tf.mul(y, this.weight), this.bias!);
      return y;
    });
  }
}

/** GroupNorm on channels-last input [B, ..., C]. */
export class GroupNorm extends Module implements Unary {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5, affine = true) {
    super();
    if (numChannels % numGroups !== 0) throw new Error(`GroupNorm: ${numChannels} channels not divisible by ${numGroups} groups`);
    this.weight = affine ? this.registerParameter('weight', [numChannels], ones) : null;
    this.bias = affine ? this.registerParameter('bias', [numChannels], zeros) : null;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b = x.shape[0];
      const g = this.numGroups;
      const xg = tf.reshape(x, [b, -1, g, this.numChannels / g]);
      const { mean, variance } = tf.moments(xg, [1, 3], true);
      let y = tf.reshape(tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, this.eps))), x.shape);
      if (this.weight) y = tf.add(tf.mul(y, this.weight), this.bias!);
      return y;
    });
  }
}

/** InstanceNorm2d without affine parameters or running stats (RAFT's feature encoder). */
export class InstanceNorm2d extends Module implements Unary {
  constructor(readonly numFeatures: number, readonly eps = 1e-5) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // tf.moments(x, [1, 2], true)'s variance, with x − mean computed once for it and the output.
      const d = tf.sub(x, tf.mean(x, [1, 2], true));
      const variance = tf.mean(tf.square(d), [1, 2], true);
      return tf.mul(d, tf.rsqrt(tf.add(variance, this.eps)));
    });
  }
}

/**
 * BatchNorm over all axes but the last (BatchNorm2d on NHWC, BatchNorm3d on [B,T,H,W,C]).
 * Training mode normalises with batch statistics and updates running stats (unbiased variance),
 * as PyTorch does; eval mode uses the running stats.
 */
export class BatchNorm extends Module implements Unary {
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly numBatchesTracked: tf.Variable;

  constructor(readonly numFeatures: number, readonly eps = 1e-5, readonly momentum = 0.1, affine = true) {
    super();
    this.weight = affine ? this.registerParameter('weight', [numFeatures], ones) : null;
    this.bias = affine ? this.registerParameter('bias', [numFeatures], zeros) : null;
    this.runningMean = this.registerBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', tf.ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', tf.scalar(0, 'int32'), { torchDtype: 'int64' });
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (this.training) {
        const m = tf.moments(x, axes);
        mean = m.mean;
        variance = m.variance;
        const n = x.size / this.numFeatures;
        const unbiased = tf.mul(variance, n / Math.max(n - 1, 1));
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - this.momentum), tf.mul(mean, this.momentum)));
        this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - this.momentum), tf.mul(unbiased, this.momentum)));
        this.numBatchesTracked.assign(tf.add(this.numBatchesTracked, tf.scalar(1, 'int32')));
      } else {
        mean = this.runningMean;
        variance = this.runningVar;
      }
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
      if (this.weight) y = tf.add(tf.mul(y, this.weight), this.bias!);
      return y;
    });
  }
}

export class LeakyReLU extends Module implements Unary {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, this.negativeSlope);
  }
}

export class ReLU extends Module implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
}

/** Exact (erf) GELU, as torch.nn.GELU(). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

export class GELU extends Module implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return gelu(x);
  }
}

export class Sigmoid extends Module implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.sigmoid(x);
  }
}

export class Tanh extends Module implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tanh(x);
  }
}

export class Identity extends Module implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return x;
  }
}

/** Children named '0', '1', … like nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: M): M {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    return this.items[i];
  }
}

/** Children named by the caller, in insertion order, like nn.ModuleDict. */
export class ModuleDict<M extends Module = Module> extends Module {
  private readonly items = new Map<string, M>();

  set(name: string, m: M): M {
    this.registerModule(name, m);
    this.items.set(name, m);
    return m;
  }

  get(name: string): M {
    const m = this.items.get(name);
    if (!m) throw new Error(`ModuleDict: no child "${name}"`);
    return m;
  }
}

/** Children named '0', '1', … applied in order, like nn.Sequential. */
export class Sequential extends ModuleList implements Unary {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = x;
      for (const m of this.items) {
        if (!isUnary(m)) throw new Error(`Sequential: child ${m.constructor.name} has no forward(x)`);
        y = m.forward(y);
      }
      return y;
    });
  }
}

export type { Initializer };
