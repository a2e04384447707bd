/**
 * canny / flowEdges: Gaussian taps, binary edges on a synthetic flow, hysteresis equal to the
 * 8-connected closure of the weak/strong map, and parity with the official Canny of the losses
 * fixture when ../shared exists. On cpu and wasm.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { canny, flowEdges, gaussianKernel1d } from '../../lib/ops/canny';
import { readFixture } from '../../lib/fixtures/load';
import { hostToTensor, NCHW_TO_NHWC } from '../../lib/fixtures/convert';
import { FIXTURES, assertClose, hasShared } from '../helpers';
import { BACKENDS, read } from './util';

/** Flow [N, H, W, 2]: magnitude `amp` inside a disk, a gentle ramp outside. */
function diskFlow(n: number, h: number, w: number, amp: number): Float32Array {
  const f = new Float32Array(n * h * w * 2);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        const inside = (i - h / 2 + b) ** 2 + (j - w / 2.5) ** 2 <= (h / 4) ** 2;
        const o = ((b * h + i) * w + j) * 2;
        f[o] = inside ? amp * 0.6 : 0.01 * j;
        f[o + 1] = inside ? amp * 0.8 : 0;
      }
  return f;
}

/** Weak (0.5) pixels 8-connected to strong (1) pixels become strong; the rest are dropped. */
function closure(e: Float32Array, h: number, w: number): Float32Array {
  const out = Float32Array.from(e, (v) => (v === 1 ? 1 : 0));
  const stack: number[] = [];
  for (let i = 0; i < h * w; i++) if (out[i] === 1) stack.push(i);
  while (stack.length) {
    const p = stack.pop()!;
    const y = Math.floor(p / w);
    const x = p % w;
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        if (e[q] === 0.5 && out[q] === 0) {
          out[q] = 1;
          stack.push(q);
        }
      }
  }
  return out;
}

for (const backend of BACKENDS) {
  describe(`canny (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('Gaussian taps for σ = 2, size 5', () => {
      assertClose(gaussianKernel1d(5, 2), [0.152469, 0.221841, 0.251379, 0.221841, 0.152469], 5e-6, 'taps');
    });

    test('flowEdges on a synthetic flow: binary edges along the motion boundary', () => {
      const [n, h, w] = [2, 32, 40];
      const edges = tf.tidy(() => flowEdges(tf.tensor4d(diskFlow(n, h, w, 3), [n, h, w, 2])));
      assert.deepEqual(edges.shape, [n, h, w, 1]);
      const e = read(edges);
      edges.dispose();
      assert.ok(e.every((v) => v === 0 || v === 1), 'edges must be binary');
      for (let b = 0; b < n; b++) {
        let count = 0;
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++) {
            if (e[(b * h + i) * w + j] !== 1) continue;
            count++;
            const r = Math.hypot(i - h / 2 + b, j - w / 2.5);
            assert.ok(Math.abs(r - h / 4) <= 2.5, `edge pixel ${i},${j} is ${r.toFixed(2)} from the centre`);
          }
        assert.ok(count >= Math.PI * (h / 2) * 0.6, `frame ${b}: only ${count} edge pixels`);
      }
      // Batch maximum below 1: everything is zeroed before Canny.
      const small = tf.tidy(() => read(flowEdges(tf.tensor4d(diskFlow(1, h, w, 0.9), [1, h, w, 2]))));
      assert.ok(small.every((v) => v === 0));
    });

    test('hysteresis keeps weak edges connected to strong ones and drops isolated weak ones', () => {
      const [h, w] = [24, 40];
      const img = new Float32Array(h * w);
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          // A horizontal step whose contrast fades from strong to weak along x, and an isolated
          // weak step in the corner.
          if (i >= 8) img[i * w + j] = j < 30 ? 0.35 * Math.max(0.12, 1 - j / 25) : 0;
          if (i >= 18 && j >= 33) img[i * w + j] = 0.05;
        }
      const x = tf.tensor4d(img, [1, h, w, 1]);
      const raw = tf.tidy(() => read(canny(x, { hysteresis: false }).edges));
      const hyst = tf.tidy(() => read(canny(x).edges));
      x.dispose();
      const strong = raw.filter((v) => v === 1).length;
      const weak = raw.filter((v) => v === 0.5).length;
      const ref = closure(raw, h, w);
      assertClose(hyst, ref, 0, 'hysteresis = connected closure');
      const promoted = ref.filter((v, i) => v === 1 && raw[i] === 0.5).length;
      assert.ok(strong > 0 && promoted > 0 && promoted < weak, `strong ${strong}, weak ${weak}, promoted ${promoted}`);
    });

    test('matches the official kornia-derived Canny (losses fixture)', { skip: !hasShared }, () => {
      const fx = readFixture(path.join(FIXTURES, 'losses_synth_32x32.safetensors'));
      for (const dir of ['forward', 'backward']) {
        tf.tidy(() => {
          const flows = hostToTensor(fx.tensors.get(`gt_flows_${dir}`)!) as tf.Tensor5D; // [1, T, 2, H, W]
          const [, t, , h, w] = flows.shape;
          const f = tf.transpose(tf.reshape(flows, [t, 2, h, w]), NCHW_TO_NHWC) as tf.Tensor4D;
          const mag = tf.sqrt(tf.sum(tf.square(f), -1, true));
          const peak = tf.max(mag).dataSync()[0];
          const { magnitude, edges } = canny((peak < 1 ? tf.zerosLike(mag) : tf.div(mag, peak)) as tf.Tensor4D);
          const e = read(edges);
          assert.deepEqual(Array.from(read(flowEdges(f))), Array.from(e));
          const ref = hostToTensor(fx.tensors.get(`canny_edges_${dir}`)!).dataSync();
          let diff = 0;
          for (let i = 0; i < e.length; i++) if (e[i] !== ref[i]) diff++;
          assert.ok(diff <= 0.002 * e.length, `canny edges ${dir}: ${diff} of ${e.length} differ`);
          if (dir === 'forward') assertClose(read(magnitude), hostToTensor(fx.tensors.get('canny_magnitude_forward')!).dataSync(), 1e-5, 'canny magnitude');
        });
      }
    });
  });
}
