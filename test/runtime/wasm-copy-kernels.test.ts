/**
 * Wasm kernel pack entries that avoid copies: Identity and same-dtype Cast share the input buffer
 * (tfjs clones every tensor it saves for backprop), Pack (tf.stack) and Unpack (its gradient), Reverse and
 * Tile (block copies), Concat / Slice / SplitV (heap row copies) against cpu,
 * and the transposed-conv filter taps (flips and strided sub-filters as heap block copies) on
 * ProPainter's shapes against cpu.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import { assertClose, randn } from '../helpers';

type Be = 'cpu' | 'wasm';
const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

/** Runs `f` on a backend and reads its outputs. */
async function on(be: Be, f: () => tf.Tensor | tf.Tensor[]): Promise<Array<{ data: Float32Array | Int32Array; shape: number[] }>> {
  await useBackend(be);
  return tf.tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape.slice() }));
  });
}

async function vsCpu(what: string, f: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const ref = await on('cpu', f);
  const got = await on('wasm', f);
  assert.equal(got.length, ref.length, `${what}: outputs`);
  ref.forEach((r, i) => {
    assert.deepEqual(got[i].shape, r.shape, `${what}: shape ${i}`);
    assertClose(got[i].data, r.data, 1e-5, `${what} output ${i}`);
  });
}

describe('buffer-sharing Identity and Cast on wasm', () => {
  test('tf.clone shares the buffer, survives the original and costs no heap', async () => {
    await useBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const ids = tf.engine().backend.numDataIds();
    const c = tf.clone(x);
    assert.equal(c.dataId, x.dataId, 'same buffer');
    assert.equal(tf.engine().backend.numDataIds(), ids, 'no new buffer');
    x.dispose();
    assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4, 5, 6], 'readable after the original is gone');
    c.dispose();
    assert.equal(tf.engine().backend.numDataIds(), ids - 1, 'freed with the last reference');
    // A large clone does not grow the heap.
    const big = tf.zeros([64 * 2 ** 20 / 4]);
    const heap = heapBytes();
    const copies = Array.from({ length: 8 }, () => tf.clone(big));
    assert.equal(heapBytes(), heap);
    tf.dispose([big, ...copies]);
  });

  test('Cast to the same dtype shares, to another dtype converts', async () => {
    await useBackend('wasm');
    const x = tf.tensor1d([1.5, -2, 3]);
    const same = tf.cast(x, 'float32');
    assert.equal(same.dataId, x.dataId);
    const i = tf.cast(x, 'int32');
    assert.notEqual(i.dataId, x.dataId);
    assert.deepEqual(Array.from(i.dataSync()), [1, -2, 3]);
    const back = tf.cast(i, 'float32');
    assert.deepEqual(Array.from(back.dataSync()), [1, -2, 3]);
    tf.dispose([x, same, i, back]);
  });

  test('saved tensors on the tape share buffers: a backward pass matches cpu', async () => {
    const f = () => {
      const x = randn([3, 4], 3);
      const w = randn([4, 5], 4);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.tanh(tf.matMul(tf.clone(a) as tf.Tensor2D, tf.cast(b, 'float32') as tf.Tensor2D))))([x, w]);
    };
    await vsCpu('grads through clone/cast', f);
  });
});

describe('Pack on wasm vs cpu', () => {
  for (const [shape, axis] of [[[3, 4], 0], [[3, 4], 1], [[3, 4], -1], [[1080, 40], 1], [[2, 3, 5], 2]] as Array<[number[], number]>) {
    test(`stack 49 × ${JSON.stringify(shape)} axis ${axis}`, async () => {
      await vsCpu('stack', () => tf.stack(Array.from({ length: shape[0] === 1080 ? 49 : 3 }, (_, i) => randn(shape, 20 + i)), axis));
    });
  }
  test('one input, int32, and through the gradient', async () => {
    await vsCpu('stack one', () => tf.stack([randn([2, 3], 1)], 1));
    await vsCpu('stack int32', () => tf.stack([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')], 0));
    await vsCpu('stack gradient', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.stack([a, b], 1))))([randn([2, 3], 1), randn([2, 3], 2)]));
  });
});

describe('Unpack on wasm vs cpu', () => {
  for (const [shape, axis] of [[[3, 4, 5], 0], [[3, 4, 5], 1], [[3, 4, 5], -1], [[2, 49, 40], 1], [[6], 0]] as Array<[number[], number]>) {
    test(`unstack ${JSON.stringify(shape)} axis ${axis}`, async () => {
      await vsCpu('unstack', () => tf.unstack(randn(shape, 9), axis));
    });
  }
  test('int32 and the stack gradient', async () => {
    await vsCpu('unstack int32', () => tf.unstack(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), 1));
    await vsCpu('stack gradient', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.stack([a, b], 1))))([randn([2, 3], 1), randn([2, 3], 2)]));
  });
});

