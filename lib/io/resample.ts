/**
 * Bicubic resampling of uint8 images as the two libraries of the official inference script do it
 * (lib/io/image.ts holds the bilinear and nearest ones):
 *  - `resizeBicubicPil`: PIL `Image.resize(size)` with its default BICUBIC filter (a = −0.5) —
 *    separable convolution whose support widens with the shrink factor (antialiasing when
 *    shrinking), coefficients normalised per output pixel and quantised to 22 fractional bits,
 *    horizontal pass first into a uint8 image, then the vertical pass (Pillow's Resample.c).
 *  - `resizeBicubicCv`: OpenCV `cv2.resize(..., INTER_CUBIC)` (a = −0.75, 4 taps, no
 *    antialiasing, edge replicated), 11-bit fixed-point coefficients. OpenCV's vectorised
 *    vertical pass rounds in float, its scalar tail in fixed point: they can differ by 1.
 * Same-size resizes are exact copies in both libraries.
 */
import { roundHalfEven, type Image8 } from './image';

const PIL_PRECISION_BITS = 32 - 8 - 2;

function pilCubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Taps {
  /** First source index per output pixel. */
  start: Int32Array;
  /** Taps per output pixel. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output pixel. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis. */
function pilTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = pilCubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      const v = w * (1 << PIL_PRECISION_BITS);
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}

function clip8(ss: number): number {
  const v = ss >> PIL_PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** PIL `Image.resize((width, height))` with the default BICUBIC filter (see the file header). */
export function resizeBicubicPil(img: Image8, width: number, height: number): Image8 {
  const { width: sw, height: sh, channels: c, data } = img;
  if (sw === width && sh === height) return { width, height, channels: c, data: new Uint8Array(data) };
  const tx = pilTaps(sw, width);
  const ty = pilTaps(sh, height);
  const half = 1 << (PIL_PRECISION_BITS - 1);
  // Horizontal pass over the source rows the vertical pass uses (all of them when it is skipped).
  let src = data;
  let rowOffset = 0;
  if (sw !== width) {
    const first = sh !== height ? ty.start[0] : 0;
    const last = sh !== height ? ty.start[height - 1] + ty.count[height - 1] : sh;
    const rows = last - first;
    rowOffset = first;
    const tmp = new Uint8Array(rows * width * c);
    for (let y = 0; y < rows; y++) {
      const base = (y + first) * sw * c;
      for (let x = 0; x < width; x++) {
        const s0 = tx.start[x];
        const n = tx.count[x];
        const wo = x * tx.ksize;
        for (let ch = 0; ch < c; ch++) {
          let ss = half;
          for (let i = 0; i < n; i++) ss += data[base + (s0 + i) * c + ch] * tx.weights[wo + i];
          tmp[(y * width + x) * c + ch] = clip8(ss);
        }
      }
    }
    src = tmp;
  }
  if (sh === height) return { width, height, channels: c, data: src === data ? new Uint8Array(data) : src };
  const out = new Uint8Array(height * width * c);
  const rowLen = width * c;
  for (let y = 0; y < height; y++) {
    const s0 = ty.start[y] - rowOffset;
    const n = ty.count[y];
    const wo = y * ty.ksize;
    for (let i = 0; i < rowLen; i++) {
      let ss = half;
      for (let k = 0; k < n; k++) ss += src[(s0 + k) * rowLen + i] * ty.weights[wo + k];
      out[y * rowLen + i] = clip8(ss);
    }
  }
  return { width, height, channels: c, data: out };
}

const CV_COEF_BITS = 11;
const CV_COEF_SCALE = 1 << CV_COEF_BITS;
const fround = Math.fround;

/** OpenCV cubic taps along one axis: first source index (sx − 1) and 4 fixed-point weights. */
function cvCubicTaps(src: number, dst: number): { idx: Int32Array; w: Int32Array } {
  const scale = 1 / (dst / src);
  const A = -0.75;
  const idx = new Int32Array(dst);
  const w = new Int32Array(dst * 4);
  for (let d = 0; d < dst; d++) {
    let fx = fround((d + 0.5) * scale - 0.5);
    const sx = Math.floor(fx);
    fx = fround(fx - sx);
    // interpolateCubic in float
    const x1 = fround(fx + 1);
    const c0 = fround(fround(fround(fround(fround(A * x1) - 5 * A) * x1) + 8 * A) * x1 - 4 * A);
    const c1 = fround(fround(fround(fround((A + 2) * fx) - (A + 3)) * fx) * fx + 1);
    const ox = fround(1 - fx);
    const c2 = fround(fround(fround(fround((A + 2) * ox) - (A + 3)) * ox) * ox + 1);
    const c3 = fround(fround(fround(1 - c0) - c1) - c2);
    idx[d] = sx - 1;
    w[d * 4] = roundHalfEven(c0 * CV_COEF_SCALE);
    w[d * 4 + 1] = roundHalfEven(c1 * CV_COEF_SCALE);
    w[d * 4 + 2] = roundHalfEven(c2 * CV_COEF_SCALE);
    w[d * 4 + 3] = roundHalfEven(c3 * CV_COEF_SCALE);
  }
  return { idx, w };
}

/** `cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC)` for uint8 (see the file header). */
export function resizeBicubicCv(img: Image8, width: number, height: number): Image8 {
  const { width: sw, height: sh, channels: c, data } = img;
  if (sw === width && sh === height) return { width, height, channels: c, data: new Uint8Array(data) };
  const tx = cvCubicTaps(sw, width);
  const ty = cvCubicTaps(sh, height);
  const rowLen = width * c;
  const clampX = (x: number) => (x < 0 ? 0 : x >= sw ? sw - 1 : x);
  const hrows = new Map<number, Int32Array>();
  const hrow = (y: number): Int32Array => {
    let r = hrows.get(y);
    if (r) return r;
    r = new Int32Array(rowLen);
    const base = y * sw * c;
    for (let x = 0; x < width; x++) {
      const s = tx.idx[x];
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < 4; k++) acc += data[base + clampX(s + k) * c + ch] * tx.w[x * 4 + k];
        r[x * c + ch] = acc;
      }
    }
    if (hrows.size > 8) hrows.clear();
    hrows.set(y, r);
    return r;
  };
  const out = new Uint8Array(height * rowLen);
  const shift = 2 * CV_COEF_BITS;
  const half = 2 ** (shift - 1);
  for (let y = 0; y < height; y++) {
    const s = ty.idx[y];
    const r = [0, 1, 2, 3].map((k) => hrow(Math.min(Math.max(s + k, 0), sh - 1)));
    const b = ty.w.subarray(y * 4, y * 4 + 4);
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = Math.floor((r[0][i] * b[0] + r[1][i] * b[1] + r[2][i] * b[2] + r[3][i] * b[3] + half) / 2 ** shift);
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, channels: c, data: out };
}
