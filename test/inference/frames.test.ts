import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  blendInto, compositeFrame, inferenceSizes, outpaintCanvas, outpaintMasks, placeOnCanvas, prepareMask, tintMasked,
} from '../../lib/inference/frames';
import type { Image8 } from '../../lib/io/image';

test('sizes: --width/--height, --resize_ratio (truncating), process size rounded down to 8', () => {
  assert.deepEqual(inferenceSizes({ width: 432, height: 240 }), { outSize: { width: 432, height: 240 }, processSize: { width: 432, height: 240 } });
  // The ratio fixture case: 288×160 × 0.8 → 230×128, processed at 224×128.
  assert.deepEqual(inferenceSizes({ width: 288, height: 160 }, { resizeRatio: 0.8 }), { outSize: { width: 230, height: 128 }, processSize: { width: 224, height: 128 } });
  assert.deepEqual(inferenceSizes({ width: 288, height: 160 }, { width: 300, height: 200, resizeRatio: 0.5 }).outSize, { width: 150, height: 100 });
  // One of width/height alone is ignored, as the official script does.
  assert.deepEqual(inferenceSizes({ width: 288, height: 160 }, { width: 300, height: -1 }).outSize, { width: 288, height: 160 });
  // int() truncates the float64 product: 0.29·100 = 28.999999999999996 → 28.
  assert.equal(inferenceSizes({ width: 100, height: 100 }, { resizeRatio: 0.29 }).outSize.width, 28);
});

test('outpainting canvas and masks', () => {
  const c = outpaintCanvas({ width: 224, height: 128 }, 1.0, 1.2);
  assert.deepEqual(c, { width: 264, height: 128, top: 0, left: 20 });
  const m = outpaintMasks({ width: 224, height: 128 }, c);
  const at = (a: Uint8Array, y: number, x: number) => a[y * 264 + x];
  // Dilated mask: 1 outside the original rectangle only.
  assert.equal(at(m.dilated, 0, 19), 1);
  assert.equal(at(m.dilated, 0, 20), 0);
  assert.equal(at(m.dilated, 127, 243), 0);
  assert.equal(at(m.dilated, 127, 244), 1);
  // Flow mask: a 4-pixel band inside the left/right borders (margin 20 > 10), none on top (margin 0).
  assert.equal(at(m.flow, 64, 23), 1);
  assert.equal(at(m.flow, 64, 24), 0);
  assert.equal(at(m.flow, 64, 239), 0);
  assert.equal(at(m.flow, 64, 240), 1);
  assert.equal(at(m.flow, 0, 100), 0);
  const placed = placeOnCanvas({ width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) }, { width: 8, height: 3, top: 1, left: 3 });
  assert.deepEqual([...placed.data.subarray((8 + 3) * 3, (8 + 5) * 3)], [1, 2, 3, 4, 5, 6]);
  assert.equal(placed.data.reduce((a, b) => a + b, 0), 21);
  assert.throws(() => outpaintCanvas({ width: 224, height: 128 }, 0.5, 1.2), /smaller/);
});

test('masks: nearest resize, any non-zero is hole, SciPy cross dilation; 0 iterations thresholds', () => {
  const grey: Image8 = { width: 8, height: 8, channels: 1, data: new Uint8Array(64) };
  grey.data[3 * 8 + 3] = 7; // a faint pixel still counts
  const m1 = prepareMask(grey, { width: 8, height: 8 }, 1);
  const ones = [...m1.dilated].map((v, i) => (v ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(ones, [2 * 8 + 3, 3 * 8 + 2, 3 * 8 + 3, 3 * 8 + 4, 4 * 8 + 3]);
  assert.equal(prepareMask(grey, { width: 8, height: 8 }, 2).dilated.reduce((a, b) => a + b, 0), 13);
  assert.deepEqual([...prepareMask(grey, { width: 8, height: 8 }, 0).flow].filter(Boolean).length, 1);
  // Nearest (PIL) 8 → 4: source pixel floor((i + 0.5)·2) = 1, 3, 5, 7.
  const m = prepareMask(grey, { width: 4, height: 4 }, 0);
  assert.equal(m.flow[1 * 4 + 1], 1);
  assert.equal(m.flow.reduce((a, b) => a + b, 0), 1);
});

test('masked_in tint, uint8 compositing and the two blend modes', () => {
  const frame: Image8 = { width: 2, height: 1, channels: 3, data: Uint8Array.from([100, 200, 7, 10, 20, 30]) };
  const tinted = tintMasked(frame, Uint8Array.from([1, 0]));
  // 0.4·100 = 40.00000000000001 → 40; 0.4·200 + 153 = 233; 0.4·7 = 2.8000000000000003 → 2.
  assert.deepEqual([...tinted.data], [40, 233, 2, 10, 20, 30]);
  const pred = Float32Array.from([-1, 0, 0.999, 0.5, 0.5, 0.5]);
  const img = compositeFrame(pred, frame.data, Uint8Array.from([1, 0]));
  // ((p + 1) / 2)·255 truncated: 0, 127.5 → 127, 254.87 → 254; the unmasked pixel keeps the frame.
  assert.deepEqual([...img], [0, 127, 254, 10, 20, 30]);
  const first = blendInto(null, Uint8Array.from([9, 10]), 'uint8');
  assert.deepEqual([...first], [9, 10]);
  assert.deepEqual([...blendInto(first, Uint8Array.from([10, 13]), 'uint8')], [9, 11]);
  assert.deepEqual([...blendInto(first, Uint8Array.from([10, 13]), 'float')], [9.5, 11.5]);
});
