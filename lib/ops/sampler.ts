/**
 * Bilinear / nearest point sampling from a zero-ringed image, shared by gridSample, flowWarp and
 * deformConv2d. The image is padded with a one-pixel zero ring and flattened to rows; corner
 * coordinates are clipped to [-1, W] × [-1, H], so every out-of-range corner reads a ring zero
 * and no validity masks are needed. Rows are fetched with gatherND (fast on wasm, unlike
 * GatherV2) and gradients are scattered back with scatterND (present on every backend).
 * Everything here runs inside customGrad forward/backward functions, off the tape.
 */
import * as tf from '@tensorflow/tfjs-core';
// The fused sampleCorners a backend may register (the wasm pack does).
import { BILINEAR_GATHER } from '../runtime/wasm-sampling';

/** Largest integer a float32 holds exactly: row indices below it are computed in float. */
const EXACT_FLOAT_INT = 1 << 24;

/** Geometry of a ringed image flattened to rows (row = base + (y+1)·rowStride + (x+1)·colStride). */
// Type aliases (not interfaces) so plans can be returned from tf.tidy as tensor containers.
export type RingGeometry = {
  /** Unpadded image height and width. */
  H: number;
  W: number;
  rowStride: number;
  colStride: number;
  /** Total number of rows of the flattened ringed image. */
  rows: number;
  /** Per-sample first row (batch / group offset), broadcastable to the coordinates; null = 0. */
  base: tf.Tensor | null;
};

export type BilinearPlan = {
  /** Row indices [K, 1] int32 of the corners (x0,y0), (x1,y0), (x0,y1), (x1,y1). */
  idx: tf.Tensor2D[];
  /** Fractional parts [K]. */
  fx: tf.Tensor1D;
  fy: tf.Tensor1D;
};

/**
 * Row offset of clipped coordinate c along an axis: (clip(c, −1, size) + 1)·stride. NaN
 * coordinates (e.g. from NaN flows) go to the ring too: a NaN cast to int32 would address
 * memory out of range on wasm.
 */
function axisPart(c: tf.Tensor, size: number, stride: number): tf.Tensor {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(c, -1, size);
    const safe = tf.where(tf.isNaN(clipped), tf.fill(clipped.shape, -1), clipped);
    return tf.mul(tf.add(safe, 1), stride);
  });
}

/** Row index [K, 1] from the column part, the row part and the geometry's base. */
function rowIndex(xPart: tf.Tensor, yPart: tf.Tensor, g: RingGeometry): tf.Tensor2D {
  return tf.tidy(() => {
    const local = tf.add(yPart, xPart);
    let idx: tf.Tensor;
    if (g.rows < EXACT_FLOAT_INT) {
      idx = tf.cast(g.base ? tf.add(local, g.base) : local, 'int32');
    } else {
      // Large batches: add the (exact) integer base after the cast.
      idx = tf.cast(local, 'int32');
      if (g.base) idx = tf.add(idx, tf.cast(g.base, 'int32'));
    }
    return tf.reshape(idx, [-1, 1]) as tf.Tensor2D;
  });
}

/** Corner rows and fractions for sample points (px, py) in pixel coordinates (any shape). */
export function bilinearPlan(px: tf.Tensor, py: tf.Tensor, g: RingGeometry): BilinearPlan {
  return tf.tidy(() => {
    const x0 = tf.floor(px);
    const y0 = tf.floor(py);
    const fx = tf.reshape(tf.sub(px, x0), [-1]) as tf.Tensor1D;
    const fy = tf.reshape(tf.sub(py, y0), [-1]) as tf.Tensor1D;
    const xa = axisPart(x0, g.W, g.colStride);
    const xb = axisPart(tf.add(x0, 1), g.W, g.colStride);
    x0.dispose();
    const ya = axisPart(y0, g.H, g.rowStride);
    const yb = axisPart(tf.add(y0, 1), g.H, g.rowStride);
    y0.dispose();
    const idx = [rowIndex(xa, ya, g), rowIndex(xb, ya, g), rowIndex(xa, yb, g), rowIndex(xb, yb, g)];
    return { idx, fx, fy };
  });
}

/** Row indices [K, 1] of the nearest pixel (round half to even, as std::nearbyint). */
export function nearestPlan(px: tf.Tensor, py: tf.Tensor, g: RingGeometry): tf.Tensor2D {
  return tf.tidy(() => rowIndex(axisPart(tf.round(px), g.W, g.colStride), axisPart(tf.round(py), g.H, g.rowStride), g));
}

/** Corner weights [K, 1] in plan order, optionally multiplied by a modulation m [K]. */
export function bilinearWeights(plan: BilinearPlan, m?: tf.Tensor1D): tf.Tensor2D[] {
  return tf.tidy(() => {
    const gx = tf.sub(1, plan.fx);
    const gy = tf.sub(1, plan.fy);
    const ws = [tf.mul(gx, gy), tf.mul(plan.fx, gy), tf.mul(gx, plan.fy), tf.mul(plan.fx, plan.fy)];
    return ws.map((w) => tf.reshape(m ? tf.mul(w, m) : w, [-1, 1]) as tf.Tensor2D);
  });
}

