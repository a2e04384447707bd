/**
 * grid_sample / flow_warp with PyTorch semantics on NHWC tensors, differentiable w.r.t. the
 * image and the sampling coordinates on every backend (the samplers are customGrads with
 * hand-written backward passes; see sampler.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  RingGeometry,
  bilinearPlan,
  bilinearWeights,
  coordinateGradsFromE,
  nearestPlan,
  ringRows,
  sampleCorners,
  sampleCornersBackward,
  unringRows,
} from './sampler';
import { noGrad } from './util';

/** Ringed rows of an [N, H, W, C] image: sample n starts at row n·(H+2)·(W+2). */
function sampleGeometry(n: number, h: number, w: number): RingGeometry {
  const plane = (h + 2) * (w + 2);
  const base = n > 1 ? tf.reshape(tf.mul(tf.range(0, n, 1, 'float32'), plane), [n, 1]) : null;
  return { H: h, W: w, rowStride: w + 2, colStride: 1, rows: n * plane, base };
}

function checkPoints(what: string, img: tf.Tensor4D, px: tf.Tensor2D, py: tf.Tensor2D): void {
  const [n] = img.shape;
  if (px.rank !== 2 || py.rank !== 2 || px.shape[0] !== n || py.shape[0] !== n || px.shape[1] !== py.shape[1]) {
    throw new Error(`${what}: px and py must both be [${n}, P]; got [${px.shape}] and [${py.shape}]`);
  }
}

/**
 * Bilinear sampling with zero padding at pixel coordinates: out[n, p, :] = img[n] at
 * (x = px[n, p], y = py[n, p]), origin at the centre of the top-left pixel; corners outside the
 * image contribute 0. Gradients w.r.t. img, px and py.
 */
export function bilinearSample(img: tf.Tensor4D, px: tf.Tensor2D, py: tf.Tensor2D): tf.Tensor3D {
  checkPoints('bilinearSample', img, px, py);
  const [n, h, w, c] = img.shape;
  const p = px.shape[1];
  const op = tf.customGrad(((im: tf.Tensor4D, x: tf.Tensor2D, y: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([im, x, y]);
    const g = sampleGeometry(n, h, w);
    const plan = bilinearPlan(x, y, g);
    const value = tf.reshape(sampleCorners(ringRows(im), plan, bilinearWeights(plan)), [n, p, c]);
    return {
      value,
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [ims, xs, ys] = saved as [tf.Tensor4D, tf.Tensor2D, tf.Tensor2D];
        const gg = sampleGeometry(n, h, w);
        const pl = bilinearPlan(xs, ys, gg);
        const d = tf.reshape(dy, [n * p, c]) as tf.Tensor2D;
        const { dflat, e } = sampleCornersBackward(d, ringRows(ims), pl, bilinearWeights(pl), gg.rows);
        const dimg = unringRows(dflat, [n, h, w, c]);
        const cg = coordinateGradsFromE(e, pl);
        return [dimg, tf.reshape(cg.dx, [n, p]), tf.reshape(cg.dy, [n, p])];
      },
    };
  }) as any) as (im: tf.Tensor4D, x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor3D;
  return op(img, px, py);
}

/**
 * Nearest-neighbour sampling (round half to even, zero padding) at pixel coordinates.
 * Gradient w.r.t. img is the scatter-add; w.r.t. the coordinates it is 0 (as PyTorch).
 */
export function nearestSample(img: tf.Tensor4D, px: tf.Tensor2D, py: tf.Tensor2D): tf.Tensor3D {
  checkPoints('nearestSample', img, px, py);
  const [n, h, w, c] = img.shape;
  const p = px.shape[1];
  const op = tf.customGrad(((im: tf.Tensor4D, x: tf.Tensor2D, y: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([x, y]);
    const g = sampleGeometry(n, h, w);
    const value = tf.reshape(tf.gatherND(ringRows(im), nearestPlan(x, y, g)), [n, p, c]);
    return {
      value,
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        const gg = sampleGeometry(n, h, w);
        const rows = tf.scatterND(nearestPlan(xs, ys, gg), tf.reshape(dy, [n * p, c]), [gg.rows, c]) as tf.Tensor2D;
        return [unringRows(rows, [n, h, w, c]), tf.zerosLike(xs), tf.zerosLike(ys)];
      },
    };
  }) as any) as (im: tf.Tensor4D, x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor3D;
  return op(img, px, py);
}

