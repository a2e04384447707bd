import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  createRandomShapeWithRandomMotion, dilateCross, fillPolygon, randomMaskSequence, randomShape, renderMask,
} from '../../lib/data/masks';
import { Rng } from '../../lib/data/rng';

test('Rng: same key path → same stream; different keys differ; ranges are inclusive', () => {
  const a = new Rng(7, 3, 11);
  const b = Rng.from(7, 3, 11);
  const xa = Array.from({ length: 20 }, () => a.nextU32());
  const xb = Array.from({ length: 20 }, () => b.nextU32());
  assert.deepEqual(xa, xb);
  const c = new Rng(7, 11, 3);
  assert.notDeepEqual(Array.from({ length: 20 }, () => c.nextU32()), xa);
  assert.notDeepEqual(new Rng(7, 'masks', 'a').nextU32(), new Rng(7, 'masks', 'b').nextU32());
  const r = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.randint(6, 8);
    assert.ok(v >= 6 && v <= 8);
    seen.add(v);
    const u = r.random();
    assert.ok(u >= 0 && u < 1);
  }
  assert.deepEqual([...seen].sort(), [6, 7, 8]);
  const s = r.sample([1, 2, 3, 4, 5, 6, 7, 8, 9], 6);
  assert.equal(new Set(s).size, 6);
  // NumPy-style reversed bounds: uniform(3, 1) lies in (1, 3]
  for (let i = 0; i < 1000; i++) {
    const v = r.uniform(3, 1);
    assert.ok(v > 1 && v <= 3);
  }
  let m = 0;
  let v2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const z = r.normal(0, 1.5);
    m += z;
    v2 += z * z;
  }
  assert.ok(Math.abs(m / n) < 0.05);
  assert.ok(Math.abs(Math.sqrt(v2 / n) - 1.5) < 0.05);
});

test('fillPolygon fills pixel centres inside a square', () => {
  const m = fillPolygon([1, 4, 4, 1], [1, 1, 3, 3], 6, 5);
  const rows = Array.from({ length: 5 }, (_, r) => Array.from(m.subarray(r * 6, r * 6 + 6)).map((v) => (v ? 1 : 0)).join(''));
  assert.deepEqual(rows, ['000000', '011100', '011100', '000000', '000000']);
});

test('random shape: a filled blob cropped to its box (exclusive bound) of about the asked size', () => {
  for (let s = 0; s < 20; s++) {
    const rng = new Rng(s);
    const w = rng.randint(144, 431);
    const h = rng.randint(80, 239);
    const reg = randomShape(rng, rng.randint(6, 8), rng.randint(6, 8) / 10, w, h);
    assert.ok(reg.width < w && reg.height < h, 'crop is inside the drawn canvas');
    // Matplotlib's axes box covers 77.5% × 77% of the figure and the data range is padded by
    // 10 %, so the blob spans at most ~0.78·size
    assert.ok(reg.width > 0.3 * w && reg.width <= 0.79 * w, `width ${reg.width} of ${w}`);
    assert.ok(reg.height > 0.3 * h && reg.height <= 0.78 * h, `height ${reg.height} of ${h}`);
    let holes = 0;
    for (const v of reg.data) {
      assert.ok(v === 0 || v === 255);
      if (v) holes++;
    }
    assert.ok(holes > 0.3 * reg.width * reg.height, 'mostly filled');
    // the first row touches the box (the last row and column were trimmed by the exclusive crop)
    let top = 0;
    for (let c = 0; c < reg.width; c++) top += reg.data[c] ? 1 : 0;
    assert.ok(top > 0);
  }
});

test('mask sequences: static and moving, always inside the frame, official step sizes', () => {
  let statics = 0;
  let movings = 0;
  for (let s = 0; s < 40; s++) {
    const seq = randomMaskSequence(new Rng(123, s), 30, 240, 432);
    assert.ok(seq.region.height >= 1 && seq.region.height <= 239);
    for (let t = 0; t < 30; t++) {
      assert.ok(seq.rows[t] >= 0 && seq.rows[t] + seq.region.height <= 240);
      assert.ok(seq.cols[t] >= 0 && seq.cols[t] + seq.region.width <= 432);
    }
    if (seq.moving) {
      movings++;
      // first step: |trunc(speed·cos)| ≤ 3 with speed in (1, 3]
      assert.ok(Math.abs(seq.rows[1] - seq.rows[0]) <= 3 && Math.abs(seq.cols[1] - seq.cols[0]) <= 3);
    } else {
      statics++;
      assert.ok(seq.rows.every((r) => r === seq.rows[0]) && seq.cols.every((c) => c === seq.cols[0]));
    }
  }
  assert.ok(statics > 5 && movings > 5, `${statics} static / ${movings} moving`);
  const seq = randomMaskSequence(new Rng(5), 4, 60, 108);
  const m = renderMask(seq, 2);
  assert.equal(m.length, 60 * 108);
  assert.ok(m.some((v) => v === 255));
});

test('same seed → byte-identical masks; different seed → different', () => {
  const a = createRandomShapeWithRandomMotion(new Rng(42, 'v'), 6, 48, 64);
  const b = createRandomShapeWithRandomMotion(new Rng(42, 'v'), 6, 48, 64);
  assert.deepEqual(a, b);
  const c = createRandomShapeWithRandomMotion(new Rng(43, 'v'), 6, 48, 64);
  assert.notDeepEqual(a, c);
});

test('cross dilation: 4 iterations of a point give the L1 diamond of radius 4, zero outside', () => {
  const W = 15;
  const H = 11;
  const m = new Uint8Array(W * H);
  m[5 * W + 7] = 1;
  const d = dilateCross(m, W, H, 4);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) assert.equal(d[r * W + c], Math.abs(r - 5) + Math.abs(c - 7) <= 4 ? 1 : 0);
  // at a corner the diamond is clipped, nothing wraps around
  const corner = new Uint8Array(W * H);
  corner[0] = 255;
  const dc = dilateCross(corner, W, H, 2);
  let n = 0;
  dc.forEach((v, i) => {
    if (v) {
      n++;
      assert.equal(v, 255);
      assert.ok((i % W) + Math.floor(i / W) <= 2);
    }
  });
  assert.equal(n, 6);
  assert.deepEqual(Array.from(dilateCross(m, W, H, 0)), Array.from(m));
});
