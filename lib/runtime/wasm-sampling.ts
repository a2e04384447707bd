/**
 * BilinearGather, a kernel added for the wasm backend only: out[r] = Σ_i w_i[r]·flat[idx_i[r]]
 * for 4 corner index/weight columns, the forward of bilinear sampling from a zero-ringed image
 * (lib/ops/sampler.ts sampleCorners, used by deformable convolution and flow warping). One SIMD
 * pass over the output (./simd.ts) where the composed form runs 4 gathers, 4 broadcast products
 * and 3 sums over [K, C]; the corners are summed in the same order, so the bits are the same.
 * Other backends lack the kernel and sampleCorners keeps its composed form there.
 */
import { simdKernels } from './simd';
import { type KernelArgs, type TI, heapOffset, scoped, size } from './wasm-util';

export const BILINEAR_GATHER = 'BilinearGather';

export function bilinearGather({ inputs, backend }: KernelArgs): TI {
  const { flat } = inputs;
  const idx = [inputs.i0, inputs.i1, inputs.i2, inputs.i3];
  const ws = [inputs.w0, inputs.w1, inputs.w2, inputs.w3];
  const [rows, c] = flat.shape;
  const k = size(idx[0].shape);
  // The SIMD kernel does not bounds-check: corner rows come from clipped coordinates, but a
  // wrong one must be an error, not a read of unrelated heap memory.
  for (const t of idx) {
    const v = backend.typedArrayFromHeap(t);
    for (let i = 0; i < v.length; i++) {
      if (!(v[i] >= 0 && v[i] < rows)) throw new Error(`BilinearGather: corner row ${v[i]} is not in [0, ${rows})`);
    }
  }
  const simd = simdKernels(backend);
  if (!simd || c % 4 !== 0 || flat.dtype !== 'float32') {
    // Composed, as sampleCorners on other backends.
    return scoped(backend, (s) => {
      let acc: TI | null = null;
      for (let i = 0; i < 4; i++) {
        const term = s.run('Multiply', { a: s.run('GatherNd', { params: flat, indices: idx[i] }), b: ws[i] });
        acc = acc ? s.run('Add', { a: acc, b: term }) : term;
      }
      return acc as TI;
    });
  }
  const out = backend.makeOutput([k, c], 'float32');
  // Offsets after the allocation (valid across heap growth).
  const o = (t: TI) => heapOffset(backend, t);
  simd.bilinear_gather(o(flat), c, k, o(idx[0]), o(idx[1]), o(idx[2]), o(idx[3]), o(ws[0]), o(ws[1]), o(ws[2]), o(ws[3]), o(out));
  return out;
}
