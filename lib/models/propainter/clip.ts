/**
 * Clip-level inference helper: one generator call of the official inference wiring
 * (inference_propainter.py §13.3 step 5), in eval mode and off the tape.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { InpaintGenerator } from './generator';
import { framesRange } from '../../ops/frames';
import type { WarpMode } from './propagation';

export interface InpaintClipInput {
  /** Image-propagated frames [B, T, H, W, 3] in [-1, 1]: the numLocal local frames first, then references. */
  frames: tf.Tensor;
  /**
   * Completed flows between the local frames, [B, ≥ numLocal-1, H, W, 2] each (dx, dy px);
   * only the first numLocal-1 are used (the official call passes exactly those).
   */
  flows: readonly [tf.Tensor, tf.Tensor] | { forward: tf.Tensor; backward: tf.Tensor };
  /** Original (dilated) masks [B, T, H, W, 1], 1 = hole. */
  masksIn: tf.Tensor;
  /** Masks after image propagation [B, T, H, W, 1]. */
  masksUpdated: tf.Tensor;
  numLocal: number;
  interpolation?: WarpMode;
  tDilation?: number;
}

/**
 * Runs the generator in eval mode on one clip and returns the predicted local frames
 * [B, numLocal, H, W, 3] in (-1, 1). The model's train/eval mode is restored afterwards; no
 * gradients are recorded and no intermediate tensors survive the call.
 */
export function inpaintClip(model: { forward: InpaintGenerator['forward']; training: boolean; train(): unknown; eval(): unknown }, input: InpaintClipInput): tf.Tensor5D {
  const { frames, masksIn, masksUpdated, numLocal } = input;
  const [fwd, bwd] = Array.isArray(input.flows)
    ? (input.flows as readonly [tf.Tensor, tf.Tensor])
    : [(input.flows as { forward: tf.Tensor }).forward, (input.flows as { backward: tf.Tensor }).backward];
  for (const [name, f] of [['forward', fwd], ['backward', bwd]] as const) {
    if (f.rank !== 5 || f.shape[1]! < numLocal - 1) {
      throw new Error(`inpaintClip: ${name} flows [${f.shape}] must be [B, ≥ ${numLocal - 1}, H, W, 2]`);
    }
  }
  const wasTraining = model.training;
  model.eval();
  try {
    return tf.tidy(() => {
      const take = (f: tf.Tensor) => (f.shape[1] === numLocal - 1 ? f : framesRange(f, 0, numLocal - 1));
      return model.forward(frames, [take(fwd), take(bwd)], masksIn, masksUpdated, numLocal, {
        interpolation: input.interpolation,
        tDilation: input.tDilation,
      });
    });
  } finally {
    if (wasTraining) model.train();
  }
}
