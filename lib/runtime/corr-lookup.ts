/**
 * RAFT's windowed correlation lookup (RAFT/corr.py CorrBlock.__call__ with bilinear_sampler), the
 * host definition: lib/models/raft/corr.ts runs it on backends without the `RaftCorrLookup`
 * kernel, and the wasm pack's kernel (./wasm-corr.ts, kernels.wat `corr_lookup`) does the same
 * float64 arithmetic in the same order (same bits).
 */

/** Name of the kernel a backend may register for the whole lookup (the wasm pack does). */
export const RAFT_CORR_LOOKUP = 'RaftCorrLookup';

/**
 * levels[l]: [Q, lh, lw] row-major (sizes[l] = [lh, lw]); coords: [Q · 2] (x, y) in level-0
 * pixels → [Q · levels · (2r+1)²]. Within a level the channel is (ox + r)·(2r+1) + (oy + r) — the
 * x-offset is the slow index ([QUIRK] of the official meshgrid(dy, dx) used as (x, y)). Bilinear
 * with zero padding and align_corners=True pixel coordinates (grid_sample on coords / 2^l +
 * offset); all samples of one query share the fractional offset.
 */
export function corrLookupHost(levels: readonly ArrayLike<number>[], sizes: ReadonlyArray<readonly [number, number]>, q: number,
  coords: ArrayLike<number>, radius: number): Float32Array {
  const k = 2 * radius + 1;
  const win = k + 1;
  const perLevel = k * k;
  const stride = levels.length * perLevel;
  const out = new Float32Array(q * stride);
  const g = new Float64Array(win * win); // window [a (x), b (y)]
  const gx = new Float64Array(k * win);
  for (let l = 0; l < levels.length; l++) {
    const data = levels[l];
    const [lh, lw] = sizes[l];
    const scale = 1 / 2 ** l;
    for (let i = 0; i < q; i++) {
      const x = coords[2 * i] * scale;
      const y = coords[2 * i + 1] * scale;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const base = i * lh * lw;
      for (let a = 0; a < win; a++) {
        const xi = x0 - radius + a;
        const inX = xi >= 0 && xi < lw;
        for (let b = 0; b < win; b++) {
          const yi = y0 - radius + b;
          g[a * win + b] = inX && yi >= 0 && yi < lh ? data[base + yi * lw + xi] : 0;
        }
      }
      // Blend along x, then y.
      for (let a = 0; a < k; a++) for (let b = 0; b < win; b++) gx[a * win + b] = (1 - fx) * g[a * win + b] + fx * g[(a + 1) * win + b];
      const o = i * stride + l * perLevel;
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) out[o + a * k + b] = (1 - fy) * gx[a * win + b] + fy * gx[a * win + b + 1];
    }
  }
  return out;
}
