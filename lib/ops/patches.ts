/**
 * nn.Unfold / F.fold and pixel (un)shuffle on NHWC tensors with PyTorch's element orders.
 *
 * unfold/fold are pure data movement, so they are a row gather / scatter-add with a constant
 * index table rather than a one-hot convolution (a 7×7 one-hot filter for 40 channels would cost
 * ~2.8 GMAC per 60×108 frame for 1.4 M moved floats). The image is viewed as rows [H·W + 1, N·C]
 * (pixel-major, batch and channels inside each row, plus one zero row that padding taps point
 * to); the gather produces [L·kh·kw, N·C] in one call. fold is the exact adjoint (overlaps sum,
 * padding taps dropped), and each op's gradient is the other.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Pair, pair } from './conv';
import { TableCache, gatherRows, rowIndex, scatterRows } from './util';

export interface PatchOptions {
  kernel: number | Pair;
  stride?: number | Pair;
  padding?: number | Pair;
}

interface PatchTable {
  fh: number;
  fw: number;
  /** Row (pixel y·W + x, or H·W for padding) of tap k of patch l at l·kh·kw + k. */
  idx: Int32Array;
}

const patchTables = new TableCache<PatchTable>(32);

function patchTable(h: number, w: number, k: Pair, s: Pair, p: Pair): PatchTable {
  return patchTables.get(`${h},${w},${k},${s},${p}`, () => {
    const fh = Math.floor((h + 2 * p[0] - k[0]) / s[0]) + 1;
    const fw = Math.floor((w + 2 * p[1] - k[1]) / s[1]) + 1;
    if (fh <= 0 || fw <= 0) throw new Error(`unfold: ${h}×${w} input too small for kernel ${k[0]}×${k[1]} with padding ${p}`);
    const kk = k[0] * k[1];
    const idx = new Int32Array(fh * fw * kk);
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        for (let a = 0; a < k[0]; a++) {
          for (let b = 0; b < k[1]; b++) {
            const y = i * s[0] - p[0] + a;
            const x = j * s[1] - p[1] + b;
            idx[((i * fw + j) * k[0] + a) * k[1] + b] = y >= 0 && y < h && x >= 0 && x < w ? y * w + x : h * w;
          }
        }
      }
    }
    return { fh, fw, idx };
  });
}

function resolve(opts: PatchOptions): [Pair, Pair, Pair] {
  return [pair(opts.kernel), pair(opts.stride ?? 1), pair(opts.padding ?? 0)];
}

/** Number of patch positions [fh, fw] of unfold on an h×w map. */
export function unfoldGrid(h: number, w: number, opts: PatchOptions): [number, number] {
  const t = patchTable(h, w, ...resolve(opts));
  return [t.fh, t.fw];
}

/**
 * nn.Unfold on NHWC: [N, H, W, C] → [N, L, C·kh·kw], L = fh·fw patches in row-major order,
 * column c·kh·kw + ky·kw + kx = x[n, i·sh − ph + ky, j·sw − pw + kx, c] (0 in the padding).
 */
export function unfold(x: tf.Tensor4D, opts: PatchOptions): tf.Tensor3D {
  const [k, s, p] = resolve(opts);
  const [n, h, w, c] = x.shape;
  const t = patchTable(h, w, k, s, p);
  const kk = k[0] * k[1];
  const l = t.fh * t.fw;
  return tf.tidy(() => {
    const rows = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [h * w, n * c]);
    const table = tf.concat([rows, tf.zeros([1, n * c])], 0) as tf.Tensor2D;
    const g = gatherRows(table, rowIndex(t.idx));
    const cols = tf.transpose(tf.reshape(g, [l, kk, n, c]), [2, 0, 3, 1]);
    return tf.reshape(cols, [n, l, c * kk]) as tf.Tensor3D;
  });
}

/**
 * F.fold on NHWC: [N, L, C·kh·kw] → [N, H, W, C], the exact adjoint of unfold (every column
 * entry is added into its pixel; entries in the padding are dropped; no normalisation).
 */
export function fold(cols: tf.Tensor3D, outputSize: [number, number], opts: PatchOptions): tf.Tensor4D {
  const [k, s, p] = resolve(opts);
  const [h, w] = outputSize;
  const [n, l, ckk] = cols.shape;
  const t = patchTable(h, w, k, s, p);
  const kk = k[0] * k[1];
  if (l !== t.fh * t.fw || ckk % kk !== 0) {
    throw new Error(`fold: columns [${cols.shape}] do not match ${t.fh}×${t.fw} patches of ${k[0]}×${k[1]} for output ${h}×${w}`);
  }
  const c = ckk / kk;
  return tf.tidy(() => {
    const v = tf.reshape(tf.transpose(tf.reshape(cols, [n, l, c, kk]), [1, 3, 0, 2]), [l * kk, n * c]) as tf.Tensor2D;
    const rows = scatterRows(v, rowIndex(t.idx), h * w + 1);
    const img = tf.reshape(tf.slice(rows, [0, 0], [h * w, n * c]), [h, w, n, c]);
    return tf.transpose(img, [2, 0, 1, 3]) as tf.Tensor4D;
  });
}

/** F.pixel_shuffle on NHWC: [N, H, W, C·r²] → [N, H·r, W·r, C], input channel c·r² + i·r + j. */
export function pixelShuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, h, w, cr] = x.shape;
  if (cr % (r * r) !== 0) throw new Error(`pixelShuffle: ${cr} channels not divisible by ${r}²`);
  const c = cr / (r * r);
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, c, r, r]), [0, 1, 4, 2, 5, 3]), [n, h * r, w * r, c]) as tf.Tensor4D);
}

/** F.pixel_unshuffle on NHWC: [N, H·r, W·r, C] → [N, H, W, C·r²] (inverse of pixelShuffle). */
export function pixelUnshuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [n, hr, wr, c] = x.shape;
  if (hr % r !== 0 || wr % r !== 0) throw new Error(`pixelUnshuffle: ${hr}×${wr} not divisible by ${r}`);
  const h = hr / r;
  const w = wr / r;
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n, h, r, w, r, c]), [0, 1, 3, 5, 2, 4]), [n, h, w, c * r * r]) as tf.Tensor4D);
}
