/**
 * Flow warping error E_warp (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018),
 * as its reference implementation computes it (docs/evaluation.md has the definition and our one
 * deviation: RAFT flows instead of FlowNet2). Host code in float64 on channels-last arrays:
 * frames H×W×3 in [0, 1], flows H×W×2 (dx, dy) in pixels.
 */

/**
 * FlowNet2's Resample2d: `src` (H×W×C) sampled at (x + dx, y + dy) bilinearly, the four taps'
 * indices clamped to the image (border replication) while the weights come from the unclamped
 * position.
 */
export function resample2d(src: ArrayLike<number>, flow: ArrayLike<number>, h: number, w: number, c: number): Float64Array {
  const out = new Float64Array(h * w * c);
  const clampX = (v: number) => (v < 0 ? 0 : v > w - 1 ? w - 1 : v);
  const clampY = (v: number) => (v < 0 ? 0 : v > h - 1 ? h - 1 : v);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const xf = x + flow[2 * p];
      const yf = y + flow[2 * p + 1];
      const x0 = Math.floor(xf);
      const y0 = Math.floor(yf);
      const a = xf - x0;
      const b = yf - y0;
      const xl = clampX(x0);
      const xr = clampX(x0 + 1);
      const yt = clampY(y0);
      const yb = clampY(y0 + 1);
      const tl = (yt * w + xl) * c;
      const tr = (yt * w + xr) * c;
      const bl = (yb * w + xl) * c;
      const br = (yb * w + xr) * c;
      for (let k = 0; k < c; k++) {
        out[p * c + k] = (1 - a) * (1 - b) * src[tl + k] + a * (1 - b) * src[tr + k] + (1 - a) * b * src[bl + k] + a * b * src[br + k];
      }
    }
  }
  return out;
}

/**
 * Occlusion mask (1 = occluded) on frame t's grid from the backward flow `bw` (t+1 → t) and the
 * forward flow `fw` (t → t+1), as `detect_occlusion(bw_flow, fw_flow)` of the reference:
 * forward–backward inconsistency |bw(x + fw) + fw|² > 0.01·(|bw(x + fw)|² + |fw|²) + 0.5, or a
 * motion boundary of fw: |∂x fw|² + |∂y fw|² > 0.01·|fw|² + 0.002 (forward differences, zero on
 * the last column / row).
 */
export function occlusionMask(bw: ArrayLike<number>, fw: ArrayLike<number>, h: number, w: number): Uint8Array {
  const bwWarped = resample2d(bw, fw, h, w, 2);
  const occ = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const u = fw[2 * p];
      const v = fw[2 * p + 1];
      const bu = bwWarped[2 * p];
      const bv = bwWarped[2 * p + 1];
      const fwMag = u * u + v * v;
      const inconsistent = (bu + u) ** 2 + (bv + v) ** 2 > 0.01 * (bu * bu + bv * bv + fwMag) + 0.5;
      const r = x < w - 1 ? p + 1 : -1;
      const d = y < h - 1 ? p + w : -1;
      const uDx = r >= 0 ? u - fw[2 * r] : 0;
      const vDx = r >= 0 ? v - fw[2 * r + 1] : 0;
      const uDy = d >= 0 ? u - fw[2 * d] : 0;
      const vDy = d >= 0 ? v - fw[2 * d + 1] : 0;
      const boundary = uDx * uDx + uDy * uDy + vDx * vDx + vDy * vDy > 0.01 * fwMag + 0.002;
      occ[p] = inconsistent || boundary ? 1 : 0;
    }
  }
  return occ;
}

/**
 * Warping error of one pair: Σ noc·(warp(next, fw) − prev)² / Σ noc over pixels and the 3
 * channels (H·W·3 when every pixel is occluded). Frames H×W×3 in [0, 1].
 */
export function pairWarpError(prev: ArrayLike<number>, next: ArrayLike<number>, fw: ArrayLike<number>, occ: Uint8Array, h: number, w: number): number {
  const warped = resample2d(next, fw, h, w, 3);
  let sum = 0;
  let n = 0;
  for (let p = 0; p < h * w; p++) {
    if (occ[p]) continue;
    n += 3;
    for (let k = 0; k < 3; k++) sum += (warped[3 * p + k] - prev[3 * p + k]) ** 2;
  }
  return sum / (n > 0 ? n : h * w * 3);
}

/**
 * E_warp of one video: frames T×H×W×3 uint8 (the evaluated frames, read as the reference reads
 * its PNGs: value / 255), forward / backward flows (T−1)×H×W×2 computed on the ground-truth
 * frames. Returns the per-pair errors and their mean (the video's E_warp).
 */
export function videoWarpError(
  frames: Uint8Array,
  forward: Float32Array,
  backward: Float32Array,
  t: number,
  h: number,
  w: number,
): { pairs: number[]; mean: number } {
  const hw = h * w;
  const frame = (i: number) => {
    const out = new Float64Array(hw * 3);
    for (let k = 0; k < hw * 3; k++) out[k] = frames[i * hw * 3 + k] / 255;
    return out;
  };
  const flow = (a: Float32Array, k: number) => a.subarray(k * hw * 2, (k + 1) * hw * 2);
  const pairs: number[] = [];
  let prev = frame(0);
  for (let i = 1; i < t; i++) {
    const next = frame(i);
    const fw = flow(forward, i - 1);
    const occ = occlusionMask(flow(backward, i - 1), fw, h, w);
    pairs.push(pairWarpError(prev, next, fw, occ, h, w));
    prev = next;
  }
  return { pairs, mean: pairs.length ? pairs.reduce((a, b) => a + b, 0) / pairs.length : NaN };
}
