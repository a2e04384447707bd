/**
 * Winograd Conv2D of the wasm pack (SIMD transforms + XNNPACK GEMMs) against the cpu backend's
 * direct convolution: F(4×4, 3×3), F(2×2, 3×3) and F(4, 5); paddings (same, valid, explicit
 * asymmetric), batches, odd sizes, channel counts that are not multiples of 4, chunked tiles, and
 * the input gradient (which runs Conv2D with the flipped filter); the cache of prepared filters;
 * and the committed .wasm files against a fresh build of the source.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import { winogradOptions } from '../../lib/runtime/wasm-winograd';
import { simdKernels } from '../../lib/runtime/simd';
import { assertClose, seeded } from '../helpers';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

async function conv(be: 'cpu' | 'wasm', xs: number[], co: number, pad: Pad, grad = false, k: [number, number] = [3, 3]): Promise<Float32Array[]> {
  await useBackend(be);
  return tf.tidy(() => {
    const x = tf.tensor4d(seeded(xs.reduce((a, b) => a * b, 1), 5), xs as [number, number, number, number]);
    const w = tf.tensor4d(seeded(k[0] * k[1] * xs[3] * co, 6, -0.2, 0.2), [k[0], k[1], xs[3], co]);
    const y = tf.conv2d(x, w, 1, pad);
    const out = [y.dataSync() as Float32Array];
    if (grad) {
      const dy = tf.tensor(seeded(y.size, 7), y.shape);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w, 1, pad), dy)))(x);
      out.push(g.dataSync() as Float32Array);
    }
    return out;
  });
}

describe('Winograd Conv2D on wasm vs cpu', () => {
  const saved = { ...winogradOptions };
  const cases: Array<{ x: number[]; co: number; pad: Pad; chunk?: number; k?: [number, number] }> = [
    { x: [1, 9, 11, 8], co: 8, pad: 'same' },
    // F(4, 5) along W and along H (RAFT's ConvGRU pads (0, 2) and (2, 0)).
    { x: [1, 5, 14, 8], co: 12, pad: [[0, 0], [0, 0], [2, 2], [0, 0]], k: [1, 5] },
    { x: [2, 13, 6, 12], co: 8, pad: [[0, 0], [2, 2], [0, 0], [0, 0]], k: [5, 1] },
    { x: [1, 11, 9, 6], co: 6, pad: 'valid', k: [5, 1], chunk: 8 * 8 * 3 },
    { x: [2, 8, 7, 12], co: 4, pad: 'valid' },
    { x: [1, 6, 10, 6], co: 10, pad: 'same' }, // channels padded to multiples of 4
    { x: [1, 7, 9, 8], co: 8, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [3, 10, 9, 8], co: 12, pad: 'same', chunk: 16 * 12 * 5 }, // 5 tiles per chunk
  ];
  // 3×3 filters: F(2×2, 3×3) by default (few tiles, filters used once), F(4×4, 3×3) for the
  // output and the gradient, and F(2×2, 3×3) only.
  const modes: Array<{ name: string; opts: Partial<typeof winogradOptions> }> = [
    { name: '', opts: {} },
    { name: ', F(4×4)', opts: { tile4x4MinTiles: 0 } },
    { name: ', F(2×2) only', opts: { tile4x4: false } },
  ];
  for (const c of cases) for (const m of modes) {
    if (m.name && c.k) continue;
    test(`${(c.k ?? [3, 3]).join('×')} x ${JSON.stringify(c.x)} → ${c.co}, pad ${JSON.stringify(c.pad)}${c.chunk ? ', chunked' : ''}${m.name}`, async () => {
      const ref = await conv('cpu', c.x, c.co, c.pad, true, c.k);
      Object.assign(winogradOptions, { minIn: 1, minOut: 1, chunkFloats: c.chunk ?? saved.chunkFloats }, m.opts);
      try {
        await useBackend('wasm');
        const before = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
        const got = await conv('wasm', c.x, c.co, c.pad, true, c.k);
        assert.equal((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), before, 'heap buffers leaked');
        assertClose(got[0], ref[0], 1e-5, 'output');
        assertClose(got[1], ref[1], 1e-5, 'input gradient');
      } finally {
        Object.assign(winogradOptions, saved);
      }
    });
  }

  test('prepared filters are reused outside the tape with the same bits, dropped with their filter and when a tape starts', async () => {
    await useBackend('wasm');
    const be = tf.backend() as unknown as { numDataIds(): number };
    Object.assign(winogradOptions, { minIn: 1, minOut: 1 });
    try {
      const x = tf.tensor4d(seeded(2 * 9 * 10 * 8, 11), [2, 9, 10, 8]);
      const w = tf.tensor4d(seeded(9 * 8 * 12, 12, -0.2, 0.2), [3, 3, 8, 12]);
      const start = be.numDataIds();
      // Few tiles: F(2×2); its transform and 16 views stay with w.
      const first = tf.conv2d(x, w, 1, 'same');
      assert.equal(be.numDataIds() - start - 1, 17);
      // Used again: the prepared filter is reused, and the algorithm (so the rounding) is the same.
      const second = tf.conv2d(x, w, 1, 'same');
      assert.equal(be.numDataIds() - start - 2, 17, 'a second call reuses the prepared filter');
      assert.deepEqual(Array.from(second.dataSync()), Array.from(first.dataSync()));
      tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'same')))(x).dispose();
      assert.equal(be.numDataIds() - start, 2, 'a convolution under a tape clears the cache');
      const third = tf.conv2d(x, w, 1, 'same');
      assert.deepEqual(Array.from(third.dataSync()), Array.from(first.dataSync()));
      tf.dispose([first, second, third]);
      assert.equal(be.numDataIds() - start, 17, 'cached again');
      w.dispose();
      assert.equal(be.numDataIds() - start, -1, 'disposing the filter frees its transform');
      x.dispose();
    } finally {
      Object.assign(winogradOptions, saved);
    }
  });

  test('a batch gives each image the bits it gets alone: the algorithm depends on the per-image shape only', async () => {
    await useBackend('wasm');
    // 9×10 outputs are 3×3 = 9 tiles of 4×4 per image: F(2×2) below a threshold of 12 (the batch
    // of 2 has 18 tiles), F(4×4) at 6.
    for (const tile4x4MinTiles of [12, 6]) {
      Object.assign(winogradOptions, { minIn: 1, minOut: 1, tile4x4MinTiles });
      try {
        // The images alone first, then the batch: neither the cache nor the batch size may change the bits.
        const [one, two, both] = tf.tidy(() => {
          const x = tf.tensor4d(seeded(2 * 9 * 10 * 8, 13), [2, 9, 10, 8]);
          const w = tf.tensor4d(seeded(9 * 8 * 12, 14, -0.2, 0.2), [3, 3, 8, 12]);
          return [...tf.split(x, 2).map((xi) => tf.conv2d(xi as tf.Tensor4D, w, 1, 'same')), tf.conv2d(x, w, 1, 'same')].map((t) => Array.from(t.dataSync()));
        });
        assert.deepEqual(both, [...one, ...two], `threshold ${tile4x4MinTiles}`);
      } finally {
        Object.assign(winogradOptions, saved);
      }
    }
  });

  test('the SIMD module loads on the wasm heap, and the thresholds keep small convs on XNNPACK', async () => {
    await useBackend('wasm');
    assert.ok(simdKernels(tf.backend() as never), 'SIMD kernels available');
    // Below the thresholds the result is the stock convolution's, bit for bit.
    const x = tf.tensor4d(seeded(1 * 6 * 6 * 8, 8), [1, 6, 6, 8]);
    const w = tf.tensor4d(seeded(9 * 8 * 8, 9), [3, 3, 8, 8]);
    const a = tf.conv2d(x, w, 1, 'same').dataSync();
    winogradOptions.enabled = false;
    const b = tf.conv2d(x, w, 1, 'same').dataSync();
    winogradOptions.enabled = true;
    assert.deepEqual(Array.from(a), Array.from(b));
    tf.dispose([x, w]);
  });

  test('16 to 63 channels take F(4×4) where one image has ≥ 100 tiles of 4×4, and XNNPACK otherwise', async () => {
    // [1, h, w, c] → co, 3×3 'same': the default thresholds, Winograd (rounds differently) or not.
    const cases: Array<{ x: number[]; co: number; wino: boolean }> = [
      { x: [1, 40, 40, 16], co: 16, wino: true }, // 10×10 tiles
      { x: [2, 40, 36, 16], co: 20, wino: false }, // 10×9 per image: F(2×2) only, which loses at 16–63 channels
      { x: [1, 40, 40, 8], co: 16, wino: false }, // 8 input channels
      { x: [1, 40, 40, 16], co: 12, wino: false }, // 12 output channels
    ];
    for (const c of cases) {
      const ref = await conv('cpu', c.x, c.co, 'same');
      await useBackend('wasm');
      const got = await conv('wasm', c.x, c.co, 'same');
      winogradOptions.enabled = false;
      try {
        const stock = await conv('wasm', c.x, c.co, 'same');
        assert.equal(got[0].some((v, i) => v !== stock[0][i]), c.wino, `${JSON.stringify(c.x)} → ${c.co}: Winograd ${c.wino}`);
      } finally {
        winogradOptions.enabled = true;
      }
      assertClose(got[0], ref[0], 1e-5, `${JSON.stringify(c.x)} → ${c.co}`);
    }
  });
});

describe('Winograd filter gradient (Conv2DBackpropFilter, F(2×2, 3×3)) on wasm vs cpu', () => {
  const saved = { ...winogradOptions };
  /** The filter gradient of a 3×3 stride-1 conv, through the registered kernel of `be`. */
  async function filterGrad(be: 'cpu' | 'wasm', xs: number[], co: number, pad: Pad): Promise<Float32Array> {
    await useBackend(be);
    return tf.tidy(() => {
      const x = tf.tensor4d(seeded(xs.reduce((a, b) => a * b, 1), 21), xs as [number, number, number, number]);
      const info = tf.backend_util.computeConv2DInfo(x.shape, [3, 3, xs[3], co], 1, 1, pad);
      const dy = tf.tensor4d(seeded(info.outShape.reduce((a, b) => a * b, 1), 22), info.outShape);
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
        { strides: 1, pad, dataFormat: 'NHWC', filterShape: [3, 3, xs[3], co] } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return dw.dataSync() as Float32Array;
    });
  }
  const cases: Array<{ x: number[]; co: number; pad: Pad; chunk?: number; note?: string; im2col?: boolean }> = [
    { x: [1, 9, 11, 8], co: 12, pad: 'same', note: 'odd output: edge tiles half outside, 30 tiles in groups of 4' },
    { x: [2, 8, 7, 4], co: 8, pad: 'valid' },
    { x: [1, 7, 9, 8], co: 4, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [3, 10, 9, 8], co: 12, pad: 'same', chunk: 8, note: '75 tiles in chunks of 8 across images, the last 11 (a rest of 3 joins it)' },
    { x: [1, 6, 10, 6], co: 10, pad: 'same', note: 'channels padded to multiples of 4' },
    { x: [2, 2, 3, 8], co: 8, pad: 'same', im2col: true, note: 'fewer than 4 tiles per image: im2col' },
  ];
  for (const c of cases) {
    test(`x ${JSON.stringify(c.x)} → ${c.co}, pad ${JSON.stringify(c.pad)}${c.note ? ` (${c.note})` : ''}`, async () => {
      const ref = await filterGrad('cpu', c.x, c.co, c.pad);
      Object.assign(winogradOptions, { minGradIn: 1, minGradOut: 1, gradChunkTiles: c.chunk ?? saved.gradChunkTiles });
      try {
        await useBackend('wasm');
        const be = tf.backend() as unknown as { numDataIds(): number };
        const before = be.numDataIds();
        const got = await filterGrad('wasm', c.x, c.co, c.pad);
        assert.equal(be.numDataIds(), before, 'heap buffers leaked');
        assertClose(got, ref, 1e-5, 'filter gradient');
        winogradOptions.filterGrad = false;
        const im2col = await filterGrad('wasm', c.x, c.co, c.pad);
        // The Winograd path ran where it applies (it rounds differently from the im2col GEMM).
        const same = got.every((v, i) => v === im2col[i]);
        assert.equal(same, c.im2col === true, 'Winograd used where it applies');
      } finally {
        Object.assign(winogradOptions, saved);
      }
    });
  }
});

