/**
 * Patch fold/unfold for ProPainter's token geometry (kernel 7, stride 3, padding 3), with the
 * patch entries ordered tap-major `[ky, kx, c]` (the generator keeps its hidden features in that
 * order; the parameter layouts in `layers.ts` permute the PyTorch `c·49 + ky·7 + kx` order).
 *
 * Both are exact (sum / copy, no averaging) and built from transposes, contiguous slices, pads
 * and adds, so they are cheap on wasm and differentiable everywhere: a tap (ky, kx) = (s·a + r,
 * s·b + q) of patch (i, j) lands on padded pixel (s·(i+a) + r, s·(j+b) + q), i.e. at block
 * (i+a, j+b) of the stride-phase map (r, q).
 */
import * as tf from '@tensorflow/tfjs-core';
import { split } from './layers';

export interface T2TGeometry {
  kernel: number;
  stride: number;
  padding: number;
}

export const PROPAINTER_T2T: T2TGeometry = { kernel: 7, stride: 3, padding: 3 };

/** Number of patch positions along an axis of length n. */
export function patchCount(n: number, g: T2TGeometry = PROPAINTER_T2T): number {
  return Math.floor((n + 2 * g.padding - g.kernel) / g.stride) + 1;
}

interface Plan {
  fh: number;
  fw: number;
  /** Blocks per axis of the phase maps. */
  hb: number;
  wb: number;
  /** Per tap (ky·k + kx): block offsets (a, b) and phase (r, q). */
  taps: Array<{ a: number; b: number; r: number; q: number }>;
}

function plan(h: number, w: number, g: T2TGeometry): Plan {
  const { kernel: k, stride: s, padding: p } = g;
  const fh = patchCount(h, g);
  const fw = patchCount(w, g);
  const kk = Math.ceil(k / s);
  let hb = fh + kk - 1;
  let wb = fw + kk - 1;
  // The phase maps must also cover the output window [p, p + h).
  hb = Math.max(hb, Math.ceil((p + h) / s));
  wb = Math.max(wb, Math.ceil((p + w) / s));
  const taps: Plan['taps'] = [];
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) taps.push({ a: Math.floor(ky / s), r: ky % s, b: Math.floor(kx / s), q: kx % s });
  }
  return { fh, fw, hb, wb, taps };
}

/**
 * F.fold: cols [N, fh, fw, k·k·C] (tap-major) → [N, h, w, C]; every entry is added into its pixel,
 * entries landing in the padding are dropped.
 */
export function foldPatches(cols: tf.Tensor4D, h: number, w: number, g: T2TGeometry = PROPAINTER_T2T): tf.Tensor4D {
  return tf.tidy(() => {
    const { kernel: k, stride: s, padding: p } = g;
    const { fh, fw, hb, wb, taps } = plan(h, w, g);
    const [n, ch, cw, kc] = cols.shape;
    if (ch !== fh || cw !== fw || kc % (k * k) !== 0) {
      throw new Error(`foldPatches: cols [${cols.shape}] do not match a ${h}x${w} map (${fh}x${fw} patches of ${k}x${k})`);
    }
    const c = kc / (k * k);
    // Tap-major rows, split in one op (repeated slices would each save a copy on the tape).
    const byTap = split(tf.transpose(tf.reshape(cols, [n * fh * fw, k * k, c]), [1, 0, 2]), k * k, 0);
    const phases: tf.Tensor4D[][] = Array.from({ length: s * s }, () => []);
    taps.forEach((t, i) => {
      const tap = tf.reshape(byTap[i], [n, fh, fw, c]) as tf.Tensor4D;
      phases[t.r * s + t.q].push(tf.pad(tap, [[0, 0], [t.a, hb - fh - t.a], [t.b, wb - fw - t.b], [0, 0]]));
    });
    const maps = phases.map((list) => (list.length === 0 ? tf.zeros([n, hb, wb, c]) : list.length === 1 ? list[0] : tf.addN(list)));
    // Interleave the phases into pixels [N, hb, s(r), wb, s(q), C] with two stacks (no rank-6
    // transpose, which is slow on wasm).
    const rowsR = Array.from({ length: s }, (_, r) =>
      tf.reshape(tf.stack(Array.from({ length: s }, (_, q) => tf.reshape(maps[r * s + q], [n * hb * wb, c])), 1), [n * hb, wb * s * c]),
    );
    const full = tf.reshape(tf.stack(rowsR, 1), [n, s * hb, s * wb, c]);
    return tf.slice(full, [0, p, p, 0], [n, h, w, c]) as tf.Tensor4D;
  });
}

/** nn.Unfold: x [N, h, w, C] → [N, fh, fw, k·k·C] (tap-major); padding reads zeros. */
export function unfoldPatches(x: tf.Tensor4D, g: T2TGeometry = PROPAINTER_T2T): tf.Tensor4D {
  return tf.tidy(() => {
    const { kernel: k, stride: s, padding: p } = g;
    const [n, h, w, c] = x.shape;
    const { fh, fw, hb, wb, taps } = plan(h, w, g);
    const padded = tf.pad(x, [[0, 0], [p, s * hb - h - p], [p, s * wb - w - p], [0, 0]]);
    // Phase maps (r, q) [N, hb, wb·C] by two splits (no rank-6 transpose).
    const maps: tf.Tensor[] = [];
    for (const rowPhase of split(tf.reshape(padded, [n * hb, s, wb * s * c]), s, 1)) {
      for (const ph of split(tf.reshape(rowPhase, [n * hb * wb, s, c]), s, 1)) maps.push(tf.reshape(ph, [n, hb, wb * c]));
    }
    // Rows a..a+fh of a phase, then columns b..b+fw as one contiguous run per row; each row band
    // is cut once and shared by the taps that use it.
    const bands = new Map<string, tf.Tensor>();
    const pieces = taps.map((t) => {
      const key = `${t.r},${t.q},${t.a}`;
      let band = bands.get(key);
      if (!band) {
        band = tf.reshape(tf.slice(maps[t.r * s + t.q], [0, t.a, 0], [n, fh, wb * c]), [n * fh, wb * c]);
        bands.set(key, band);
      }
      return tf.reshape(tf.slice(band, [0, t.b * c], [n * fh, fw * c]), [n * fh * fw, c]);
    });
    return tf.reshape(tf.stack(pieces, 1), [n, fh, fw, k * k * c]) as tf.Tensor4D;
  });
}

/** fold(ones) normaliser: number of patches covering each pixel, [1, h, w, 1] (host-computed). */
export function foldCounts(h: number, w: number, g: T2TGeometry = PROPAINTER_T2T): tf.Tensor4D {
  const axis = (n: number) => {
    const f = patchCount(n, g);
    const cnt = new Float32Array(n);
    for (let i = 0; i < f; i++) {
      for (let ky = 0; ky < g.kernel; ky++) {
        const y = g.stride * i - g.padding + ky;
        if (y >= 0 && y < n) cnt[y] += 1;
      }
    }
    return cnt;
  };
  const cy = axis(h);
  const cx = axis(w);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = cy[y] * cx[x];
  return tf.tensor4d(out, [1, h, w, 1]);
}
