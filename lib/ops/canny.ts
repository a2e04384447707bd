/**
 * Canny edges as in ProPainter's kornia-derived model/canny (spec §9.3), NHWC, forward only:
 * reflect-padded separable Gaussian (horizontal, then vertical), replicate-padded unnormalised
 * Sobel, magnitude sqrt(gx² + gy² + eps), angle rounded to multiples of 45° (half to even),
 * non-maximum suppression with the 8 directional difference kernels, double threshold and
 * hysteresis iterated to its fixed point. Evaluated inside a zero-gradient node, so it may be
 * called on tensors that are on a tape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Pair, pair, replicatePad2d } from './conv';
import { noGrad } from './util';

export interface CannyOptions {
  low?: number;
  high?: number;
  kernelSize?: number | Pair;
  sigma?: number | Pair;
  hysteresis?: boolean;
  eps?: number;
}

// A type alias (not an interface) so that it is a tf.TensorContainer (tf.tidy can return it).
export type CannyResult = {
  /** Gradient magnitude after non-maximum suppression, [N, H, W, 1]. */
  magnitude: tf.Tensor4D;
  /** {0, 1} edges after hysteresis (or {0, 0.5, 1} without hysteresis), [N, H, W, 1]. */
  edges: tf.Tensor4D;
};

const f32 = Math.fround;

/** kornia get_gaussian_kernel1d in float32 arithmetic. */
export function gaussianKernel1d(size: number, sigma: number): Float32Array {
  const g = new Float32Array(size);
  const denom = f32(2 * f32(sigma * sigma));
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = f32(i - Math.floor(size / 2) + (size % 2 === 0 ? 0.5 : 0));
    g[i] = f32(Math.exp(f32(-f32(x * x) / denom)));
  }
  for (let i = 0; i < size; i++) sum = f32(sum + g[i]);
  for (let i = 0; i < size; i++) g[i] = f32(g[i] / sum);
  return g;
}

/** Positions (row, col) of the −1 tap of kornia's 8 NMS kernels (right, down-right, … up-right). */
const NMS_NEIGHBOURS: Array<[number, number]> = [[1, 2], [2, 2], [2, 1], [2, 0], [1, 0], [0, 0], [0, 1], [0, 2]];

function nmsFilter(): tf.Tensor4D {
  const f = new Float32Array(9 * 8);
  NMS_NEIGHBOURS.forEach(([r, c], k) => {
    f[(1 * 3 + 1) * 8 + k] = 1;
    f[(r * 3 + c) * 8 + k] = -1;
  });
  return tf.tensor4d(f, [3, 3, 1, 8]);
}

function sobelFilter(): tf.Tensor4D {
  const gx = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
  const f = new Float32Array(18);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      f[(r * 3 + c) * 2] = gx[r * 3 + c];
      f[(r * 3 + c) * 2 + 1] = gx[c * 3 + r]; // gy = gxᵀ
    }
  }
  return tf.tensor4d(f, [3, 3, 1, 2]);
}

function gaussianBlur(x: tf.Tensor4D, ks: Pair, sigma: Pair): tf.Tensor4D {
  const kx = gaussianKernel1d(ks[1], sigma[1]);
  const ky = gaussianKernel1d(ks[0], sigma[0]);
  const px = Math.floor(ks[1] / 2);
  const py = Math.floor(ks[0] / 2);
  const [, h, w] = x.shape;
  if (py >= h || px >= w) throw new Error(`canny: reflect padding ${py},${px} needs an image larger than ${h}×${w}`);
  let y = tf.conv2d(tf.mirrorPad(x, [[0, 0], [0, 0], [px, px], [0, 0]], 'reflect'), tf.tensor4d(kx, [1, ks[1], 1, 1]), 1, 'valid');
  y = tf.conv2d(tf.mirrorPad(y, [[0, 0], [py, py], [0, 0], [0, 0]], 'reflect'), tf.tensor4d(ky, [ks[0], 1, 1, 1]), 1, 'valid');
  return y;
}

/** Picks channel idx[n,h,w] of t [N,H,W,8] → [N,H,W,1]. */
function selectChannel(t: tf.Tensor4D, idx: tf.Tensor): tf.Tensor4D {
  const [n, h, w] = t.shape;
  const oh = tf.oneHot(tf.reshape(idx, [n, h, w]) as tf.Tensor3D, 8);
  return tf.sum(tf.mul(t, oh), -1, true) as tf.Tensor4D;
}

