/**
 * Mean and Sum over a run of axes before the last on wasm (instance norm's mean and variance over
 * H, W of NHWC; bias gradients, summed over N, H, W). The stock kernels transpose the reduced axes
 * innermost and then sum each output with one serial float32 add chain. The pack's SIMD kernel
 * (kernels.wat `sum_rows`) sums the same elements in the same order, 4 channels per vector and in
 * place: same bits, no transpose.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd';
import { type KernelArgs, type TI, heapOffset, size, stockKernel } from './wasm-util';

function reduceRows(name: 'Mean' | 'Sum', { inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  const rank = x.shape.length;
  // In the order given: the stock kernel sums in that axis order, so only ascending runs match it.
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const first = axes[0];
  const last = axes[axes.length - 1];
  const inner = size(x.shape.slice(last + 1));
  const simd = simdKernels(backend);
  const contiguous = axes.length > 0 && axes.every((a, i) => a === first + i);
  if (!simd || x.dtype !== 'float32' || !contiguous || last >= rank - 1 || inner % 4 !== 0 || size(x.shape) === 0) {
    return stockKernel(name)!({ inputs, backend, attrs }) as TI;
  }
  const shape = attrs.keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
  const out = backend.makeOutput(shape, 'float32');
  simd.sum_rows(heapOffset(backend, x), heapOffset(backend, out), size(x.shape.slice(0, first)), size(x.shape.slice(first, last + 1)), inner,
    name === 'Mean' ? 1 : 0);
  return out;
}

export const mean = (args: KernelArgs): TI => reduceRows('Mean', args);
export const sum = (args: KernelArgs): TI => reduceRows('Sum', args);