test('the committed SIMD .wasm files are a fresh build of kernels.wat', async () => {
  const { buildSimdKernels } = (await import('../../scripts/build-wasm.mjs')) as { buildSimdKernels(): Promise<Record<string, Buffer>> };
  const fs = await import('node:fs');
  const path = await import('node:path');
  const built = await buildSimdKernels();
  for (const [name, bytes] of Object.entries(built)) {
    assert.ok(fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'runtime', 'simd', name)).equals(bytes), `${name} is stale: run node scripts/build-wasm.mjs`);
  }
});

describe('BilinearGather (fused bilinear sampling forward) on wasm', () => {
  test('same bits as the composed gathers, products and sums; grid sample and deform conv match cpu', async () => {
    await useBackend('wasm');
    const { BILINEAR_GATHER } = await import('../../lib/runtime/wasm-sampling');
    const rows = 50;
    const k = 37;
    for (const c of [8, 3]) {
      const flat = tf.tensor2d(seeded(rows * c, 21), [rows, c]);
      const idx = [0, 1, 2, 3].map((i) => tf.tensor2d(Int32Array.from({ length: k }, (_, r) => (r * 7 + i * 13) % rows), [k, 1], 'int32'));
      const ws = [0, 1, 2, 3].map((i) => tf.tensor2d(seeded(k, 30 + i, 0, 1), [k, 1]));
      const fused = tf.engine().runKernel(BILINEAR_GATHER, { flat, i0: idx[0], i1: idx[1], i2: idx[2], i3: idx[3], w0: ws[0], w1: ws[1], w2: ws[2], w3: ws[3] }) as tf.Tensor;
      const composed = tf.tidy(() => idx.map((ix, i) => tf.mul(tf.gatherND(flat, ix), ws[i])).reduce((a, b) => tf.add(a, b)));
      assert.deepEqual(Array.from(fused.dataSync()), Array.from(composed.dataSync()), `c = ${c}`);
      const bad = tf.tensor2d([rows], [1, 1], 'int32');
      assert.throws(() => tf.engine().runKernel(BILINEAR_GATHER, { flat, i0: bad, i1: bad, i2: bad, i3: bad, w0: ws[0], w1: ws[1], w2: ws[2], w3: ws[3] }), /corner row 50 is not in \[0, 50\)/);
      tf.dispose([flat, ...idx, ...ws, fused, composed, bad]);
    }
  });
});