function cannyForward(x: tf.Tensor4D, o: Required<CannyOptions>): [tf.Tensor4D, tf.Tensor4D] {
  const blurred = gaussianBlur(x, pair(o.kernelSize), pair(o.sigma));
  const grads = tf.conv2d(replicatePad2d(blurred, 1, 1, 1, 1), sobelFilter(), 1, 'valid');
  const [n, h, w] = x.shape;
  const gt = tf.transpose(tf.reshape(grads, [n * h * w, 2]));
  const gx = tf.reshape(tf.slice(gt, [0, 0], [1, -1]), [n, h, w, 1]);
  const gy = tf.reshape(tf.slice(gt, [1, 0], [1, -1]), [n, h, w, 1]);
  let magnitude = tf.sqrt(tf.add(tf.add(tf.mul(gx, gx), tf.mul(gy, gy)), o.eps)) as tf.Tensor4D;
  const angle = tf.div(tf.mul(tf.atan2(gy, gx), 180), Math.PI);
  const octant = tf.round(tf.div(angle, 45)); // integer-valued, round half to even
  const pos = tf.cast(tf.mod(octant, 8), 'int32');
  const neg = tf.cast(tf.mod(tf.add(octant, 4), 8), 'int32');
  const nms = tf.conv2d(magnitude, nmsFilter(), 1, 'same') as tf.Tensor4D;
  const isMax = tf.logicalAnd(tf.greater(selectChannel(nms, pos), 0), tf.greater(selectChannel(nms, neg), 0));
  magnitude = tf.mul(magnitude, tf.cast(isMax, 'float32'));
  let edges = tf.add(tf.mul(tf.cast(tf.greater(magnitude, o.low), 'float32'), 0.5), tf.mul(tf.cast(tf.greater(magnitude, o.high), 'float32'), 0.5)) as tf.Tensor4D;
  if (!o.hysteresis) return [magnitude, edges];
  // A weak pixel becomes strong when one of its 8 neighbours is strong; repeat to the fixed point.
  // Extra rounds after convergence change nothing, so the flag is read every 4 rounds.
  for (let round = 0; ; round++) {
    const next = tf.tidy(() => {
      const weak = tf.cast(tf.equal(edges, 0.5), 'float32');
      const strong = tf.cast(tf.equal(edges, 1), 'float32') as tf.Tensor4D;
      const promoted = tf.mul(weak, tf.maxPool(strong, 3, 1, 'same'));
      const hm = tf.add(promoted, strong);
      return tf.add(hm, tf.mul(tf.cast(tf.equal(hm, 0), 'float32'), tf.mul(weak, 0.5))) as tf.Tensor4D;
    });
    const done = round % 4 === 3 ? tf.tidy(() => tf.all(tf.equal(next, edges)).dataSync()[0] === 1) : false;
    edges.dispose();
    edges = next;
    if (done) break;
  }
  return [magnitude, tf.cast(tf.equal(edges, 1), 'float32') as tf.Tensor4D];
}

/**
 * kornia-style Canny on a single-channel NHWC image [N, H, W, 1]. Defaults follow ProPainter's
 * flow-edge use: low 0.1, high 0.2, kernel 5, sigma 2, hysteresis on, eps 1e-6.
 */
export function canny(x: tf.Tensor4D, opts: CannyOptions = {}): CannyResult {
  if (x.rank !== 4 || x.shape[3] !== 1) throw new Error(`canny: expected [N, H, W, 1], got [${x.shape}]`);
  const o: Required<CannyOptions> = {
    low: opts.low ?? 0.1,
    high: opts.high ?? 0.2,
    kernelSize: opts.kernelSize ?? 5,
    sigma: opts.sigma ?? 2,
    hysteresis: opts.hysteresis ?? true,
    eps: opts.eps ?? 1e-6,
  };
  if (o.low > o.high) throw new Error(`canny: low threshold ${o.low} exceeds high threshold ${o.high}`);
  return tf.tidy(() => {
    // One zero-gradient node returns both maps stacked along the batch axis.
    const both = noGrad((xi) => tf.concat(cannyForward(xi as tf.Tensor4D, o), 0), x) as tf.Tensor4D;
    const [n, h, w] = x.shape;
    return {
      magnitude: tf.slice(both, [0, 0, 0, 0], [n, h, w, 1]) as tf.Tensor4D,
      edges: tf.slice(both, [n, 0, 0, 0], [n, h, w, 1]) as tf.Tensor4D,
    };
  });
}

/**
 * The flow trainer's get_edges: flow magnitude sqrt(u² + v²) of every field in the batch,
 * set to 0 if the batch maximum is < 1 and divided by that maximum otherwise, then Canny with
 * the defaults above. flows [N, H, W, 2] → edges [N, H, W, 1] ∈ {0, 1}.
 */
export function flowEdges(flows: tf.Tensor4D, opts: CannyOptions = {}): tf.Tensor4D {
  if (flows.rank !== 4 || flows.shape[3] !== 2) throw new Error(`flowEdges: expected [N, H, W, 2], got [${flows.shape}]`);
  return tf.tidy(() => {
    const mag = noGrad((f) => tf.sqrt(tf.sum(tf.square(f), -1, true)), flows) as tf.Tensor4D;
    const peak = tf.max(mag).dataSync()[0];
    const norm = peak < 1 ? tf.zerosLike(mag) : tf.div(mag, peak);
    const { magnitude, edges } = canny(norm as tf.Tensor4D, opts);
    magnitude.dispose();
    return edges;
  });
}
