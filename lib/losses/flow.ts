/**
 * Flow-completion losses (core/trainer_flow_w_edge.py, model/modules/flow_comp_raft.py,
 * model/modules/flow_loss_utils.py), channels-last: flows [N,H,W,2], masks [N,H,W,1],
 * frames [N,H,W,3] in [-1, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { canny, flowWarp, noGrad } from '../ops';
import { flattenClip, framesRange } from '../ops/frames';
import type { CannyOptions } from '../ops';

/** 3×3 cross-correlation filters (zero padding 1) applied to a one-channel map → one channel each. */
function filter3x3(x: tf.Tensor4D, kernels: number[][][]): tf.Tensor4D {
  return tf.tidy(() => {
    const k = kernels.length;
    const w = new Float32Array(9 * k);
    kernels.forEach((kern, o) => kern.forEach((row, i) => row.forEach((v, j) => (w[(i * 3 + j) * k + o] = v))));
    return tf.conv2d(x, tf.tensor4d(w, [3, 3, 1, k]), 1, 'same');
  });
}

/** Generalised Charbonnier (x² + ε²)^α times the mask, summed and divided by numel(x). */
export function charbonnierLoss(x: tf.Tensor, mask?: tf.Tensor, alpha = 0.45, beta = 1, epsilon = 0.001): tf.Scalar {
  return tf.tidy(() => {
    let err = tf.pow(tf.add(tf.square(tf.mul(x, beta)), epsilon * epsilon), alpha);
    if (mask) err = tf.mul(err, mask);
    return tf.div(tf.sum(err), x.size) as tf.Scalar;
  });
}

function splitUV(flow: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const [u, v] = tf.split(flow, 2, 3);
  return [u as tf.Tensor4D, v as tf.Tensor4D];
}

const FIRST_ORDER = [
  [[0, 0, 0], [0, 1, -1], [0, 0, 0]],
  [[0, 0, 0], [0, 1, 0], [0, -1, 0]],
];
const SECOND_ORDER = [
  [[0, 0, 0], [1, -2, 1], [0, 0, 0]],
  [[0, 1, 0], [0, -2, 0], [0, 1, 0]],
  [[1, 0, 0], [0, -2, 0], [0, 0, 1]],
  [[0, 0, 1], [0, -2, 0], [1, 0, 0]],
];

/** First-order smoothness (Charbonnier of x/y differences of u and v, hole-masked). */
export function smoothnessLoss(flow: tf.Tensor4D, mask: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [u, v] = splitUV(flow);
    return tf.add(charbonnierLoss(filter3x3(u, FIRST_ORDER), mask), charbonnierLoss(filter3x3(v, FIRST_ORDER), mask)) as tf.Scalar;
  });
}

/** Second-order smoothness (horizontal, vertical and both diagonal second differences). */
export function secondOrderLoss(flow: tf.Tensor4D, mask: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [u, v] = splitUV(flow);
    return tf.add(charbonnierLoss(filter3x3(u, SECOND_ORDER), mask), charbonnierLoss(filter3x3(v, SECOND_ORDER), mask)) as tf.Scalar;
  });
}

/** Grey value 0.299R + 0.587G + 0.110B (the official 0.110 for blue). */
export function rgb2gray(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.conv2d(x, tf.tensor4d([0.299, 0.587, 0.110], [1, 1, 3, 1]), 1, 'valid'));
}

/** Census transform: for the 3×3 neighbourhood, t = n − centre of 255·grey, t/sqrt(0.81 + t²). */
export function ternaryTransform(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const g = tf.mul(rgb2gray(x), 255);
    const eye = new Float32Array(81);
    for (let k = 0; k < 9; k++) eye[k * 9 + k] = 1;
    const patches = tf.conv2d(g as tf.Tensor4D, tf.tensor4d(eye, [3, 3, 1, 9]), 1, 'same');
    const t = tf.sub(patches, g);
    return tf.div(t, tf.sqrt(tf.add(0.81, tf.square(t)))) as tf.Tensor4D;
  });
}

/** Σ over the 9 census channels of δ²/(0.1 + δ²). */
export function hammingDistance(t1: tf.Tensor4D, t2: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const d = tf.square(tf.sub(t1, t2));
    return tf.sum(tf.div(d, tf.add(0.1, d)), 3, true) as tf.Tensor4D;
  });
}

/** ternary_loss2: mean(hamming(census(f1), census(w21)) · conf · mask) / mean(mask). */
export function ternaryLoss2(frame1: tf.Tensor4D, warped21: tf.Tensor4D, conf: tf.Tensor4D, mask: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const dist = hammingDistance(ternaryTransform(frame1), ternaryTransform(warped21));
    return tf.div(tf.mean(tf.mul(tf.mul(dist, conf), mask)), tf.mean(mask)) as tf.Scalar;
  });
}

