/**
 * Host-side (CPU, plain JS) mask geometry of the generator: the 1/4-resolution nearest masks,
 * the token-grid max-pooled masks (7×7, stride 3, pad 3) and the attention's masked-window flags.
 * These are data-dependent decisions that the official code takes with `nonzero`; doing them on
 * the host keeps them off the tape and lets the attention use static slices.
 */
import { PROPAINTER_T2T, T2TGeometry, patchCount } from './t2t';
import { windowFlags } from './transformer';

/**
 * Token-grid mask of one clip: for frames [0, frames) of `mask` (host data of [B, T, H, W, 1],
 * batch element `b`), nearest ↓4 (pixel (4i, 4j)) then max-pool 7×7 s3 p3 → [frames, fh, fw].
 */
export function tokenMask(
  mask: ArrayLike<number>,
  shape: readonly number[],
  b: number,
  frames: number,
  g: T2TGeometry = PROPAINTER_T2T,
): { data: Uint8Array; fh: number; fw: number } {
  const [, t, hh, ww] = shape;
  const h = Math.floor(hh / 4);
  const w = Math.floor(ww / 4);
  const fh = patchCount(h, g);
  const fw = patchCount(w, g);
  const out = new Uint8Array(frames * fh * fw);
  for (let f = 0; f < frames; f++) {
    const base = (b * t + f) * hh * ww;
    const ds = new Uint8Array(h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) ds[i * w + j] = mask[base + 4 * i * ww + 4 * j] > 0 ? 1 : 0;
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        let any = 0;
        for (let y = Math.max(0, g.stride * i - g.padding); y < Math.min(h, g.stride * i - g.padding + g.kernel) && !any; y++) {
          for (let x = Math.max(0, g.stride * j - g.padding); x < Math.min(w, g.stride * j - g.padding + g.kernel); x++) {
            if (ds[y * w + x]) {
              any = 1;
              break;
            }
          }
        }
        out[(f * fh + i) * fw + j] = any;
      }
    }
  }
  return { data: out, fh, fw };
}

/** Masked-window flags per batch element from the first `frames` mask frames. */
export function attentionWindowFlags(
  mask: ArrayLike<number>,
  shape: readonly number[],
  frames: number,
  window: [number, number],
): boolean[][] {
  return Array.from({ length: shape[0] }, (_, b) => {
    const tm = tokenMask(mask, shape, b, frames);
    return windowFlags(tm.data, frames, tm.fh, tm.fw, window);
  });
}
