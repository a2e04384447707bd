/**
 * Off the tape the flow-completion network runs its P3D blocks in frame chunks with a temporal
 * halo and its spatial Conv3d layers frame by frame (bounded memory for long sub-videos): the
 * values must be those of one whole-clip call, which is what training mode computes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { P3DBlock } from '../../lib/models/flow-completion';
import { applyDetInit } from '../../lib/init/apply';

test('P3DBlock: chunked eval forward equals the whole-clip forward', async () => {
  await useBackend('wasm');
  // 64×64×64 output: 12·h·w·C = 3.1 M elements per frame → 5 frames per chunk, so 11 frames make 3 chunks.
  const block = new P3DBlock(64, 64, 3, 1, 1);
  applyDetInit(block);
  const x = tf.randomUniform([1, 11, 64, 64, 64], -1, 1, 'float32', 7);
  block.train();
  const whole = block.forward(x);
  block.eval();
  const chunked = block.forward(x);
  assert.deepEqual(chunked.shape, whole.shape);
  const diff = tf.max(tf.abs(tf.sub(whole, chunked))).dataSync()[0];
  const scale = tf.max(tf.abs(whole)).dataSync()[0];
  assert.ok(scale > 0.01, `non-trivial output (max ${scale})`);
  assert.ok(diff <= 1e-6 * scale, `max |chunked − whole| = ${diff} (scale ${scale})`);
  tf.dispose([x, whole, chunked]);
  block.dispose();
});