/**
 * ternary_loss ("warp loss"): occlusion weight exp(−50 (Σ_rgb |cur − warp(nxt, gt)|)²), then the
 * census loss between cur and nxt warped by the completed flow.
 */
export function ternaryLoss(flowComp: tf.Tensor4D, flowGt: tf.Tensor4D, mask: tf.Tensor4D, current: tf.Tensor4D, shifted: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const warpedGt = flowWarp(shifted, flowGt);
    const noc = tf.exp(tf.mul(-50, tf.square(tf.sum(tf.abs(tf.sub(current, warpedGt)), 3, true)))) as tf.Tensor4D;
    return ternaryLoss2(current, flowWarp(shifted, flowComp), noc, mask);
  });
}

/**
 * The two directions of a bidirectional flow batch: forward flows t→t+1 live on frame t's grid
 * (mask t), backward flows t+1→t on frame t+1's (mask t+1); `comb` is the completed flow
 * P·m + G·(1−m); clips [B, T−1, …] (flattened to the trainer's `.view(-1, c, h, w)` by the losses).
 */
function directions(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor) {
  const t = masks.shape[1]!;
  return ([0, 1] as const).map((i) => {
    const m = framesRange(masks, i, t - 1);
    const comb = tf.add(tf.mul(pred[i], m), tf.mul(gt[i], tf.sub(1, m)));
    return { i, p: pred[i], g: gt[i], m, comb };
  });
}

/**
 * The `loss` of FlowLoss: per direction, hole/valid-normalised L1 of the predicted flow plus
 * first- and second-order smoothness of the completed flow, summed over both directions.
 * pred, gt: [forward, backward] [B, T−1, H, W, 2]; masks [B, T, H, W, 1].
 */
export function flowL1SmoothLoss(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.addN(
      directions(pred, gt, masks).map(({ p, g, m, comb }) => {
        const l1 = tf.add(holeOrValid(p, g, m), holeOrValid(p, g, tf.sub(1, m)));
        const cm = flattenClip(comb) as tf.Tensor4D;
        const mm = flattenClip(m) as tf.Tensor4D;
        return tf.addN([l1, smoothnessLoss(cm, mm), secondOrderLoss(cm, mm)]);
      }),
    ) as tf.Scalar,
  );
}

/**
 * The `warp_loss` of FlowLoss: the census loss between each frame and its neighbour warped by the
 * completed flow (forward: frames t and t+1; backward: t+1 and t), summed over both directions.
 * frames [B, T, H, W, 3] in [-1, 1].
 */
export function censusWarpLoss(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor, frames: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const t = masks.shape[1]!;
    const f0 = flattenClip(framesRange(frames, 0, t - 1)) as tf.Tensor4D;
    const f1 = flattenClip(framesRange(frames, 1, t - 1)) as tf.Tensor4D;
    return tf.addN(
      directions(pred, gt, masks).map(({ i, g, m, comb }) =>
        ternaryLoss(flattenClip(comb) as tf.Tensor4D, flattenClip(g) as tf.Tensor4D, flattenClip(m) as tf.Tensor4D, i === 0 ? f0 : f1, i === 0 ? f1 : f0),
      ),
    ) as tf.Scalar;
  });
}

/** FlowLoss of flow_comp_raft.py: { loss: flowL1SmoothLoss, warpLoss: censusWarpLoss }. */
export function flowLoss(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor, frames: tf.Tensor): { loss: tf.Scalar; warpLoss: tf.Scalar } {
  return { loss: flowL1SmoothLoss(pred, gt, masks), warpLoss: censusWarpLoss(pred, gt, masks, frames) };
}

function holeOrValid(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor): tf.Scalar {
  return tf.div(tf.mean(tf.abs(tf.sub(tf.mul(p, m), tf.mul(g, m)))), tf.mean(m)) as tf.Scalar;
}

/**
 * edgeLoss: binary_cross_entropy_with_logits applied to the edge head's probabilities (the
 * official double sigmoid) with per-sample class-balancing weights. pred, gt: [N,H,W,1].
 */
export function edgeLoss(pred: tf.Tensor4D, gt: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [, h, w, c] = gt.shape;
    const pos = tf.cast(tf.greater(gt, 0.5), 'float32');
    const numPos = tf.sum(pos, [1, 2, 3], true);
    const total = c * h * w;
    const numNeg = tf.sub(total, numPos);
    const weight = tf.add(tf.mul(tf.div(numNeg, total), pos), tf.mul(tf.div(numPos, total), tf.sub(1, pos)));
    // BCE with logits: max(x, 0) − x·y + log(1 + exp(−|x|)).
    const x = pred;
    const bce = tf.add(tf.sub(tf.relu(x), tf.mul(x, gt)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return tf.mean(tf.mul(bce, weight)) as tf.Scalar;
  });
}

