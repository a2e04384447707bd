import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { beforeAfter, comparisonGrid, encodePng, frameGrid, maskOverlay, toMask, toRgb, upscale } from '../../lib/viz/image';

const solid = (w: number, h: number, rgb: [number, number, number]) => {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, 3 * i);
  return { width: w, height: h, channels: 3, data };
};
const px = (img: { width: number; data: Uint8Array }, x: number, y: number) =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

test('toRgb: uint8 passes through, float [-1,1] and [0,1] map to bytes, grey expands, alpha dropped', () => {
  assert.deepEqual(Array.from(toRgb({ shape: [1, 1, 3], data: new Uint8Array([1, 2, 3]) }).data), [1, 2, 3]);
  const f = toRgb({ shape: [1, 3, 3], data: new Float32Array([-1, 0, 1, -2, 2, 0.5, 0, 0, 0]) });
  assert.deepEqual(Array.from(f.data), [0, 128, 255, 0, 255, 191, 128, 128, 128]);
  assert.deepEqual(Array.from(toRgb({ shape: [1, 1, 3], data: new Float32Array([0, 0.5, 1]) }, { range: '0..1' }).data), [0, 128, 255]);
  assert.deepEqual(Array.from(toRgb({ shape: [1, 2], data: new Uint8Array([7, 9]) }).data), [7, 7, 7, 9, 9, 9]);
  assert.deepEqual(Array.from(toRgb({ width: 1, height: 1, channels: 4, data: new Uint8Array([1, 2, 3, 4]) }).data), [1, 2, 3]);
  const tensor = { shape: [1, 1, 1, 3], dtype: 'float32', dataSync: () => new Float32Array([1, -1, 0]) };
  assert.deepEqual(Array.from(toRgb(tensor).data), [255, 0, 128]);
  assert.throws(() => toRgb({ shape: [3, 2, 2], data: new Uint8Array(12) }), /1, 3 or 4 channels \(channels-last\)/);
  assert.throws(() => toRgb({ shape: [2, 2, 3], data: new Uint8Array(5) }), /5 values for shape \[2, 2, 3\]/);
});

test('frameGrid: size is cols × cell + gaps; frames are placed row-major and centred', () => {
  const frames = [solid(4, 3, [255, 0, 0]), solid(4, 3, [0, 255, 0]), solid(4, 3, [0, 0, 255]), solid(2, 1, [9, 9, 9]), solid(4, 3, [1, 1, 1])];
  const g = frameGrid(frames, { cols: 3, gap: 2, background: [200, 200, 200] });
  assert.equal(g.width, 3 * 4 + 2 * 2);
  assert.equal(g.height, 2 * 3 + 1 * 2);
  assert.equal(g.data.length, g.width * g.height * 3);
  assert.deepEqual(px(g, 0, 0), [255, 0, 0]);
  assert.deepEqual(px(g, 4, 0), [200, 200, 200]); // gap
  assert.deepEqual(px(g, 6, 2), [0, 255, 0]);
  assert.deepEqual(px(g, 12, 0), [0, 0, 255]);
  // (2×1) frame centred in the 4×3 cell at row 1, col 0: x 1..2, y 5+1
  assert.deepEqual(px(g, 1, 6), [9, 9, 9]);
  assert.deepEqual(px(g, 0, 6), [200, 200, 200]);
  assert.deepEqual(px(g, 7, 5), [1, 1, 1]);
  assert.deepEqual(px(g, 12, 5), [200, 200, 200]); // empty last cell
  // Default: one row of up to 8 frames.
  const row = frameGrid(Array.from({ length: 10 }, () => solid(5, 5, [0, 0, 0])));
  assert.equal(row.width, 8 * 5 + 7 * 2);
  assert.equal(row.height, 2 * 5 + 2);
});

test('comparisonGrid / beforeAfter: one row per version', () => {
  const a = [solid(3, 2, [10, 10, 10]), solid(3, 2, [20, 20, 20])];
  const b = [solid(3, 2, [30, 30, 30]), solid(3, 2, [40, 40, 40])];
  const g = beforeAfter(a, b, { gap: 1 });
  assert.equal(g.width, 2 * 3 + 1);
  assert.equal(g.height, 2 * 2 + 1);
  assert.deepEqual(px(g, 4, 3), [40, 40, 40]);
  const pair = beforeAfter(a[0], b[0], { gap: 0 });
  assert.equal(pair.width, 6);
  assert.equal(pair.height, 2);
  const ragged = comparisonGrid([[a[0]], b], { gap: 0 });
  assert.equal(ragged.width, 6);
  assert.deepEqual(px(ragged, 3, 0), [255, 255, 255]);
});

test('maskOverlay tints holes, outlines their boundary, leaves the rest', () => {
  const frame = solid(5, 5, [100, 100, 100]);
  const mask = new Uint8Array(25);
  for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) mask[y * 5 + x] = 255;
  const o = maskOverlay(frame, mask, { color: [255, 0, 0], alpha: 0.5 });
  assert.deepEqual(px(o, 0, 0), [100, 100, 100]);
  assert.deepEqual(px(o, 1, 1), [255, 0, 0]); // boundary
  assert.deepEqual(px(o, 2, 2), [178, 50, 50]); // interior: round(0.5·100 + 0.5·255)
  const noOutline = maskOverlay(frame, { shape: [5, 5, 1], data: Float32Array.from(mask, (v) => v / 255) }, { outline: false, alpha: 1 });
  assert.deepEqual(px(noOutline, 1, 1), [255, 0, 0]);
  assert.throws(() => maskOverlay(frame, new Uint8Array(24)), /24 values for a 5x5 frame/);
  assert.deepEqual(Array.from(toMask(new Float32Array([0.2, 0.5, 0.9, 0]), 2, 2)), [0, 1, 1, 0]);
});

test('upscale and PNG encoding keep the pixels', async () => {
  const img = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
  const big = upscale(img, 3);
  assert.equal(big.width, 6);
  assert.equal(big.height, 3);
  assert.deepEqual(px(big, 2, 2), [255, 0, 0]);
  assert.deepEqual(px(big, 3, 0), [0, 0, 255]);
  const png = await encodePng(big);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
  const sharp = require('sharp') as typeof import('sharp').default;
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 6);
  assert.equal(info.height, 3);
  assert.deepEqual(Array.from(data), Array.from(big.data));
});
