/**
 * Flow-completion losses (core/trainer_flow_w_edge.py, model/modules/flow_comp_raft.py,
 * model/modules/flow_loss_utils.py), channels-last: flows [N,H,W,2], masks [N,H,W,1],
 * frames [N,H,W,3] in [-1, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { canny, flowWarp, noGrad } from '../ops';
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

const merge = (x: tf.Tensor): tf.Tensor4D => tf.reshape(x, [-1, ...x.shape.slice(2)] as [number, number, number, number]) as tf.Tensor4D;

/** x[:, start:start+count] of a clip [B, T, …] through a rank-3 view (no rank-5 slice on the tape). */
export function timeSlice(x: tf.Tensor, start: number, count: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, t, ...rest] = x.shape;
    const flat = tf.reshape(x, [b, t, -1]);
    return tf.reshape(tf.slice(flat, [0, start, 0], [b, count, -1]), [b, count, ...rest]);
  });
}

/**
 * FlowLoss: for forward (mask t, frames t→t+1) and backward (mask t+1, frames t+1→t) flows
 * [B,T−1,H,W,2]: hole/valid-normalised L1 + first- and second-order smoothness of the completed
 * flow (loss), and the census warp loss (warpLoss). masks [B,T,H,W,1], frames [B,T,H,W,3].
 */
export function flowLoss(pred: [tf.Tensor, tf.Tensor], gt: [tf.Tensor, tf.Tensor], masks: tf.Tensor, frames: tf.Tensor): { loss: tf.Scalar; warpLoss: tf.Scalar } {
  return tf.tidy(() => {
    const t = masks.shape[1]!;
    const sliceT = (x: tf.Tensor, start: number) => timeSlice(x, start, t - 1);
    const ms = [sliceT(masks, 0), sliceT(masks, 1)];
    const f0 = sliceT(frames, 0);
    const f1 = sliceT(frames, 1);
    const cur = [f0, f1];
    const nxt = [f1, f0];
    const losses: tf.Scalar[] = [];
    const warps: tf.Scalar[] = [];
    for (let i = 0; i < 2; i++) {
      const m = ms[i];
      const comb = tf.add(tf.mul(pred[i], m), tf.mul(gt[i], tf.sub(1, m)));
      const l1 = tf.add(holeOrValid(pred[i], gt[i], m), holeOrValid(pred[i], gt[i], tf.sub(1, m)));
      const cm = merge(comb);
      const mm = merge(m);
      losses.push(tf.addN([l1, smoothnessLoss(cm, mm), secondOrderLoss(cm, mm)]) as tf.Scalar);
      warps.push(ternaryLoss(cm, merge(gt[i]), mm, merge(cur[i]), merge(nxt[i])));
    }
    return { loss: tf.addN(losses) as tf.Scalar, warpLoss: tf.addN(warps) as tf.Scalar };
  });
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
  return tf.tidy(() => {
    const t = masks.shape[1]!;
    const ms = [timeSlice(masks, 0, t - 1), timeSlice(masks, 1, t - 1)];
    const parts: tf.Scalar[] = [];
    for (let i = 0; i < 2; i++) {
      const comb = tf.add(tf.mul(pred[i], ms[i]), tf.mul(gt[i], tf.sub(1, ms[i])));
      parts.push(tf.add(edgeLoss(merge(pred[i]), merge(gt[i])), tf.mul(5, edgeLoss(merge(comb), merge(gt[i])))) as tf.Scalar);
    }
    return tf.addN(parts) as tf.Scalar;
  });
}

/**
 * Total flow-completion training loss of trainer_flow_w_edge, each term weighted:
 * flowWeight·Σ(L1 + smooth + smooth2) + warpWeight·Σ census + edgeWeight·Σ edge (official
 * weights 0.25 from the config, 0.01 and 1.0 hard-coded). Returns the weighted terms as the
 * trainer logs them (`loss/flow_loss`, `loss/warp_loss`, `loss/edge_loss`) and their sum.
 */
export function flowCompletionLoss(args: {
  pred: [tf.Tensor, tf.Tensor];
  gt: [tf.Tensor, tf.Tensor];
  masks: tf.Tensor;
  frames: tf.Tensor;
  predEdges?: [tf.Tensor, tf.Tensor] | null;
  gtEdges?: [tf.Tensor, tf.Tensor] | null;
  flowWeight?: number;
  warpWeight?: number;
  edgeWeight?: number;
}): { total: tf.Scalar; flow: tf.Scalar; warp: tf.Scalar; edge: tf.Scalar | null } {
  const r = tf.tidy(() => {
    const { loss, warpLoss } = flowLoss(args.pred, args.gt, args.masks, args.frames);
    const flow = tf.mul(loss, args.flowWeight ?? 0.25) as tf.Scalar;
    const warp = tf.mul(warpLoss, args.warpWeight ?? 0.01) as tf.Scalar;
    const edges = args.predEdges && args.gtEdges
      ? [tf.mul(edgeLossBidirectional(args.predEdges, args.gtEdges, args.masks), args.edgeWeight ?? 1) as tf.Scalar]
      : [];
    return [tf.addN([flow, warp, ...edges]) as tf.Scalar, flow, warp, ...edges];
  });
  return { total: r[0], flow: r[1], warp: r[2], edge: r[3] ?? null };
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
      const pm = merge(p);
      const gm = merge(gt[i]);
      const k = gm.shape[1] / pm.shape[1];
      if (!Number.isInteger(k) || gm.shape[2] / pm.shape[2] !== k) throw new Error(`flowSimpleLoss: gt ${gm.shape[1]}×${gm.shape[2]} is not an integer multiple of pred ${pm.shape[1]}×${pm.shape[2]}`);
      const ds = k === 1 ? gm : tf.avgPool(gm, k, k, 'valid');
      return tf.mean(tf.abs(tf.sub(pm, tf.div(ds, k))));
    });
    return tf.addN(parts) as tf.Scalar;
  });
}
