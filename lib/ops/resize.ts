/**
 * F.interpolate (bilinear with either align_corners, and 'nearest') on NHWC tensors with
 * gradients written here: tfjs' ResizeBilinearGrad ignores halfPixelCenters (and on cpu swaps H
 * and W for non-square inputs), and ResizeNearestNeighborGrad is wrong on cpu for some shapes.
 * The backward pass is the exact adjoint of the separable interpolation: per axis, a row
 * scatter-add of the output gradient with the interpolation weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TableCache } from './util';

/** Per-axis interpolation table: out[o] = (1 − lam[o])·in[i0[o]] + lam[o]·in[i1[o]]. */
interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  lam: Float32Array;
}

const f32 = Math.fround;
const tables = new TableCache<AxisTable>(64);

/** ATen upsample_bilinear2d source indices (area_pixel_compute_source_index, float arithmetic). */
function bilinearTable(inSize: number, outSize: number, alignCorners: boolean): AxisTable {
  return tables.get(`b${inSize},${outSize},${alignCorners}`, () => {
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const lam = new Float32Array(outSize);
    const scale = alignCorners ? (outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0) : f32(inSize / outSize);
    for (let o = 0; o < outSize; o++) {
      let src = alignCorners ? f32(scale * o) : f32(f32(scale * f32(o + 0.5)) - 0.5);
      if (src < 0) src = 0;
      const lo = Math.min(Math.floor(src), inSize - 1);
      i0[o] = lo;
      i1[o] = lo < inSize - 1 ? lo + 1 : lo;
      lam[o] = f32(src - lo);
    }
    return { i0, i1, lam };
  });
}

/** ATen nearest_idx: floor(dst · (in/out)) in float, with its exact-size and ×2 shortcuts. */
function nearestTable(inSize: number, outSize: number): AxisTable {
  return tables.get(`n${inSize},${outSize}`, () => {
    const i0 = new Int32Array(outSize);
    const scale = f32(inSize / outSize);
    for (let o = 0; o < outSize; o++) {
      if (outSize === inSize) i0[o] = o;
      else if (outSize === 2 * inSize) i0[o] = o >> 1;
      else i0[o] = Math.min(Math.floor(f32(f32(o) * scale)), inSize - 1);
    }
    return { i0, i1: i0, lam: new Float32Array(outSize) };
  });
}

