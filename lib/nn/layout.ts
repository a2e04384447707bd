/**
 * Weight layouts: how a parameter stored in TF.js layout maps to its PyTorch state-dict form.
 * Conversion happens here and only here (on load and on stateDict()).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface ParamLayout {
  readonly name: string;
  /** PyTorch shape of a tensor with this TF.js shape. */
  torchShape(tfShape: readonly number[]): number[];
  /** TF.js shape of a tensor with this PyTorch shape. */
  tfShape(torchShape: readonly number[]): number[];
  fromTorch(x: tf.Tensor): tf.Tensor;
  toTorch(x: tf.Tensor): tf.Tensor;
}

/** A layout where TF.js = transpose(PyTorch, perm). */
export function permuteLayout(name: string, perm: readonly number[]): ParamLayout {
  const inv: number[] = [];
  perm.forEach((p, i) => (inv[p] = i));
  return {
    name,
    torchShape: (s) => inv.map((i) => s[i]),
    tfShape: (s) => perm.map((p) => s[p]),
    fromTorch: (x) => tf.transpose(x, perm as number[]),
    toTorch: (x) => tf.transpose(x, inv),
  };
}

export const IDENTITY: ParamLayout = {
  name: 'identity',
  torchShape: (s) => [...s],
  tfShape: (s) => [...s],
  fromTorch: (x) => x.clone(),
  toTorch: (x) => x.clone(),
};

/** Conv2d weight (O, I/g, kh, kw) ↔ tf.conv2d filter [kh, kw, I/g, O]. */
export const CONV2D = permuteLayout('conv2d', [2, 3, 1, 0]);
/** ConvTranspose2d weight (I, O/g, kh, kw) ↔ tf.conv2dTranspose filter [kh, kw, O, I]. */
export const CONV_TRANSPOSE2D = permuteLayout('conv_transpose2d', [2, 3, 1, 0]);
/** Conv3d weight (O, I, kt, kh, kw) ↔ [kt, kh, kw, I, O]. */
export const CONV3D = permuteLayout('conv3d', [2, 3, 4, 1, 0]);
/** Linear weight (out, in) ↔ [in, out] so that y = x · W. */
export const LINEAR = permuteLayout('linear', [1, 0]);
/** Depthwise conv weight (C, 1, kh, kw) ↔ tf.depthwiseConv2d filter [kh, kw, C, 1]. */
export const DEPTHWISE2D = permuteLayout('depthwise2d', [2, 3, 0, 1]);

/**
 * A layout where the PyTorch tensor is first viewed as `torchView` (same element order) and then
 * permuted: e.g. SoftSplit's Linear (512, 6272) is a conv filter (512, 128, 7, 7) → [7, 7, 128, 512].
 */
export function viewPermuteLayout(name: string, torchShape: readonly number[], torchView: readonly number[], perm: readonly number[]): ParamLayout {
  const p = permuteLayout(name, perm);
  const viewTf = p.tfShape(torchView);
  return {
    name,
    torchShape: () => [...torchShape],
    tfShape: () => viewTf,
    fromTorch: (x) => tf.tidy(() => p.fromTorch(tf.reshape(x, torchView as number[]))),
    toTorch: (x) => tf.tidy(() => tf.reshape(p.toTorch(x), torchShape as number[])),
  };
}