export type SampleMode = 'bilinear' | 'nearest';
export type GridPaddingMode = 'zeros' | 'border' | 'reflection';

export interface GridSampleOptions {
  mode?: SampleMode;
  paddingMode?: GridPaddingMode;
  alignCorners?: boolean;
}

/** [N, ..., 2] → the two last-axis components as [N, P] (transpose first: no innermost slicing). */
function splitPairs(t: tf.Tensor, n: number): [tf.Tensor2D, tf.Tensor2D] {
  const p = t.size / (2 * n);
  const tt = tf.transpose(tf.reshape(t, [n * p, 2]));
  const a = tf.reshape(tf.slice(tt, [0, 0], [1, -1]), [n, p]) as tf.Tensor2D;
  const b = tf.reshape(tf.slice(tt, [1, 0], [1, -1]), [n, p]) as tf.Tensor2D;
  return [a, b];
}

/** Clip to [0, size−1] (gradient 0 outside, as clip_coordinates). */
function clipCoordinates(x: tf.Tensor, size: number): tf.Tensor {
  return tf.clipByValue(x, 0, size - 1);
}

/**
 * PyTorch reflect_coordinates on [twiceLow/2, twiceHigh/2], written with floor (zero gradient)
 * instead of comparisons so the reflected coordinate stays differentiable: the parity of the
 * number of flips selects extra + min or span − extra + min.
 */
function reflectCoordinates(x: tf.Tensor, twiceLow: number, twiceHigh: number): tf.Tensor {
  if (twiceLow === twiceHigh) return tf.zerosLike(x);
  const min = twiceLow / 2;
  const span = (twiceHigh - twiceLow) / 2;
  const a = tf.abs(tf.sub(x, min));
  const flips = tf.floor(tf.div(a, span));
  const extra = tf.sub(a, tf.mul(flips, span));
  const odd = tf.sub(flips, tf.mul(tf.floor(tf.div(flips, 2)), 2));
  return tf.add(tf.add(extra, min), tf.mul(odd, tf.sub(span, tf.mul(extra, 2))));
}

/** grid_sampler_compute_source_index: unnormalise then apply the padding mode. */
function sourceIndex(g: tf.Tensor, size: number, padding: GridPaddingMode, alignCorners: boolean): tf.Tensor {
  // Same arithmetic as ATen's vectorised CPU sampler (ComputeLocationBase::unnormalize).
  let x = alignCorners ? tf.mul(tf.add(g, 1), (size - 1) / 2) : tf.sub(tf.mul(tf.add(g, 1), size / 2), 0.5);
  if (padding === 'border') {
    x = clipCoordinates(x, size);
  } else if (padding === 'reflection') {
    x = alignCorners ? reflectCoordinates(x, 0, 2 * (size - 1)) : reflectCoordinates(x, -1, 2 * size - 1);
    x = clipCoordinates(x, size);
  }
  return x;
}

/**
 * torch.nn.functional.grid_sample on NHWC input [N, H, W, C] with grid [N, Ho, Wo, 2] holding
 * normalised (x, y) in [−1, 1] → [N, Ho, Wo, C]. Bilinear or nearest (round half to even);
 * zeros, border or reflection padding; align_corners either way (default false, as PyTorch).
 * Gradients w.r.t. input and grid (nearest: grid gradient 0).
 */