/**
 * Σ_i w_i · flat[idx_i] → [K, C], gathering one corner at a time so that at most one gathered
 * corner is alive besides the running sum.
 */
export function sampleCorners(flat: tf.Tensor2D, plan: BilinearPlan, weights: tf.Tensor2D[]): tf.Tensor2D {
  // A backend may supply the whole sum as one kernel (the wasm pack does); same values.
  if (tf.getKernel(BILINEAR_GATHER, tf.getBackend())) {
    const [i0, i1, i2, i3] = plan.idx;
    const [w0, w1, w2, w3] = weights;
    return tf.engine().runKernel(BILINEAR_GATHER, { flat, i0, i1, i2, i3, w0, w1, w2, w3 }) as tf.Tensor2D;
  }
  let acc: tf.Tensor2D | null = null;
  for (let i = 0; i < 4; i++) {
    const prev: tf.Tensor2D | null = acc;
    acc = tf.tidy(() => {
      const term = tf.mul(tf.gatherND(flat, plan.idx[i]), weights[i]) as tf.Tensor2D;
      return prev ? (tf.add(prev, term) as tf.Tensor2D) : term;
    });
    if (prev) prev.dispose();
  }
  return acc!;
}

/**
 * Backward of sampleCorners for an output gradient d [K, C]: the image-row gradient
 * Σ_i scatter(idx_i, w_i·d) → [rows, C] and e_i = Σ_c d·flat[idx_i] → [K] (for the coordinate
 * and modulation gradients). One corner at a time. With `cols`, also rebuilds Σ_i w_i·v_i.
 */
export function sampleCornersBackward(
  d: tf.Tensor2D,
  flat: tf.Tensor2D,
  plan: BilinearPlan,
  weights: tf.Tensor2D[],
  rows: number,
  withCols = false,
): { dflat: tf.Tensor2D; e: tf.Tensor1D[]; cols: tf.Tensor2D | null } {
  const c = d.shape[1];
  let cols: tf.Tensor2D | null = null;
  let dflat: tf.Tensor2D | null = null;
  const e: tf.Tensor1D[] = [];
  for (let i = 0; i < 4; i++) {
    const [pc, pf] = [cols, dflat] as [tf.Tensor2D | null, tf.Tensor2D | null];
    const w = weights[i];
    const v = tf.gatherND(flat, plan.idx[i]) as tf.Tensor2D;
    e.push(tf.tidy(() => tf.sum(tf.mul(d, v), -1) as tf.Tensor1D));
    if (withCols) cols = tf.tidy(() => (pc ? tf.add(pc, tf.mul(v, w)) : tf.mul(v, w)) as tf.Tensor2D);
    v.dispose();
    dflat = tf.tidy(() => {
      const sc = tf.scatterND(plan.idx[i], tf.mul(d, w), [rows, c]) as tf.Tensor2D;
      return (pf ? tf.add(pf, sc) : sc) as tf.Tensor2D;
    });
    tf.dispose([pc, pf].filter((t): t is tf.Tensor2D => t !== null));
  }
  return { dflat: dflat!, e, cols };
}

/**
 * Gradients of Σ d·(bilinear sample) w.r.t. the sample coordinates from e_i = Σ_c d·v_i:
 * ∂/∂x = (1−fy)(e01−e00) + fy(e11−e10); ∂/∂y = (1−fx)(e10−e00) + fx(e11−e01).
 */
export function coordinateGradsFromE(e: tf.Tensor1D[], plan: BilinearPlan): { dx: tf.Tensor1D; dy: tf.Tensor1D } {
  const [e00, e01, e10, e11] = e;
  const { fx, fy } = plan;
  const dx = tf.add(tf.mul(tf.sub(1, fy), tf.sub(e01, e00)), tf.mul(fy, tf.sub(e11, e10))) as tf.Tensor1D;
  const dy = tf.add(tf.mul(tf.sub(1, fx), tf.sub(e10, e00)), tf.mul(fx, tf.sub(e11, e01))) as tf.Tensor1D;
  return { dx, dy };
}

/** NHWC image → zero-ringed rows [N·(H+2)·(W+2)·G, C/G] (G contiguous channel groups). */
export function ringRows(img: tf.Tensor4D, groups = 1): tf.Tensor2D {
  const [n, h, w, c] = img.shape;
  const p = tf.pad(img, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  return tf.reshape(p, [n * (h + 2) * (w + 2) * groups, c / groups]) as tf.Tensor2D;
}

/** Inverse of ringRows for gradients: rows → NHWC without the ring. */
export function unringRows(rows: tf.Tensor2D, shape: [number, number, number, number]): tf.Tensor4D {
  const [n, h, w, c] = shape;
  const p = tf.reshape(rows, [n, h + 2, w + 2, c]);
  return tf.slice(p, [0, 1, 1, 0], [n, h, w, c]) as tf.Tensor4D;
}
