/**
 * Per-frame stages over a clip in chunks of whole frames, so their peak memory is bounded at any
 * clip length; in training each chunk can be a checkpointed segment (runtime/checkpoint.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from './module';
import { checkpoint, checkpointing } from '../runtime/checkpoint';

/**
 * Working-set budget (float elements) of one chunk of frames: as many whole frames at a time as
 * keep the stage's largest activation within it (≈ 64 MB).
 */
export const CHUNK_ELEMENTS = 16 * 2 ** 20;

/**
 * Maps `fn` over matching chunks of the leading (frame) axis of `xs` (one tensor or several with
 * the same leading size), with at most `budget` / `elementsPerFrame` frames per chunk,
 * concatenating the results; each chunk runs in its own tidy.
 */
export function mapFrameChunks(
  xs: tf.Tensor | tf.Tensor[],
  fn: (...chunks: tf.Tensor[]) => tf.Tensor,
  elementsPerFrame: number,
  budget = CHUNK_ELEMENTS,
): tf.Tensor {
  const inputs = Array.isArray(xs) ? xs : [xs];
  const n = inputs[0].shape[0]!;
  const per = Math.max(1, Math.floor(budget / Math.max(1, elementsPerFrame)));
  // One piece goes in whole: tf.split into a single piece breaks TF.js backprop.
  if (n <= per) return tf.tidy(() => fn(...inputs));
  const sizes: number[] = [];
  for (let i = 0; i < n; i += per) sizes.push(Math.min(per, n - i));
  const parts = inputs.map((x) => tf.split(x, sizes, 0));
  const outs = sizes.map((_, k) => {
    const y = tf.tidy(() => fn(...parts.map((p) => p[k])));
    parts.forEach((p) => p[k].dispose());
    return y;
  });
  const y = tf.concat(outs, 0);
  outs.forEach((o) => o.dispose());
  return y;
}

/**
 * mapFrameChunks for training: each chunk is a checkpointed segment over the parameters of
 * `modules`, so its intermediates are recomputed in the backward instead of kept. `fn` must read
 * no tensors but its arguments and those parameters. Off the tape it is mapFrameChunks.
 */
export function checkpointFrameChunks(
  xs: tf.Tensor | tf.Tensor[],
  modules: Module | Module[],
  fn: (...chunks: tf.Tensor[]) => tf.Tensor,
  elementsPerFrame: number,
): tf.Tensor {
  if (!checkpointing()) return mapFrameChunks(xs, fn, elementsPerFrame);
  const params = (Array.isArray(modules) ? modules : [modules]).flatMap((m) => m.parameters());
  // A segment's backward holds several times its activations: smaller chunks than inference.
  return mapFrameChunks(xs, (...c) => checkpoint(fn, c, params), elementsPerFrame, CHUNK_ELEMENTS / 8);
}
