/** Batch → TF.js tensors (channels-last). The caller owns (and disposes) the tensors. */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from './sample';

export interface BatchTensors {
  /** [B,T,H,W,3] float32 in [-1,1]. */
  frames: tf.Tensor5D;
  /** [B,T,H,W,1] float32 in {0,1}, 1 = hole. */
  masks: tf.Tensor5D;
  /** [B,L−1,H,W,2] float32 (dx, dy), or null when flows were not loaded. */
  flowsF: tf.Tensor5D | null;
  flowsB: tf.Tensor5D | null;
}

export function batchToTensors(b: Batch): BatchTensors {
  return {
    frames: tf.tensor5d(b.frames, b.framesShape, 'float32'),
    masks: tf.tensor5d(b.masks, b.masksShape, 'float32'),
    flowsF: b.flowsF && b.flowsShape ? tf.tensor5d(b.flowsF, b.flowsShape, 'float32') : null,
    flowsB: b.flowsB && b.flowsShape ? tf.tensor5d(b.flowsB, b.flowsShape, 'float32') : null,
  };
}

export function disposeBatchTensors(t: BatchTensors): void {
  tf.dispose([t.frames, t.masks, ...(t.flowsF ? [t.flowsF] : []), ...(t.flowsB ? [t.flowsB] : [])]);
}
