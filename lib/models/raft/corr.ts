/**
 * RAFT's all-pairs correlation pyramid and its windowed bilinear lookup (RAFT/corr.py CorrBlock
 * with RAFT/utils/utils.py bilinear_sampler), forward only: RAFT is frozen.
 *
 * The volume and its pooling run on the backend; the pyramid is then read back once per batch of
 * pairs and the per-iteration lookup (4 levels × 81 bilinear samples per pixel, a few hundred
 * thousand values) is done on the host. That is backend-agnostic and costs a few tens of ms,
 * where the same gather/slice/broadcast graph took ~0.3 s per iteration on wasm and seconds on
 * the cpu backend (strided slices and broadcasting binary ops are slow there).
 */
import * as tf from '@tensorflow/tfjs-core';

export const CORR_LEVELS = 4;
export const CORR_RADIUS = 4;

/**
 * The pyramid of one batch of frame pairs. Level l holds, for every pixel q of image 1
 * (Q = N·h·w of them), the correlation with every pixel of image 2 average-pooled l times by 2
 * (floor sizes): a row-major [Q, h_l, w_l] host array.
 */
export class CorrPyramid {
  readonly levels: Float32Array[] = [];
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
          prev.dispose();
          lh = Math.floor(lh / 2);
          lw = Math.floor(lw / 2);
        }
        this.sizes.push([lh, lw]);
        this.levels.push(level.dataSync() as Float32Array);
      }
    } finally {
      level.dispose();
    }
  }

  /**
   * Samples a (2r+1)² window around `coords` ([N, h, w, 2], x then y, level-0 pixels) at every
   * level: [N, h, w, 324]. Within a level the channel is (ox + r)·(2r+1) + (oy + r) — the
   * x-offset is the slow index ([QUIRK] of the official meshgrid(dy, dx) used as (x, y)).
   * Bilinear with zero padding and align_corners=True pixel coordinates (grid_sample on
   * coords / 2^l + offset). All samples of one query share the fractional offset.
   */
  lookup(coords: tf.Tensor4D, radius = CORR_RADIUS): tf.Tensor4D {
    const { n, h, w } = this;
    return tf.tensor4d(this.lookupHost(coords.dataSync(), radius), [n, h, w, this.levels.length * (2 * radius + 1) ** 2]);
  }

  /** Host form of `lookup`: coords [Q·2] (x, y) → [Q · levels · (2r+1)²]. */
  lookupHost(coords: ArrayLike<number>, radius = CORR_RADIUS): Float32Array {
    const q = this.n * this.h * this.w;
    const k = 2 * radius + 1;
    const win = k + 1;
    const perLevel = k * k;
    const stride = this.levels.length * perLevel;
    const out = new Float32Array(q * stride);
    const g = new Float64Array(win * win); // window [a (x), b (y)]
    const gx = new Float64Array(k * win);
    for (let l = 0; l < this.levels.length; l++) {
      const data = this.levels[l];
      const [lh, lw] = this.sizes[l];
      const scale = 1 / 2 ** l;
      for (let i = 0; i < q; i++) {
        const x = coords[2 * i] * scale;
        const y = coords[2 * i + 1] * scale;
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const fx = x - x0;
        const fy = y - y0;
        const base = i * lh * lw;
        for (let a = 0; a < win; a++) {
          const xi = x0 - radius + a;
          const inX = xi >= 0 && xi < lw;
          for (let b = 0; b < win; b++) {
            const yi = y0 - radius + b;
            g[a * win + b] = inX && yi >= 0 && yi < lh ? data[base + yi * lw + xi] : 0;
          }
        }
        // Blend along x, then y.
        for (let a = 0; a < k; a++) for (let b = 0; b < win; b++) gx[a * win + b] = (1 - fx) * g[a * win + b] + fx * g[(a + 1) * win + b];
        const o = i * stride + l * perLevel;
        for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) out[o + a * k + b] = (1 - fy) * gx[a * win + b] + fy * gx[a * win + b + 1];
      }
    }
    return out;
  }

  /** Releases the host arrays. */
  dispose(): void {
    this.levels.length = 0;
  }
}
