/**
 * The evaluation variants of inpaintVideo (spec §12.1), on 4 frames at 128×128 with det-init
 * weights and supplied flows (no RAFT): whole-video flow completion and propagation, references
 * from every stride-aligned frame, float blending without re-quantisation — and the frames
 * outside the holes come back untouched.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { useBackend } from '../../lib/runtime';
import { detInitModels, disposeModels, inpaintVideo, type InpaintedFrame } from '../../lib/inference';
import { syntheticClip, syntheticMasks, SIZE } from './stream-child';

test('evaluation variants: supplied flows, whole-video stages, all references, float blending', async () => {
  await useBackend('wasm');
  const models = detInitModels();
  const frames = [...syntheticClip(4)];
  const masks = [...syntheticMasks(4)];
  const px = SIZE * SIZE;
  const asked: number[] = [];
  try {
    const got: InpaintedFrame[] = [];
    const r = await inpaintVideo(frames, masks, {
      models,
      maskDilation: 0,
      neighborLength: 2,
      refStride: 2,
      flows: (k) => {
        asked.push(k);
        // The scene pans 2 px to the left per frame.
        const f = new Float32Array(px * 2);
        const b = new Float32Array(px * 2);
        for (let i = 0; i < px; i++) {
          f[2 * i] = -2;
          b[2 * i] = 2;
        }
        return { forward: f, backward: b };
      },
      flowCompletion: 'whole',
      propagation: 'whole',
      references: 'all',
      blend: 'float',
      onFrame: (fr) => void got.push(fr),
    });
    assert.deepEqual(asked, [0, 1, 2]);
    assert.equal(r.windows, 4);
    assert.equal(r.seconds.raft, 0);
    assert.deepEqual(got.map((g) => g.index), [0, 1, 2, 3]);
    let halves = 0;
    for (const g of got) {
      assert.ok(g.resultFloat instanceof Float32Array && g.resultFloat.length === px * 3);
      const m = masks[g.index].data;
      for (let i = 0; i < px; i++) {
        for (let c = 0; c < 3; c++) {
          const v: number = g.resultFloat![3 * i + c];
          if (!m[i]) assert.equal(v, frames[g.index].data[3 * i + c], 'outside the hole: the input frame');
          if (v !== Math.trunc(v)) halves++;
          assert.equal(g.result.data[3 * i + c], Math.trunc(v));
        }
      }
    }
    // Frames in two windows are 0.5/0.5 blends kept as float (x.5 values appear).
    assert.ok(halves > 0, 'float blending keeps fractional values');
  } finally {
    disposeModels(models);
  }
});
