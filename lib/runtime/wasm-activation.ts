/**
 * Tanh on wasm: the stock kernel calls scalar libm tanh per element (~14 ns); RAFT's GRU runs it
 * on [1, 30, 54, 128] 41 times per call. The pack's SIMD kernel (./simd.ts, kernels.wat
 * `tanh_f32`) evaluates it in float64 two lanes at a time and rounds once, so its float32 result
 * is the correctly rounded tanh but in rare near-halfway cases, element by element. The gradient
 * is tfjs's own, from the output.
 */
import { simdKernels } from './simd';
import { type KernelArgs, type TI, heapOffset, size, stockKernel } from './wasm-util';

export function tanh({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  const simd = simdKernels(backend);
  if (!simd || x.dtype !== 'float32') return stockKernel('Tanh')!({ inputs, backend, attrs }) as TI;
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const n = size(x.shape);
  if (n > 0) simd.tanh_f32(heapOffset(backend, x), heapOffset(backend, out), n);
  return out;
}