describe('Reverse on wasm vs cpu', () => {
  const cases: Array<[number[], number[]]> = [[[1, 9, 40], [1]], [[2, 3, 5, 2], [3]], [[2, 3, 5, 2], [1, 2]], [[4, 1, 6], [0, 1]], [[3, 4, 20], [0, 2]], [[7], [0]]];
  for (const [shape, axes] of cases) {
    test(`reverse ${JSON.stringify(shape)} axes ${JSON.stringify(axes)}`, async () => {
      await vsCpu('reverse', () => tf.reverse(randn(shape, 11), axes));
    });
  }
  test('int32 and the reverse gradient', async () => {
    await vsCpu('reverse int32', () => tf.reverse(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [0, 1]));
    await vsCpu('reverse gradient', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.reverse(a, [1]), randn([2, 5, 3], 4))))(randn([2, 5, 3], 3)));
  });
});

describe('Tile on wasm vs cpu', () => {
  const cases: Array<[number[], number[]]> = [[[1, 6, 40], [1, 3, 1]], [[2, 3, 5, 2], [1, 1, 1, 4]], [[2, 3, 5, 2], [2, 1, 3, 1]], [[1, 1, 20], [1, 5, 1]], [[3, 4], [1, 1]], [[7], [3]]];
  for (const [shape, reps] of cases) {
    test(`tile ${JSON.stringify(shape)} reps ${JSON.stringify(reps)}`, async () => {
      await vsCpu('tile', () => tf.tile(randn(shape, 13), reps));
    });
  }
  test('int32, bool and the tile gradient', async () => {
    await vsCpu('tile int32', () => tf.tile(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [3, 2]));
    await vsCpu('tile bool', () => tf.cast(tf.tile(tf.tensor2d([1, 0, 0, 1], [2, 2], 'bool'), [2, 3]), 'int32'));
    await vsCpu('tile gradient', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.tile(a, [2, 1, 3]), randn([4, 5, 6], 4))))(randn([2, 5, 2], 3)));
  });
});

describe('Concat, Slice and SplitV heap row copies on wasm vs cpu', () => {
  const cases: Array<[number[][], number]> = [
    [[[1, 4, 5, 8], [1, 4, 5, 3]], 3], [[[2, 3, 4], [2, 1, 4], [2, 2, 4]], 1], [[[3, 2], [4, 2]], 0], [[[2, 3, 5], [2, 3, 0], [2, 3, 1]], -1],
  ];
  for (const [shapes, axis] of cases) {
    test(`concat ${JSON.stringify(shapes)} axis ${axis}`, async () => {
      // exact: only copies
      const ref = await on('cpu', () => tf.concat(shapes.map((sh, i) => randn(sh, 30 + i)), axis));
      const got = await on('wasm', () => tf.concat(shapes.map((sh, i) => randn(sh, 30 + i)), axis));
      assert.deepEqual(got[0].shape, ref[0].shape);
      assert.deepEqual(Array.from(got[0].data), Array.from(ref[0].data));
    });
  }
  test('int32 and bool concat, channel slices and splits of NHWC, the concat gradient', async () => {
    await vsCpu('concat int32', () => tf.concat([tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6], [2, 1], 'int32')], 1));
    await vsCpu('concat bool', () => tf.cast(tf.concat([tf.tensor2d([1, 0, 0, 1], [2, 2], 'bool'), tf.tensor2d([1, 1], [2, 1], 'bool')], 1), 'int32'));
    await vsCpu('slice bool', () => tf.cast(tf.slice(tf.tensor2d([1, 0, 0, 1, 1, 0], [2, 3], 'bool'), [0, 1], [2, 2]), 'int32'));
    await vsCpu('channel slice', () => tf.slice(randn([1, 3, 4, 12], 5), [0, 0, 0, 4], [-1, -1, -1, 5]));
    await vsCpu('channel split', () => tf.split(randn([1, 3, 4, 12], 6), [8, 4], 3));
    await vsCpu('concat gradient', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.concat([a, b], 2), randn([2, 3, 7], 8))))([randn([2, 3, 4], 1), randn([2, 3, 3], 2)]));
  });
});

describe('Conv2DBackpropInput filter taps on ProPainter shapes vs cpu', () => {
  const cases: Array<{ what: string; x: [number, number, number, number]; f: [number, number, number, number]; s: number; pad: number }> = [
    { what: 'soft split 7×7 s3 p3', x: [2, 16, 16, 8], f: [7, 7, 8, 16], s: 3, pad: 3 },
    { what: 'discriminator tap 5×5 s2, 1×1 dy', x: [2, 2, 2, 4], f: [5, 5, 4, 4], s: 2, pad: 2 },
    { what: 'discriminator tap 5×5 s2, 4×4 dy', x: [2, 8, 8, 4], f: [5, 5, 4, 4], s: 2, pad: 2 },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      await vsCpu(c.what, () => {
        const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad);
        return tf.conv2dTranspose(randn(info.outShape, 21) as tf.Tensor4D, randn(c.f, 22) as tf.Tensor4D, c.x, c.s, c.pad);
      });
    });
  }
});
