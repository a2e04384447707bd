/**
 * The per-video measurements of the ProPainter evaluation (spec §12.1), on channels-last host
 * arrays: completed frames are float RGB in [0, 255] (the official `comp_frames`, blended without
 * re-quantisation), ground truth the resized uint8 frames.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { InceptionI3d } from '../models/i3d';
import { i3dFeatures } from '../models/i3d';
import type { LPIPS } from '../models/lpips';
import { SSIM_WINDOW, psnr, ssim } from './metrics';

/** `comp.astype(np.uint8)`: truncation (what VFID, E_warp and the saved PNGs see). */
export function truncateToU8(comp: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(comp.length);
  for (let i = 0; i < comp.length; i++) {
    const v = Math.trunc(comp[i]);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/**
 * Per-frame PSNR / SSIM of `comp` against `gt` (calc_psnr_and_ssim(ori, comp) per frame); SSIM is
 * null for frames smaller than its 65×65 window (the official script would stop there).
 */
export function frameQuality(gt: Uint8Array, comp: Float32Array | Uint8Array, t: number, h: number, w: number): { psnr: number[]; ssim: number[] | null } {
  const n = h * w * 3;
  if (gt.length !== t * n || comp.length !== t * n) throw new Error(`frameQuality: expected ${t}×${h}×${w}×3 values`);
  const fits = h >= SSIM_WINDOW && w >= SSIM_WINDOW;
  const psnrs: number[] = [];
  const ssims: number[] = [];
  for (let i = 0; i < t; i++) {
    const a = gt.subarray(i * n, (i + 1) * n);
    const b = comp.subarray(i * n, (i + 1) * n);
    psnrs.push(psnr(a, b));
    if (fits) ssims.push(ssim(a, b, h, w, 3));
  }
  return { psnr: psnrs, ssim: fits ? ssims : null };
}

/** uint8 → float32 value / 255, as ToTorchFormatTensor divides. */
const U8_TO_01 = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.fround(v / 255);
  return t;
})();

/**
 * VFID features of one uint8 video T×H×W×3: [0, 1] input (core/metrics.py feeds I3D that range),
 * Mixed_5c averaged over time and space, BatchNorm in train mode (the official quirk) → 1024 values.
 */
export async function i3dVideoFeatures(model: InceptionI3d, video: Uint8Array, t: number, h: number, w: number): Promise<Float32Array> {
  const x = new Float32Array(video.length);
  for (let i = 0; i < x.length; i++) x[i] = U8_TO_01[video[i]];
  const input = tf.tensor5d(x, [1, t, h, w, 3]);
  let feat: tf.Tensor2D;
  try {
    feat = i3dFeatures(model, input, { trainModeBatchNorm: true });
  } finally {
    input.dispose();
  }
  try {
    return (await feat.data()) as Float32Array;
  } finally {
    feat.dispose();
  }
}

/** LPIPS of every frame pair (uint8 T×H×W×3 each, mapped to [-1, 1]), `batch` frames per call. */
export async function lpipsFrames(model: LPIPS, a: Uint8Array, b: Uint8Array, t: number, h: number, w: number, batch = 4): Promise<number[]> {
  const n = h * w * 3;
  const out: number[] = [];
  for (let i0 = 0; i0 < t; i0 += batch) {
    const k = Math.min(batch, t - i0);
    const d = tf.tidy(() => {
      const load = (v: Uint8Array) => tf.sub(tf.div(tf.tensor4d(v.subarray(i0 * n, (i0 + k) * n), [k, h, w, 3], 'int32').toFloat(), 127.5), 1) as tf.Tensor4D;
      return model.forward(load(a), load(b));
    });
    out.push(...((await d.data()) as Float32Array));
    d.dispose();
  }
  return out;
}

/** Fraction of hole pixels over all frames of a T×H×W {0, 1} mask stack. */
export function maskArea(masks: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < masks.length; i++) s += masks[i] > 0 ? 1 : 0;
  return masks.length ? s / masks.length : 0;
}
