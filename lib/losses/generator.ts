/**
 * ProPainter generator/discriminator losses (core/trainer.py, core/loss.py), channels-last.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LPIPS } from '../models/lpips';
import { IMAGENET_MEAN, IMAGENET_STD } from '../models/vgg';

/** nn.L1Loss (mean over every element) of a·m vs b·m, divided by mean(m). */
export function maskedL1(pred: tf.Tensor, gt: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.mean(tf.abs(tf.mul(tf.sub(pred, gt), mask))), tf.mean(mask)) as tf.Scalar);
}

/** Hole L1: mean absolute error inside the hole (mask = 1), channels counted. */
export function holeLoss(pred: tf.Tensor, gt: tf.Tensor, masks: tf.Tensor): tf.Scalar {
  return maskedL1(pred, gt, masks);
}

/** Valid L1: mean absolute error outside the hole. */
export function validLoss(pred: tf.Tensor, gt: tf.Tensor, masks: tf.Tensor): tf.Scalar {
  return tf.tidy(() => maskedL1(pred, gt, tf.sub(1, masks)));
}

export type GanType = 'hinge' | 'nsgan' | 'lsgan';

/**
 * AdversarialLoss(type)(outputs, isReal, isDisc) of core/loss.py. hinge: D real → mean(relu(1−o)),
 * D fake → mean(relu(1+o)), G → −mean(o). nsgan: BCE of the (sigmoid) outputs against 1/0.
 * lsgan: MSE against 1/0.
 */
export function adversarialLoss(type: GanType, outputs: tf.Tensor, isReal: boolean, isDisc: boolean): tf.Scalar {
  return tf.tidy(() => {
    if (type === 'hinge') {
      if (isDisc) return tf.mean(tf.relu(tf.add(1, isReal ? tf.neg(outputs) : outputs))) as tf.Scalar;
      return tf.neg(tf.mean(outputs)) as tf.Scalar;
    }
    const label = isReal ? 1 : 0;
    if (type === 'lsgan') return tf.mean(tf.square(tf.sub(outputs, label))) as tf.Scalar;
    // nn.BCELoss clamps log at −100.
    const logp = tf.maximum(tf.log(outputs), -100);
    const log1p = tf.maximum(tf.log(tf.sub(1, outputs)), -100);
    return tf.neg(tf.mean(tf.add(tf.mul(label, logp), tf.mul(1 - label, log1p)))) as tf.Scalar;
  });
}

/** Gram matrix F·Fᵀ / (C·H·W) of NHWC features → [N, C, C]. */
export function gramMatrix(x: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const f = tf.reshape(x, [n, h * w, c]) as tf.Tensor3D;
    return tf.div(tf.matMul(f, f, true, false), c * h * w) as tf.Tensor3D;
  });
}

/** Feature maps by layer name, NHWC (e.g. from the VGG19 extractor). */
export type FeatureMaps = Record<string, tf.Tensor4D>;

export interface PerceptualOptions {
  layerWeights: Record<string, number>;
  perceptualWeight?: number;
  styleWeight?: number;
  criterion?: 'l1' | 'mse' | 'fro';
}

/**
 * PerceptualLoss of core/loss.py given features of x and gt: Σ_k w_k·crit(Fx_k, Fgt_k) times
 * perceptual_weight, and the Gram-matrix style term times style_weight (null when a weight is 0).
 */
export function perceptualLoss(fx: FeatureMaps, fgt: FeatureMaps, opts: PerceptualOptions): { perceptual: tf.Scalar | null; style: tf.Scalar | null } {
  const crit = opts.criterion ?? 'l1';
  const dist = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
    crit === 'l1' ? (tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar)
      : crit === 'mse' ? (tf.mean(tf.square(tf.sub(a, b))) as tf.Scalar)
        : (tf.sqrt(tf.sum(tf.square(tf.sub(a, b)))) as tf.Scalar);
  const pw = opts.perceptualWeight ?? 1;
  const sw = opts.styleWeight ?? 0;
  const perceptual = pw > 0
    ? tf.tidy(() => tf.mul(tf.addN(Object.entries(opts.layerWeights).map(([k, w]) => tf.mul(dist(fx[k], fgt[k]), w))), pw) as tf.Scalar)
    : null;
  const style = sw > 0
    ? tf.tidy(() => tf.mul(tf.addN(Object.entries(opts.layerWeights).map(([k, w]) => tf.mul(dist(gramMatrix(fx[k]), gramMatrix(fgt[k])), w))), sw) as tf.Scalar)
    : null;
  return { perceptual, style };
}

/**
 * LPIPSLoss of core/loss.py (what the official trainer's perceptual_weight switches on): inputs
 * [N, H, W, 3] in [-1, 1] mapped to [0, 1] and ImageNet-normalised, then handed to LPIPS, which
 * scales them again (the official double normalisation, kept); mean distance over the batch.
 */
export function lpipsLoss(lpips: LPIPS, pred: tf.Tensor4D, gt: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const norm = (x: tf.Tensor4D) => tf.div(tf.sub(tf.div(tf.add(x, 1), 2), [...IMAGENET_MEAN]), [...IMAGENET_STD]) as tf.Tensor4D;
    return tf.mean(lpips.forward(norm(gt), norm(pred))) as tf.Scalar;
  });
}
