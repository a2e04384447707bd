/**
 * Evaluation metrics with the official definitions (core/metrics.py), computed on the host in
 * float64: PSNR and SSIM on [0, 255] RGB images (H×W×C, channels-last), EPE on flows, and the
 * Fréchet distance used by VFID.
 */
import { Matrix, matMul, sqrtPsd, symmetricEigen } from './linalg';

type Num = ArrayLike<number>;

/** 20·log10(255 / sqrt(MSE)); +Infinity for identical images. */
export function psnr(a: Num, b: Num): number {
  if (a.length !== b.length) throw new Error(`psnr: images have ${a.length} and ${b.length} values`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  const mse = s / a.length;
  return mse === 0 ? Infinity : 20 * Math.log10(255 / Math.sqrt(mse));
}

/** scipy.ndimage.uniform_filter1d with mode 'reflect' (half-sample symmetric) along one axis. */
function uniform1d(src: Float64Array, h: number, w: number, size: number, alongRows: boolean): Float64Array {
  const out = new Float64Array(h * w);
  const half = size >> 1;
  const len = alongRows ? h : w;
  const lines = alongRows ? w : h;
  const reflect = (i: number) => {
    const period = 2 * len;
    let k = ((i % period) + period) % period;
    return k < len ? k : period - 1 - k;
  };
  const line = new Float64Array(len);
  for (let l = 0; l < lines; l++) {
    for (let i = 0; i < len; i++) line[i] = alongRows ? src[i * w + l] : src[l * w + i];
    let acc = 0;
    for (let k = -half; k <= half; k++) acc += line[reflect(k)];
    for (let i = 0; i < len; i++) {
      const v = acc / size;
      if (alongRows) out[i * w + l] = v;
      else out[l * w + i] = v;
      acc += line[reflect(i + half + 1)] - line[reflect(i - half)];
    }
  }
  return out;
}

function uniform2d(x: Float64Array, h: number, w: number, size: number): Float64Array {
  return uniform1d(uniform1d(x, h, w, size, true), h, w, size, false);
}

/** The official SSIM window (compare_ssim win_size=65): frames smaller than it have no SSIM. */
export const SSIM_WINDOW = 65;

export interface SsimOptions {
  winSize?: number;
  dataRange?: number;
}

/**
 * SSIM as skimage's compare_ssim(a, b, data_range=255, multichannel=True, win_size=65): uniform
 * window, sample covariance, per-channel maps averaged after cropping (win−1)/2 at every side.
 * `a`, `b`: H×W×C row-major, values in [0, dataRange].
 */
export function ssim(a: Num, b: Num, h: number, w: number, c: number, opts: SsimOptions = {}): number {
  const win = opts.winSize ?? SSIM_WINDOW;
  const range = opts.dataRange ?? 255;
  if (a.length !== h * w * c || b.length !== h * w * c) throw new Error(`ssim: expected ${h}×${w}×${c} values`);
  if (h < win || w < win) throw new Error(`ssim: images must be at least ${win}×${win} (win_size), got ${h}×${w}`);
  const np = win * win;
  const covNorm = np / (np - 1);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const pad = (win - 1) >> 1;
  let total = 0;
  for (let ch = 0; ch < c; ch++) {
    const x = new Float64Array(h * w);
    const y = new Float64Array(h * w);
    for (let i = 0; i < h * w; i++) {
      x[i] = a[i * c + ch];
      y[i] = b[i * c + ch];
    }
    const sq = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]);
    const ux = uniform2d(x, h, w, win);
    const uy = uniform2d(y, h, w, win);
    const uxx = uniform2d(sq(x, x), h, w, win);
    const uyy = uniform2d(sq(y, y), h, w, win);
    const uxy = uniform2d(sq(x, y), h, w, win);
    let s = 0;
    let n = 0;
    for (let r = pad; r < h - pad; r++) {
      for (let q = pad; q < w - pad; q++) {
        const i = r * w + q;
        const vx = covNorm * (uxx[i] - ux[i] * ux[i]);
        const vy = covNorm * (uyy[i] - uy[i] * uy[i]);
        const vxy = covNorm * (uxy[i] - ux[i] * uy[i]);
        const num = (2 * ux[i] * uy[i] + c1) * (2 * vxy + c2);
        const den = (ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2);
        s += num / den;
        n++;
      }
    }
    total += s / n;
  }
  return total / c;
}

/** Mean end-point error of two flow fields laid out [..., 2] (dx, dy). */
export function epe(flow1: Num, flow2: Num): number {
  if (flow1.length !== flow2.length || flow1.length % 2) throw new Error('epe: flows must have the same even length');
  let s = 0;
  for (let i = 0; i < flow1.length; i += 2) {
    const du = flow1[i] - flow2[i];
    const dv = flow1[i + 1] - flow2[i + 1];
    s += Math.sqrt(du * du + dv * dv);
  }
  return s / (flow1.length / 2);
}

/** Mean vector and unbiased covariance (np.cov rowvar=False) of rows × dims activations. */
export function meanCov(acts: Num, rows: number, dims: number): { mean: Float64Array; cov: Matrix } {
  const mean = new Float64Array(dims);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dims; d++) mean[d] += acts[r * dims + d];
  for (let d = 0; d < dims; d++) mean[d] /= rows;
  const cov = new Float64Array(dims * dims);
  const centred = new Float64Array(dims);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dims; d++) centred[d] = acts[r * dims + d] - mean[d];
    for (let i = 0; i < dims; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      for (let j = i; j < dims; j++) cov[i * dims + j] += ci * centred[j];
    }
  }
  const norm = 1 / Math.max(rows - 1, 1);
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      cov[i * dims + j] *= norm;
      cov[j * dims + i] = cov[i * dims + j];
    }
  }
  return { mean, cov: { n: dims, data: cov } };
}

/**
 * Fréchet distance |μ1−μ2|² + tr(Σ1) + tr(Σ2) − 2·tr(sqrtm(Σ1Σ2)). tr(sqrtm(Σ1Σ2)) is computed as
 * Σ sqrt(λ) over the eigenvalues of the symmetric Σ1^½ Σ2 Σ1^½ (similar to Σ1Σ2), which equals the
 * real part scipy's sqrtm yields, without complex arithmetic.
 */
export function frechetDistance(mu1: Num, s1: Matrix, mu2: Num, s2: Matrix): number {
  const n = s1.n;
  let diff = 0;
  for (let i = 0; i < n; i++) diff += (mu1[i] - mu2[i]) ** 2;
  let tr1 = 0;
  let tr2 = 0;
  for (let i = 0; i < n; i++) {
    tr1 += s1.data[i * n + i];
    tr2 += s2.data[i * n + i];
  }
  const r = sqrtPsd(s1);
  const m = matMul(matMul(r, s2), r);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) {
    const avg = 0.5 * (m.data[i * n + j] + m.data[j * n + i]);
    m.data[i * n + j] = avg;
    m.data[j * n + i] = avg;
  }
  const { values } = symmetricEigen(m);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(v, 0));
  return diff + tr1 + tr2 - 2 * trSqrt;
}

/** VFID-style distance between two sets of activations (rows × dims each). */
export function activationFrechet(real: Num, fake: Num, rows: number, dims: number): number {
  const a = meanCov(real, rows, dims);
  const b = meanCov(fake, fake.length / dims, dims);
  return frechetDistance(a.mean, a.cov, b.mean, b.cov);
}
