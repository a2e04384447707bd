/**
 * RAFT's all-pairs correlation pyramid and its windowed bilinear lookup (RAFT/corr.py CorrBlock
 * with RAFT/utils/utils.py bilinear_sampler), forward only: RAFT is frozen.
 *
 * The volume and its pooling run on the backend. The per-iteration lookup (4 levels × 81 bilinear
 * samples per pixel, a few hundred thousand values) is one `RaftCorrLookup` kernel where the
 * backend has it (the wasm pack: the pyramid stays on the heap); elsewhere the pyramid is read
 * back once per batch of pairs and the lookup runs on the host (corrLookupHost, same values).
 * Either way it costs a few ms per iteration, where the same gather/slice/broadcast graph took
 * ~0.3 s per iteration on wasm and seconds on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RAFT_CORR_LOOKUP, corrLookupHost } from '../../runtime/corr-lookup';

export const CORR_LEVELS = 4;
export const CORR_RADIUS = 4;

/** True when the backend has the lookup kernel: pyramids then stay in its memory (wasm: the heap). */
export function pyramidOnBackend(): boolean {
  return tf.getKernel(RAFT_CORR_LOOKUP, tf.getBackend()) !== undefined;
}

/**
 * The pyramid of one batch of frame pairs. Level l holds, for every pixel q of image 1
 * (Q = N·h·w of them), the correlation with every pixel of image 2 average-pooled l times by 2
 * (floor sizes): row-major [Q, h_l, w_l], kept as backend tensors for the lookup kernel or as
 * host arrays.
 */
export class CorrPyramid {
  private readonly levels: Float32Array[] = [];
  private readonly tensors: tf.Tensor[] = [];
  readonly sizes: Array<[number, number]> = [];
  readonly n: number;
  readonly h: number;
  readonly w: number;

  /** fmap1, fmap2: [N, h, w, C] (image 1, image 2 features). */
  constructor(fmap1: tf.Tensor4D, fmap2: tf.Tensor4D) {
    const [n, h, w, c] = fmap1.shape;
    this.n = n;
    this.h = h;
    this.w = w;
    const onBackend = pyramidOnBackend();
    let level = tf.tidy(() => {
      const a = tf.reshape(fmap1, [n, h * w, c]) as tf.Tensor3D;
      const b = tf.reshape(fmap2, [n, h * w, c]) as tf.Tensor3D;
      // <f1(i), f2(j)> / sqrt(C): sqrt(256) = 16, the official float division.
      const corr = tf.div(tf.matMul(a, b, false, true), Math.sqrt(c));
      return tf.reshape(corr, [n * h * w, h, w, 1]) as tf.Tensor4D;
    });
    try {
      let lh = h;
      let lw = w;
      for (let l = 0; l < CORR_LEVELS; l++) {
        if (l > 0) {
          const prev = level;
          level = tf.avgPool(prev, 2, 2, 'valid');
          if (!onBackend) prev.dispose();
          lh = Math.floor(lh / 2);
          lw = Math.floor(lw / 2);
        }
        this.sizes.push([lh, lw]);
        if (onBackend) this.tensors.push(level);
        else this.levels.push(level.dataSync() as Float32Array);
      }
    } catch (e) {
      if (!this.tensors.includes(level)) level.dispose();
      this.dispose();
      throw e;
    }
    if (!onBackend) level.dispose();
  }

  /**
   * Samples a (2r+1)² window around `coords` ([N, h, w, 2], x then y, level-0 pixels) at every
   * level: [N, h, w, 324] (channel order: corrLookupHost).
   */
  lookup(coords: tf.Tensor4D, radius = CORR_RADIUS): tf.Tensor4D {
    const { n, h, w } = this;
    if (this.tensors.length > 0) {
      const inputs: Record<string, tf.Tensor> = { coords };
      this.tensors.forEach((t, l) => (inputs[`level${l}`] = t));
      return tf.engine().runKernel(RAFT_CORR_LOOKUP, inputs, { radius }) as tf.Tensor4D;
    }
    const out = corrLookupHost(this.levels, this.sizes, n * h * w, coords.dataSync(), radius);
    return tf.tensor4d(out, [n, h, w, this.levels.length * (2 * radius + 1) ** 2]);
  }

  /** Releases the levels. */
  dispose(): void {
    this.levels.length = 0;
    tf.dispose(this.tensors);
    this.tensors.length = 0;
  }
}
