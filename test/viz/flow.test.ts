import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { NCOLS, colorWheel, flowToColor, flowWheelLegend, maxFlowRadius } from '../../lib/viz/flow';

/** One-pixel field → its colour. */
function colorOf(dx: number, dy: number): number[] {
  return Array.from(flowToColor({ width: 1, height: 1, data: new Float32Array([dx, dy]) }).data);
}

// Expected values from RAFT's core/utils/flow_viz.py flow_to_color (numpy, float64 input).
test('pure right/up/left/down flows get the reference wheel colours', () => {
  assert.deepEqual(colorOf(1, 0), [255, 17, 0], 'right → red');
  assert.deepEqual(colorOf(0, 1), [255, 246, 0], 'down (+y) → yellow');
  assert.deepEqual(colorOf(-1, 0), [0, 186, 255], 'left → cyan-blue');
  assert.deepEqual(colorOf(0, -1), [107, 0, 255], 'up (−y) → violet');
  assert.deepEqual(colorOf(1, -1), [240, 0, 255], 'up-right → magenta');
  // Colour depends on direction only when the field is normalised by its own maximum.
  assert.deepEqual(colorOf(37.5, 0), [255, 17, 0]);
});

test('a mixed field matches the reference pixel for pixel (normalised by the largest vector)', () => {
  const data = new Float64Array([3, 0, 0, 0, -1.5, 2, 0.5, -0.5, -3, -1, 2, 2.5]);
  const img = flowToColor({ shape: [2, 3, 2], data });
  assert.deepEqual(Array.from(img.data), [255, 31, 16, 255, 255, 255, 88, 255, 55, 251, 198, 255, 3, 123, 255, 255, 147, 0]);
  assert.equal(img.width, 3);
  assert.equal(img.height, 2);
  assert.ok(Math.abs(maxFlowRadius({ shape: [2, 3, 2], data }) - Math.hypot(2, 2.5)) < 1e-12);
});

// make_colorwheel() of RAFT's flow_viz.py, flattened (55 × RGB).
const REFERENCE_WHEEL = [
  255, 0, 0, 255, 17, 0, 255, 34, 0, 255, 51, 0, 255, 68, 0, 255, 85, 0, 255, 102, 0, 255, 119, 0, 255, 136, 0, 255, 153, 0, 255, 170, 0, 255, 187, 0,
  255, 204, 0, 255, 221, 0, 255, 238, 0, 255, 255, 0, 213, 255, 0, 170, 255, 0, 128, 255, 0, 85, 255, 0, 43, 255, 0, 0, 255, 0, 0, 255, 63, 0, 255, 127,
  0, 255, 191, 0, 255, 255, 0, 232, 255, 0, 209, 255, 0, 186, 255, 0, 163, 255, 0, 140, 255, 0, 116, 255, 0, 93, 255, 0, 70, 255, 0, 47, 255, 0, 24, 255,
  0, 0, 255, 19, 0, 255, 39, 0, 255, 58, 0, 255, 78, 0, 255, 98, 0, 255, 117, 0, 255, 137, 0, 255, 156, 0, 255, 176, 0, 255, 196, 0, 255, 215, 0, 255,
  235, 0, 255, 255, 0, 255, 255, 0, 213, 255, 0, 170, 255, 0, 128, 255, 0, 85, 255, 0, 43,
];

test('colour wheel equals the 55 Middlebury/RAFT entries', () => {
  const w = colorWheel();
  assert.equal(NCOLS, 55);
  assert.deepEqual(Array.from(w), REFERENCE_WHEEL);
});

test('fixed maxRadius: longer vectors are darkened, zero flow is white, invalid is black, bgr swaps', () => {
  const img = flowToColor({ width: 4, height: 1, data: new Float32Array([0, 0, 2, 0, NaN, 1, 0.5, 0]) }, { maxRadius: 1 });
  const px = (i: number) => Array.from(img.data.subarray(3 * i, 3 * i + 3));
  assert.deepEqual(px(0), [255, 255, 255]);
  assert.deepEqual(px(1), [191, 12, 0]); // 0.75 × (255, 17, 0), floored
  assert.deepEqual(px(2), [0, 0, 0]);
  assert.ok(px(3)[0] === 255 && px(3)[1] > 128 && px(3)[2] > 120, `half-length right flow is pale red: ${px(3)}`);
  assert.deepEqual(Array.from(flowToColor({ width: 1, height: 1, data: [1, 0] }, { bgr: true }).data), [0, 17, 255]);
});

test('tensor-like [1, H, W, 2] input and shape errors', () => {
  const t = { shape: [1, 1, 2, 2], dtype: 'float32', dataSync: () => new Float32Array([1, 0, -1, 0]) };
  assert.deepEqual(Array.from(flowToColor(t).data), [255, 17, 0, 0, 186, 255]);
  assert.throws(() => flowToColor({ shape: [1, 2, 3], data: new Float32Array(6) }), /channels-last \(H, W, 2\)/);
});

test('legend: white outside the disc, right edge red', () => {
  const g = flowWheelLegend(33);
  assert.equal(g.width, 33);
  assert.deepEqual(Array.from(g.data.subarray(0, 3)), [255, 255, 255]);
  const i = 16 * 33 + 32;
  assert.deepEqual(Array.from(g.data.subarray(3 * i, 3 * i + 3)), [255, 17, 0]);
});

// Expected values from cvbase.optflow.visualize.flow2rgb (float32 wheel), ×255 truncated as
// evaluate_flow_completion.py saves them.
test('cvbase style: the official flow PNG colours', () => {
  const cv = (data: number[], w = data.length / 2) => Array.from(flowToColor({ width: w, height: 1, data }, { style: 'cvbase' }).data);
  assert.deepEqual(cv([1, 0]), [255, 0, 0], 'right → pure red (no RAFT offset)');
  assert.deepEqual(cv([0, 1]), [255, 229, 0], 'down');
  assert.deepEqual(cv([-1, 0]), [0, 208, 255], 'left');
  assert.deepEqual(cv([0, -1]), [88, 0, 255], 'up');
  // Normalised by the exact largest vector; half length is paler; an all-zero field stays white.
  assert.deepEqual(cv([2, 0, 1, 0]), [255, 0, 0, 255, 127, 127]);
  assert.deepEqual(cv([0, 0, 0, 0]), [255, 255, 255, 255, 255, 255]);
  // Components above 1e6 are unknown: black, and left out of the normalisation.
  assert.deepEqual(cv([2e6, 0, 1, 0]), [0, 0, 0, 255, 0, 0]);
  assert.deepEqual(Array.from(colorWheel('cvbase').subarray(13 * 3, 13 * 3 + 3)), [255, (255 * 13) / 15, 0]);
});