/** EdgeLoss over both directions: edgeLoss(pred) + 5·edgeLoss(pred·m + gt·(1−m)). */
export function edgeLossBidirectional(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.addN(
      directions(pred, gt, masks).map(({ p, g, comb }) => {
        const e = (x: tf.Tensor) => edgeLoss(flattenClip(x) as tf.Tensor4D, flattenClip(g) as tf.Tensor4D);
        return tf.add(e(p), tf.mul(5, e(comb)));
      }),
    ) as tf.Scalar,
  );
}

/**
 * create_mask of flow_comp_raft.py: ones inside, zeros in a border of
 * paddings [[top, bottom], [left, right]], repeated over n → [n, H, W, 1].
 */
export function createMask(n: number, h: number, w: number, paddings: [[number, number], [number, number]]): tf.Tensor4D {
  const [[top, bottom], [left, right]] = paddings;
  const m = new Float32Array(n * h * w);
  for (let i = 0; i < n; i++) {
    for (let y = top; y < h - bottom; y++) for (let x = left; x < w - right; x++) m[(i * h + y) * w + x] = 1;
  }
  return tf.tensor4d(m, [n, h, w, 1]);
}

/**
 * fbConsistencyCheck of flow_loss_utils.py (the loss-side variant): occlusion maps, 1 where
 * |f + warp(g, f)|² > α1·(|f|² + |warp(g, f)|²) + α2, for both directions. flows [N, H, W, 2]
 * → { fw, bw } [N, H, W, 1]. Off the tape (thresholds).
 */
export function fbOcclusion(flowFw: tf.Tensor4D, flowBw: tf.Tensor4D, alpha1 = 0.01, alpha2 = 0.5): { fw: tf.Tensor4D; bw: tf.Tensor4D } {
  const both = tf.tidy(() =>
    noGrad(
      (fw, bw) => {
        const lsq = (t: tf.Tensor) => tf.sum(tf.square(t), -1, true);
        const bwW = flowWarp(bw as tf.Tensor4D, fw as tf.Tensor4D);
        const fwW = flowWarp(fw as tf.Tensor4D, bw as tf.Tensor4D);
        const occ = (f: tf.Tensor, warped: tf.Tensor) =>
          tf.cast(tf.greater(lsq(tf.add(f, warped)), tf.add(tf.mul(tf.add(lsq(f), lsq(warped)), alpha1), alpha2)), 'float32');
        return tf.concat([occ(fw, bwW), occ(bw, fwW)], 3) as tf.Tensor4D;
      },
      flowFw,
      flowBw,
    ),
  );
  const [fw, bw] = tf.split(both, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
  both.dispose();
  return { fw, bw };
}

/**
 * The flow trainer's get_edges with the Canny magnitude as well: |flow| of every field, zeroed if
 * the maximum over the whole batch is < 1, else divided by it, then Canny (σ 2, thresholds 0.1 /
 * 0.2). flows [N, H, W, 2] → magnitude (after non-maximum suppression) and {0, 1} edges [N, H, W, 1].
 */
export function flowEdgesWithMagnitude(flows: tf.Tensor4D, opts: CannyOptions = {}): { magnitude: tf.Tensor4D; edges: tf.Tensor4D } {
  return tf.tidy(() => {
    const mag = noGrad((f) => tf.sqrt(tf.sum(tf.square(f), -1, true)), flows) as tf.Tensor4D;
    const peak = tf.max(mag).dataSync()[0];
    const norm = (peak < 1 ? tf.zerosLike(mag) : tf.div(mag, peak)) as tf.Tensor4D;
    return canny(norm, { sigma: 2, low: 0.1, high: 0.2, ...opts });
  });
}

/**
 * FlowSimpleLoss (unused by the official trainers): Σ_i L1(pred_i, area-downsampled gt_i · s) with
 * s = h_pred / h_gt (an integer factor). pred [B, T, h, w, 2], gt [B, T, H, W, 2].
 */
export function flowSimpleLoss(pred: tf.Tensor[], gt: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    const parts = pred.map((p, i) => {
      const pm = flattenClip(p) as tf.Tensor4D;
      const gm = flattenClip(gt[i]) as tf.Tensor4D;
      const k = gm.shape[1] / pm.shape[1];
      if (!Number.isInteger(k) || gm.shape[2] / pm.shape[2] !== k) throw new Error(`flowSimpleLoss: gt ${gm.shape[1]}×${gm.shape[2]} is not an integer multiple of pred ${pm.shape[1]}×${pm.shape[2]}`);
      const ds = k === 1 ? gm : tf.avgPool(gm, k, k, 'valid');
      return tf.mean(tf.abs(tf.sub(pm, tf.div(ds, k))));
    });
    return tf.addN(parts) as tf.Scalar;
  });
}
