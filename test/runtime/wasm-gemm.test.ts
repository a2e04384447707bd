/**
 * The pack's SIMD GEMM against the stock BatchMatMul (XNNPACK) it replaces: the same products
 * bit for bit, for register-tile remainders in both dimensions (rows past a multiple of 4,
 * columns past a multiple of 8 and of 4), column blocks, and the shapes the networks run; 1×1
 * convolutions run as one such GEMM, the same bits as the stock XNNPACK convolution.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { simdKernels } from '../../lib/runtime/simd';
import { type WasmBackend, stockKernel } from '../../lib/runtime/wasm-util';
import { gemm, gemmColumnBlock } from '../../lib/runtime/wasm-gemm';
import { winogradOptions } from '../../lib/runtime/wasm-winograd';
import { profileKernels } from '../../lib/runtime/kernel-profile';
import { seeded } from '../helpers';

describe('SIMD GEMM on wasm', () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [3, 5, 7], [5, 3, 9], [7, 17, 13], [9, 4, 2], [13, 33, 37], [4, 8, 8], [6, 2, 3], [4, 1, 12],
    // Reductions past 1024 read B from packed panels (with and without a narrow last panel).
    [9, 1100, 13], [5, 1030, 16],
    // RAFT's GRU and motion-encoder products, a 1×1 convolution with 2 outputs, a long reduction
    // whose columns come in several blocks.
    [341, 128, 384], [112, 256, 126], [1620, 256, 2], [37, 2500, 70],
  ];
  for (const [m, k, n] of shapes) {
    test(`[${m}, ${k}] · [${k}, ${n}] equals the stock BatchMatMul exactly`, async () => {
      await useBackend('wasm');
      const backend = tf.backend() as unknown as WasmBackend;
      assert.ok(simdKernels(backend), 'the SIMD module loads');
      tf.tidy(() => {
        const a = tf.tensor3d(seeded(m * k, m + k, -1, 1), [1, m, k]);
        const b = tf.tensor3d(seeded(k * n, n + 7, -1, 1), [1, k, n]);
        const mine = gemm(backend, a, b);
        const stock = stockKernel('BatchMatMul')!({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
        const got = tf.engine().makeTensorFromTensorInfo(mine);
        const want = tf.engine().makeTensorFromTensorInfo(stock);
        assert.deepEqual(got.shape, [1, m, n]);
        const [g, w] = [got.dataSync(), want.dataSync()];
        let diff = 0;
        for (let i = 0; i < g.length; i++) if (!Object.is(g[i], w[i])) diff++;
        assert.equal(diff, 0, `${diff} of ${g.length} products differ from XNNPACK's`);
      });
    });
  }

  test('1×1 stride-1 unpadded convolutions (forward and input gradient) equal the stock XNNPACK convolution bit for bit', async () => {
    await useBackend('wasm');
    const backend = tf.backend() as unknown as WasmBackend;
    const cases: Array<{ x: [number, number, number, number]; co: number; pad: 'valid' | 'same' | 0 }> = [
      { x: [2, 5, 7, 12], co: 9, pad: 'valid' },
      { x: [1, 6, 5, 3], co: 1, pad: 'same' },
      { x: [3, 4, 4, 33], co: 16, pad: 0 },
    ];
    for (const c of cases) {
      tf.tidy(() => {
        const x = tf.tensor4d(seeded(c.x.reduce((p, q) => p * q), 3, -1, 1), c.x);
        const w = tf.tensor4d(seeded(c.x[3] * c.co, 4, -1, 1), [1, 1, c.x[3], c.co]);
        const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
        const before = (backend as unknown as { numDataIds(): number }).numDataIds();
        const mine = tf.conv2d(x, w, 1, c.pad);
        assert.equal((backend as unknown as { numDataIds(): number }).numDataIds(), before + 1, 'views and the GEMM output freed');
        const stock = tf.engine().makeTensorFromTensorInfo(stockKernel('Conv2D')!({ inputs: { x, filter: w }, backend, attrs }) as tf.TensorInfo);
        assert.deepEqual(mine.shape, stock.shape);
        assert.deepEqual(Array.from(mine.dataSync()), Array.from(stock.dataSync()), `${JSON.stringify(c)}`);
        // The input gradient runs Conv2D with the in/out-swapped filter: a 1×1 conv again.
        const dy = tf.tensor4d(seeded(mine.size, 5, -1, 1), mine.shape as [number, number, number, number]);
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w, 1, c.pad), dy)))(x);
        const wt = tf.transpose(w, [0, 1, 3, 2]);
        const dxStock = tf.engine().makeTensorFromTensorInfo(stockKernel('Conv2D')!({ inputs: { x: dy, filter: wt }, backend, attrs }) as tf.TensorInfo);
        assert.deepEqual(Array.from(dx.dataSync()), Array.from(dxStock.dataSync()), `input gradient ${JSON.stringify(c)}`);
      });
    }
    const { profile } = await profileKernels(() => tf.tidy(() => tf.conv2d(tf.ones([1, 3, 3, 4]) as tf.Tensor4D, tf.ones([1, 1, 4, 4]) as tf.Tensor4D, 1, 'valid').dataSync()));
    const names = profile.calls.map((k) => k.name);
    assert.ok(names.includes('Conv2D/Gemm') && !names.includes('Conv2D/Conv2D'), `the conv ran as the GEMM, not the stock conv: ${names.join(', ')}`);
    // Not 1×1 stride-1 unpadded: the other paths (the stock conv here, Winograd off).
    winogradOptions.enabled = false;
    try {
      tf.tidy(() => {
        const x = tf.tensor4d(seeded(2 * 6 * 6 * 4, 6, -1, 1), [2, 6, 6, 4]);
        const w = tf.tensor4d(seeded(4 * 8, 7, -1, 1), [1, 1, 4, 8]);
        for (const [strides, pad] of [[2, 'valid'], [1, 1]] as Array<[number, 'valid' | number]>) {
          const y = tf.conv2d(x, w, strides, pad);
          const ref = tf.engine().makeTensorFromTensorInfo(stockKernel('Conv2D')!({ inputs: { x, filter: w }, backend, attrs: { strides, pad, dataFormat: 'NHWC', dilations: 1 } }) as tf.TensorInfo);
          assert.deepEqual(y.shape, ref.shape);
          assert.deepEqual(Array.from(y.dataSync()), Array.from(ref.dataSync()));
        }
      });
    } finally {
      winogradOptions.enabled = true;
    }
  });

  test('column blocks: multiples of 8 within the L2 budget, whole width when small', () => {
    assert.equal(gemmColumnBlock(128, 384), 384);
    assert.equal(gemmColumnBlock(2500, 70), 24); // 256 KiB / (4 · 2500) = 26.2 → 24
    assert.equal(gemmColumnBlock(100000, 512), 8);
    assert.equal(gemmColumnBlock(64, 3), 3);
  });
});