function inverse(perm: number[]): number[] {
  const inv: number[] = [];
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * Adjoint of one axis' interpolation: dy has `outSize` along `axis` (1 = H, 2 = W of NHWC);
 * returns the gradient with `inSize` there. Moves the axis outermost, scatter-adds the weighted
 * rows, moves it back.
 */
function axisAdjoint(dy: tf.Tensor4D, axis: 1 | 2, inSize: number, t: AxisTable, linear: boolean): tf.Tensor4D {
  const perm = axis === 1 ? [1, 0, 2, 3] : [2, 0, 1, 3];
  const moved = tf.transpose(dy, perm);
  const outSize = moved.shape[0];
  const rest = moved.shape.slice(1);
  const rows = tf.reshape(moved, [outSize, -1]) as tf.Tensor2D;
  const m = rows.shape[1];
  let acc: tf.Tensor;
  if (linear) {
    const lam = tf.tensor2d(t.lam, [outSize, 1]);
    const idx = tf.tensor2d(Int32Array.from([...t.i0, ...t.i1]), [2 * outSize, 1], 'int32');
    const vals = tf.concat([tf.mul(rows, tf.sub(1, lam)), tf.mul(rows, lam)], 0);
    acc = tf.scatterND(idx, vals, [inSize, m]);
  } else {
    acc = tf.scatterND(tf.tensor2d(t.i0, [outSize, 1], 'int32'), rows, [inSize, m]);
  }
  const back: tf.Tensor = tf.reshape(acc, [inSize, ...rest]);
  return tf.transpose(back, inverse(perm)) as tf.Tensor4D;
}

/** One axis' forward interpolation by row gathers (used where tfjs' resize differs from ATen). */
function axisForward(x: tf.Tensor4D, axis: 1 | 2, t: AxisTable, linear: boolean): tf.Tensor4D {
  const perm = axis === 1 ? [1, 0, 2, 3] : [2, 0, 1, 3];
  const moved = tf.transpose(x, perm);
  const rest = moved.shape.slice(1);
  const rows = tf.reshape(moved, [moved.shape[0], -1]) as tf.Tensor2D;
  const outSize = t.i0.length;
  let y: tf.Tensor = tf.gatherND(rows, tf.tensor2d(t.i0, [outSize, 1], 'int32'));
  if (linear) {
    const lam = tf.tensor2d(t.lam, [outSize, 1]);
    const y1 = tf.gatherND(rows, tf.tensor2d(t.i1, [outSize, 1], 'int32'));
    y = tf.add(tf.mul(y, tf.sub(1, lam)), tf.mul(y1, lam));
  }
  const back: tf.Tensor = tf.reshape(y, [outSize, ...rest]);
  return tf.transpose(back, inverse(perm)) as tf.Tensor4D;
}

function checkSize(what: string, x: tf.Tensor4D, size: readonly number[]): [number, number] {
  if (x.rank !== 4) throw new Error(`${what}: expected an NHWC tensor, got rank ${x.rank}`);
  const [oh, ow] = size;
  if (!(Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0)) throw new Error(`${what}: invalid size [${size}]`);
  return [oh, ow];
}

/**
 * F.interpolate(x, size, mode='bilinear', align_corners) on NHWC (no antialiasing).
 * align_corners=True: src = dst·(in−1)/(out−1); False: src = max((dst+0.5)·in/out − 0.5, 0).
 * Correct gradients in both modes on every backend.
 */
export function interpolateBilinear(x: tf.Tensor4D, size: [number, number], opts: { alignCorners: boolean }): tf.Tensor4D {
  const [oh, ow] = checkSize('interpolateBilinear', x, size);
  const [, h, w] = x.shape;
  const ac = opts.alignCorners;
  if (oh === h && ow === w) return tf.clone(x);
  const th = bilinearTable(h, oh, ac);
  const tw = bilinearTable(w, ow, ac);
  const op = tf.customGrad(((xi: tf.Tensor4D, _save: tf.GradSaveFunc) => ({
    value: tf.image.resizeBilinear(xi, [oh, ow], ac, !ac),
    gradFunc: (dy: tf.Tensor4D) => {
      let d = dy;
      if (oh !== h) d = axisAdjoint(d, 1, h, th, true);
      if (ow !== w) d = axisAdjoint(d, 2, w, tw, true);
      return d;
    },
  })) as any) as (xi: tf.Tensor4D) => tf.Tensor4D;
  return op(x);
}

/**
 * F.interpolate(x, size, mode='nearest') on NHWC: src = min(floor(dst·in/out), in−1) computed in
 * float32 as ATen does. Differentiable (gradient = scatter-add).
 */
export function interpolateNearest(x: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  const [oh, ow] = checkSize('interpolateNearest', x, size);
  const [, h, w] = x.shape;
  if (oh === h && ow === w) return tf.clone(x);
  const th = nearestTable(h, oh);
  const tw = nearestTable(w, ow);
  const op = tf.customGrad(((xi: tf.Tensor4D, _save: tf.GradSaveFunc) => ({
    value: tf.tidy(() => {
      // Integer-factor downsampling (ProPainter's mask → 1/4) is a strided pick: reshape + slice.
      if (h % oh === 0 && w % ow === 0 && oh < h && ow < w) {
        const [n, , , c] = xi.shape;
        const r = tf.reshape(xi, [n, oh, h / oh, ow, w / ow, c]);
        return tf.reshape(tf.slice(r, [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]), [n, oh, ow, c]) as tf.Tensor4D;
      }
      let y = xi;
      if (oh !== h) y = axisForward(y, 1, th, false);
      if (ow !== w) y = axisForward(y, 2, tw, false);
      return y;
    }),
    gradFunc: (dy: tf.Tensor4D) => {
      let d = dy;
      if (oh !== h) d = axisAdjoint(d, 1, h, th, false);
      if (ow !== w) d = axisAdjoint(d, 2, w, tw, false);
      return d;
    },
  })) as any) as (xi: tf.Tensor4D) => tf.Tensor4D;
  return op(x);
}
