/**
 * Frame-axis helpers for clips [B, T, ...rest] (frames, masks, flows): the one time-slice helper
 * of the project. Slices go through a rank-3 view because rank-5 slices are slow on wasm and
 * poorly supported on the tape.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Frames [t0, t0 + count) of a clip [B, T, ...rest]. */
export function framesRange(x: tf.Tensor, t0: number, count: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, n, ...rest] = x.shape;
    if (t0 === 0 && count === n) return tf.clone(x);
    const inner = rest.reduce((a, v) => a * v, 1);
    return tf.reshape(tf.slice(tf.reshape(x, [b, n, inner]), [0, t0, 0], [b, count, inner]), [b, count, ...rest]);
  });
}

/** Folds the clip axis into the batch: [B, T, ...rest] → [B·T, ...rest] (a view). */
export function flattenClip(x: tf.Tensor): tf.Tensor {
  const [b, t, ...rest] = x.shape;
  return tf.reshape(x, [b * t, ...rest]);
}
