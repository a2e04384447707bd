/**
 * The pack's SIMD GEMM against the stock BatchMatMul (XNNPACK) it replaces: the same products
 * bit for bit, for register-tile remainders in both dimensions (rows past a multiple of 4,
 * columns past a multiple of 8 and of 4), column blocks, and the shapes the networks run.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { simdKernels } from '../../lib/runtime/simd';
import { type WasmBackend, stockKernel } from '../../lib/runtime/wasm-util';
import { gemm, gemmColumnBlock } from '../../lib/runtime/wasm-gemm';
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

  test('column blocks: multiples of 8 within the L2 budget, whole width when small', () => {
    assert.equal(gemmColumnBlock(128, 384), 384);
    assert.equal(gemmColumnBlock(2500, 70), 24); // 256 KiB / (4 · 2500) = 26.2 → 24
    assert.equal(gemmColumnBlock(100000, 512), 8);
    assert.equal(gemmColumnBlock(64, 3), 3);
  });
});
