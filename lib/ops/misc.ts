/** torch.roll and MaxPool2d with PyTorch semantics. */
import * as tf from '@tensorflow/tfjs-core';
import { Pair, pair } from './conv';

/**
 * torch.roll(x, shifts, dims): out[i] = x[(i − shift) mod n] along each listed axis (negative
 * axes count from the end). Two slices and a concat per axis; differentiable.
 */
export function roll<T extends tf.Tensor>(x: T, shifts: number[], axes: number[]): T {
  if (shifts.length !== axes.length) throw new Error(`roll: ${shifts.length} shifts for ${axes.length} axes`);
  return tf.tidy(() => {
    let y: tf.Tensor = x;
    shifts.forEach((shift, i) => {
      const a = axes[i] < 0 ? axes[i] + x.rank : axes[i];
      if (a < 0 || a >= x.rank) throw new Error(`roll: axis ${axes[i]} out of range for rank ${x.rank}`);
      const n = x.shape[a];
      const s = ((shift % n) + n) % n;
      if (s === 0) return;
      const begin = new Array(x.rank).fill(0);
      const tailSize = y.shape.slice();
      begin[a] = n - s;
      tailSize[a] = s;
      const headSize = y.shape.slice();
      headSize[a] = n - s;
      y = tf.concat([tf.slice(y, begin, tailSize), tf.slice(y, new Array(x.rank).fill(0), headSize)], a);
    });
    return y === x ? tf.clone(x) : y;
  }) as T;
}

/**
 * nn.MaxPool2d(kernel, stride, padding) on NHWC with PyTorch's −∞ padding (floor mode).
 * Meant for masks: no gradient is provided.
 */
export function maxPool2d(x: tf.Tensor4D, kernel: number | Pair, stride?: number | Pair, padding: number | Pair = 0): tf.Tensor4D {
  const k = pair(kernel);
  const s = pair(stride ?? kernel);
  const [ph, pw] = pair(padding);
  if (ph > k[0] / 2 || pw > k[1] / 2) throw new Error(`maxPool2d: padding ${ph},${pw} exceeds half the kernel ${k}`);
  return tf.tidy(() => {
    const xp = ph > 0 || pw > 0 ? tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], -Infinity) : x;
    return tf.maxPool(xp, k, s, 'valid');
  });
}
