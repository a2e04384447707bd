/** Shared pieces of the training tests: a small synthetic dataset root and tiny configs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { writeSynthDataset } from '../../lib/data/prepare';
import type { BatchTensors } from '../../lib/data/tensors';
import type { TrainingSystem } from '../../lib/train/system';

/** A synthetic root (PNG frames, float32 .flo ground-truth flows, test masks) of `size`², cached per process. */
export async function synthRoot(size = 32, videos = 3, frames = 8): Promise<string> {
  const root = path.join(os.tmpdir(), `pp-train-synth-${size}-${videos}-${frames}-${process.pid}`);
  if (!fs.existsSync(path.join(root, 'train.json'))) {
    await writeSynthDataset({ out: root, videos, frames, width: size, height: size, seed: 3, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  }
  return root;
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pp-${tag}-`));
}

/** A flow-completion config at size², 3 local frames, flows from .flo files. */
export function flowcompConfig(root: string, saveDir: string, size = 32, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test_flowcomp',
    model: 'recurrent_flow_completion',
    seed: 7,
    save_dir: saveDir,
    datasets: { train: { root, width: size, height: size, num_local_frames: 3, num_ref_frames: 0, load_flow: true } },
    train: { lr: 1e-3, total_iter: 1000, save_freq: 1000, val_freq: 0, log_freq: 1, image_freq: 0, batch_size: 1, beta1: 0.9, beta2: 0.99 },
    ...extra,
  };
}

/** A ProPainter config: 2 local + 1 reference frame, det-init frozen flow completion. */
export function propainterConfig(root: string, saveDir: string, size = 32, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test_propainter',
    model: 'propainter',
    seed: 7,
    save_dir: saveDir,
    datasets: { train: { root, width: size, height: size, num_local_frames: 2, num_ref_frames: 1, load_flow: true } },
    networks: { allow_det_init: true, interp_mode: 'nearest', discriminator: true },
    train: { lr: 1e-4, total_iter: 1000, save_freq: 1000, val_freq: 0, log_freq: 1, image_freq: 0, batch_size: 1 },
    loss: { adversarial_weight: 0.01, gan_type: 'hinge' },
    ...extra,
  };
}

export const GiB = 2 ** 30;

/** Size of the wasm heap (it only grows, so this is the process's high-water mark). */
export function wasmHeap(): number {
  return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
}

/**
 * One clip for step-memory tests: a moving texture with a moving rectangular hole, and flows for
 * the first `localFrames` frames — constant (3, 1) px, or with `edges` smooth ones plus a moving
 * square (so the GT flows have Canny edges).
 */
export function movingClip(h: number, w: number, t: number, opts: { localFrames?: number; edges?: boolean } = {}): BatchTensors {
  const n = (opts.localFrames ?? t) - 1;
  return tf.tidy(() => {
    const ys = tf.reshape(tf.range(0, h), [1, 1, h, 1, 1]);
    const xs = tf.reshape(tf.range(0, w), [1, 1, 1, w, 1]);
    const ts = tf.reshape(tf.range(0, t), [1, t, 1, 1, 1]);
    const frames = tf.sin(tf.add(tf.mul(tf.sub(xs, tf.mul(ts, 3)), 0.2), tf.add(tf.mul(ys, 0.13), tf.reshape(tf.tensor1d([0, 1, 2]), [1, 1, 1, 1, 3]))));
    const inX = tf.logicalAnd(tf.greaterEqual(xs, tf.add(tf.mul(ts, 3), w / 4)), tf.less(xs, tf.add(tf.mul(ts, 3), w / 2)));
    const inY = tf.logicalAnd(tf.greaterEqual(ys, h / 4), tf.less(ys, (3 * h) / 4));
    const masks = tf.cast(tf.logicalAnd(inX, inY), 'float32');
    let flow: tf.Tensor;
    if (opts.edges) {
      const obj = tf.cast(tf.logicalAnd(tf.less(tf.abs(tf.sub(xs, w / 2)), w / 8), tf.less(tf.abs(tf.sub(ys, h / 2)), h / 6)), 'float32');
      const u = tf.add(tf.add(1.5, tf.mul(tf.sin(tf.mul(ys, 0.1)), tf.ones([1, n, 1, w, 1]))), tf.mul(obj, 3));
      flow = tf.concat([u, tf.mul(tf.ones([1, n, h, w, 1]), 0.7)], 4);
    } else {
      flow = tf.mul(tf.ones([1, n, h, w, 2]), tf.reshape(tf.tensor1d([3, 1]), [1, 1, 1, 1, 2]));
    }
    return { frames, masks, flowsF: flow, flowsB: tf.neg(flow) } as unknown as tf.TensorContainer;
  }) as unknown as BatchTensors;
}

/**
 * Two training steps on one clip: the heap after each and their scalars; asserts that the steps
 * leave no tensor behind. Disposes the clip and the system.
 */
export function twoStepsHeap(sys: TrainingSystem, clip: BatchTensors): { h1: number; h2: number; scalars: Array<Record<string, number>> } {
  const before = tf.memory().numTensors;
  const r1 = sys.trainStep([clip], { iteration: 0, lr: 1e-4, lrD: 1e-4, wantImages: false });
  const h1 = wasmHeap();
  const r2 = sys.trainStep([clip], { iteration: 1, lr: 1e-4, lrD: 1e-4, wantImages: false });
  const h2 = wasmHeap();
  console.log(`wasm heap after step 1: ${(h1 / GiB).toFixed(2)} GiB, after step 2: ${(h2 / GiB).toFixed(2)} GiB`);
  assert.equal(tf.memory().numTensors, before, 'the steps leave no tensor behind');
  tf.dispose([clip.frames, clip.masks, clip.flowsF!, clip.flowsB!]);
  sys.dispose();
  return { h1, h2, scalars: [r1.scalars, r2.scalars] };
}
