/**
 * Full-size generator inference on wasm: 240×432, 10 local + 2 reference frames (the official
 * inference clip), det-init weights. Checks the output and that the wasm heap stays within
 * budget (< 3.5 GiB of the ~3.9 GiB cap). Slow (minutes): runs only with PROPAINTER_SLOW=1.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { InpaintGenerator, inpaintClip } from '../../lib/models/propainter';
import { applyDetInit } from '../../lib/init/apply';

const SLOW = process.env.PROPAINTER_SLOW === '1';

/** Synthetic clip as in shared/fixtures/README.md (frames, moving ellipse masks, smooth flows). */
function syntheticClip(t: number, h: number, w: number) {
  const frames = new Float32Array(t * h * w * 3);
  const masks = new Float32Array(t * h * w);
  const flows = [new Float32Array((t - 1) * h * w * 2), new Float32Array((t - 1) * h * w * 2)];
  for (let k = 0; k < t; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const a = 2 * Math.PI * (((x - 1.5 * k) / w) * (1 + c) + 0.3 * c);
          const b = 2 * Math.PI * ((y + 0.75 * k) / h) * (2 - 0.5 * c);
          const g = 0.5 + 0.3 * Math.sin(a) * Math.cos(b) + 0.15 * Math.sin(0.37 * x + 0.23 * y + 0.9 * k + c);
          frames[((k * h + y) * w + x) * 3 + c] = 2 * g - 1;
        }
        const cx = 0.4 * w + 1.25 * k;
        const cy = 0.3 * h + 0.5 * k;
        masks[(k * h + y) * w + x] = ((x - cx) / (0.18 * w)) ** 2 + ((y - cy) / (0.16 * h)) ** 2 <= 1 ? 1 : 0;
        if (k < t - 1) {
          flows.forEach((f, i) => {
            const s = i === 0 ? 1 : -1;
            f[((k * h + y) * w + x) * 2] = s * (1.7 + 1.1 * Math.sin((2 * Math.PI * y) / h + 0.5 * k) + 0.37 * Math.cos((2 * Math.PI * x) / w));
            f[((k * h + y) * w + x) * 2 + 1] = s * (0.6 + 0.9 * Math.cos((2 * Math.PI * x) / w - 0.3 * k) + 0.23 * Math.sin((2 * Math.PI * y) / h));
          });
        }
      }
    }
  }
  return {
    frames: tf.tensor5d(frames, [1, t, h, w, 3]),
    masks: tf.tensor5d(masks, [1, t, h, w, 1]),
    fwd: tf.tensor5d(flows[0], [1, t - 1, h, w, 2]),
    bwd: tf.tensor5d(flows[1], [1, t - 1, h, w, 2]),
  };
}

function heapBytes(): number {
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return be.wasm?.HEAPU8?.length ?? 0;
}

test('eval forward at 240×432 with 10 local + 2 reference frames fits the wasm heap', { skip: !SLOW }, async () => {
  await useBackend('wasm');
  const g = new InpaintGenerator();
  applyDetInit(g);
  const lt = 10;
  const clip = syntheticClip(12, 240, 432);
  try {
    const flows = [tf.slice(clip.fwd, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1]), tf.slice(clip.bwd, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1])] as const;
    const masked = tf.tidy(() => tf.mul(clip.frames, tf.sub(1, clip.masks)));
    for (let run = 0; run < 2; run++) {
      const n0 = tf.memory().numTensors;
      const t0 = Date.now();
      const pred = inpaintClip(g, { frames: masked, flows, masksIn: clip.masks, masksUpdated: clip.masks, numLocal: lt });
      const d = pred.dataSync();
      const ms = Date.now() - t0;
      assert.deepEqual(pred.shape, [1, lt, 240, 432, 3]);
      assert.ok(d.every((v) => Number.isFinite(v) && v > -1 && v < 1));
      pred.dispose();
      assert.equal(tf.memory().numTensors, n0, 'no tensors leak across calls');
      const heap = heapBytes();
      console.log(`run ${run}: ${(ms / 1000).toFixed(1)} s, wasm heap ${(heap / 2 ** 20).toFixed(0)} MiB, live ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(heap < 3.5 * 2 ** 30, `wasm heap ${heap} bytes`);
    }
    flows.forEach((f) => f.dispose());
    masked.dispose();
  } finally {
    Object.values(clip).forEach((t) => t.dispose());
    g.dispose();
  }
});