export function gridSample(input: tf.Tensor4D, grid: tf.Tensor4D, opts: GridSampleOptions = {}): tf.Tensor4D {
  const mode = opts.mode ?? 'bilinear';
  const padding = opts.paddingMode ?? 'zeros';
  const ac = opts.alignCorners ?? false;
  const [n, h, w, c] = input.shape;
  if (grid.rank !== 4 || grid.shape[0] !== n || grid.shape[3] !== 2) {
    throw new Error(`gridSample: grid must be [${n}, Ho, Wo, 2], got [${grid.shape}]`);
  }
  const [, ho, wo] = grid.shape;
  return tf.tidy(() => {
    const [gx, gy] = splitPairs(grid, n);
    const px = sourceIndex(gx, w, padding, ac) as tf.Tensor2D;
    const py = sourceIndex(gy, h, padding, ac) as tf.Tensor2D;
    const out = mode === 'nearest' ? nearestSample(input, px, py) : bilinearSample(input, px, py);
    return tf.reshape(out, [n, ho, wo, c]) as tf.Tensor4D;
  });
}

export interface FlowWarpOptions {
  mode?: SampleMode;
  paddingMode?: 'zeros' | 'border';
}

/** Pixel-centre coordinate grids [1, H·W] (x = column, y = row). */
function pixelGrid(h: number, w: number): [tf.Tensor2D, tf.Tensor2D] {
  const xs = new Float32Array(h * w);
  const ys = new Float32Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      xs[i * w + j] = j;
      ys[i * w + j] = i;
    }
  }
  return [tf.tensor2d(xs, [1, h * w]), tf.tensor2d(ys, [1, h * w])];
}

/**
 * The official flow_warp(x, flow) (grid_sample with align_corners=True): out(p) = x(p + flow(p))
 * for x [N, H, W, C] and flow [N, H, W, 2] (dx, dy in pixels). Gradients w.r.t. x and flow.
 * The coordinates go through the same normalise/unnormalise float arithmetic as the reference,
 * so nearest-mode ties resolve identically.
 */
export function flowWarp(x: tf.Tensor4D, flow: tf.Tensor4D, opts: FlowWarpOptions = {}): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (flow.rank !== 4 || flow.shape[0] !== n || flow.shape[1] !== h || flow.shape[2] !== w || flow.shape[3] !== 2) {
    throw new Error(`flowWarp: flow must be [${n}, ${h}, ${w}, 2] to match x [${x.shape}], got [${flow.shape}]`);
  }
  const padding = opts.paddingMode ?? 'zeros';
  return tf.tidy(() => {
    const [dx, dy] = splitPairs(flow, n);
    const [gxs, gys] = pixelGrid(h, w);
    // 2·(grid + flow)/max(size−1, 1) − 1, then ATen's (g + 1)·(size−1)/2.
    const norm = (v: tf.Tensor, size: number) => tf.sub(tf.div(tf.mul(v, 2), Math.max(size - 1, 1)), 1);
    const gx = norm(tf.add(gxs, dx), w);
    const gy = norm(tf.add(gys, dy), h);
    const px = sourceIndex(gx, w, padding, true) as tf.Tensor2D;
    const py = sourceIndex(gy, h, padding, true) as tf.Tensor2D;
    const out = opts.mode === 'nearest' ? nearestSample(x, px, py) : bilinearSample(x, px, py);
    return tf.reshape(out, [n, h, w, c]) as tf.Tensor4D;
  });
}

/**
 * Forward–backward consistency (model/propainter.py fbConsistencyCheck): 1 where
 * |fw + warp(bw, fw)|² < alpha1·(|fw|² + |warp(bw, fw)|²) + alpha2 (strict), else 0, as
 * [N, H, W, 1]. Computed inside a zero-gradient node: the comparison never reaches the tape.
 */
export function fbConsistencyCheck(flowFw: tf.Tensor4D, flowBw: tf.Tensor4D, alpha1 = 0.01, alpha2 = 0.5): tf.Tensor4D {
  return tf.tidy(() =>
    noGrad(
      (fw, bw) => {
        const bwW = flowWarp(bw as tf.Tensor4D, fw as tf.Tensor4D);
        const lsq = (t: tf.Tensor) => tf.sum(tf.square(t), -1, true);
        const diff = lsq(tf.add(fw, bwW));
        const thresh = tf.add(tf.mul(tf.add(lsq(fw), lsq(bwW)), alpha1), alpha2);
        return tf.cast(tf.less(diff, thresh), 'float32') as tf.Tensor4D;
      },
      flowFw,
      flowBw,
    ),
  );
}
