/**
 * deformConv2d: forward against a naive torchvision-semantics loop (offset groups, weight groups,
 * stride, padding, dilation, mask, bias), equality with conv2d at zero offset, and every gradient
 * (input, offset, mask, weight, bias) against finite differences, on cpu and wasm. The parity
 * fixtures are covered by `propainter fixture-check` (lib/fixtures/components/deform-conv2d.ts).
 */
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { deformConv2d } from '../../lib/ops/deform';
import { conv2d } from '../../lib/ops/conv';
import { assertClose } from '../helpers';
import { BACKENDS, at, bilinearAt, data, gradCheck, read } from './util';

interface Case {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: [number, number];
  og: number;
  groups: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  mask: boolean;
  bias: boolean;
}

function outSize(c: Case): [number, number] {
  return [0, 1].map((a) => Math.floor(([c.h, c.w][a] + 2 * c.padding[a] - c.dilation[a] * (c.k[a] - 1) - 1) / c.stride[a]) + 1) as [number, number];
}

function naive(c: Case, x: Float32Array, off: Float32Array, mask: Float32Array | null, wt: Float32Array, bias: Float32Array | null): Float64Array {
  const [ho, wo] = outSize(c);
  const [kh, kw] = c.k;
  const kk = kh * kw;
  const xs = [c.n, c.h, c.w, c.cin];
  const cgW = c.cin / c.groups;
  const cgO = c.cin / c.og;
  const outG = c.cout / c.groups;
  const out = new Float64Array(c.n * ho * wo * c.cout);
  for (let b = 0; b < c.n; b++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let o = 0; o < c.cout; o++) {
          const grp = Math.floor(o / outG);
          let s = bias ? bias[o] : 0;
          for (let ci = 0; ci < cgW; ci++) {
            const cin = grp * cgW + ci;
            const g = Math.floor(cin / cgO);
            for (let a = 0; a < kh; a++)
              for (let bb = 0; bb < kw; bb++) {
                const tap = a * kw + bb;
                const oc = 2 * (g * kk + tap);
                const dy = off[at([c.n, ho, wo, 2 * c.og * kk], b, i, j, oc)];
                const dx = off[at([c.n, ho, wo, 2 * c.og * kk], b, i, j, oc + 1)];
                const y = i * c.stride[0] - c.padding[0] + a * c.dilation[0] + dy;
                const xx = j * c.stride[1] - c.padding[1] + bb * c.dilation[1] + dx;
                // torchvision: 0 at or beyond one pixel outside
                const v = y <= -1 || y >= c.h || xx <= -1 || xx >= c.w ? 0 : bilinearAt(x, xs, b, xx, y, cin);
                const m = mask ? mask[at([c.n, ho, wo, c.og * kk], b, i, j, g * kk + tap)] : 1;
                s += wt[at([kh, kw, cgW, c.cout], a, bb, ci, o)] * m * v;
              }
          }
          out[at([c.n, ho, wo, c.cout], b, i, j, o)] = s;
        }
  return out;
}

const CASES: Array<[string, Case]> = [
  ['3×3, 4 offset groups, mask, bias', { n: 2, h: 5, w: 6, cin: 8, cout: 5, k: [3, 3], og: 4, groups: 1, stride: [1, 1], padding: [1, 1], dilation: [1, 1], mask: true, bias: true }],
  ['stride 2, dilation 2, weight groups 2, no mask', { n: 1, h: 7, w: 8, cin: 4, cout: 6, k: [3, 3], og: 1, groups: 2, stride: [2, 2], padding: [2, 2], dilation: [2, 2], mask: false, bias: false }],
  ['2×3 kernel, asymmetric stride/padding, og 2', { n: 1, h: 6, w: 5, cin: 4, cout: 3, k: [2, 3], og: 2, groups: 1, stride: [1, 2], padding: [0, 1], dilation: [1, 1], mask: true, bias: false }],
];

/** Offsets whose sample positions have fractional parts away from 0 and 1 (smooth for FD). */
function safeOffsets(c: Case, seed: number): Float32Array {
  const [ho, wo] = outSize(c);
  const r = data([c.n * ho * wo * 2 * c.og * c.k[0] * c.k[1]], 0, 1, seed);
  const fr = [0.2, 0.35, 0.65, 0.8];
  return r.map((v, i) => Math.floor(v * 5) - 2 + fr[i % 4]);
}

for (const backend of BACKENDS) {
  describe(`deformConv2d (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    for (const [name, c] of CASES) {
      test(`${name}: forward matches torchvision semantics; all gradients`, () => {
        const [ho, wo] = outSize(c);
        const kk = c.k[0] * c.k[1];
        const x = data([c.n, c.h, c.w, c.cin]);
        const off = data([c.n, ho, wo, 2 * c.og * kk], -2.5, 2.5);
        const mask = c.mask ? data([c.n, ho, wo, c.og * kk], 0.05, 0.95) : null;
        const wt = data([c.k[0], c.k[1], c.cin / c.groups, c.cout], -0.5, 0.5);
        const bias = c.bias ? data([c.cout], -0.3, 0.3) : null;
        const T = {
          x: tf.tensor4d(x, [c.n, c.h, c.w, c.cin]),
          off: tf.tensor4d(off, [c.n, ho, wo, 2 * c.og * kk]),
          safeOff: tf.tensor4d(safeOffsets(c, 5), [c.n, ho, wo, 2 * c.og * kk]),
          mask: mask ? tf.tensor4d(mask, [c.n, ho, wo, c.og * kk]) : null,
          wt: tf.tensor4d(wt, [c.k[0], c.k[1], c.cin / c.groups, c.cout]),
          bias: bias ? tf.tensor1d(bias) : null,
        };
        const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
        const out = tf.tidy(() => read(deformConv2d(T.x, T.off, T.wt, { ...opts, mask: T.mask, bias: T.bias })));
        assertClose(out, naive(c, x, off, mask, wt, bias), 2e-6, 'deformConv2d forward');

        const r = tf.tensor4d(data([c.n, ho, wo, c.cout]), [c.n, ho, wo, c.cout]);
        const ins: tf.Tensor[] = [T.x, T.safeOff, T.wt, ...(T.mask ? [T.mask] : []), ...(T.bias ? [T.bias] : [])];
        const f = (...t: tf.Tensor[]) =>
          tf.sum(
            tf.mul(
              deformConv2d(t[0] as tf.Tensor4D, t[1] as tf.Tensor4D, t[2] as tf.Tensor4D, {
                ...opts,
                mask: T.mask ? (t[3] as tf.Tensor4D) : null,
                bias: T.bias ? (t[ins.length - 1] as tf.Tensor1D) : null,
              }),
              r,
            ),
          ) as tf.Scalar;
        gradCheck(f, ins, { what: `deformConv2d ${name}` });
        tf.dispose([T.x, T.off, T.safeOff, T.wt, r, ...(T.mask ? [T.mask] : []), ...(T.bias ? [T.bias] : [])]);
      });
    }

    test('zero offsets and unit mask reproduce conv2d (3×3, 16 offset groups)', () => {
      const [n, h, w, cin, cout, og] = [1, 6, 7, 32, 8, 16];
      tf.tidy(() => {
        const x = tf.tensor4d(data([n, h, w, cin]), [n, h, w, cin]);
        const wt = tf.tensor4d(data([3, 3, cin, cout], -0.3, 0.3), [3, 3, cin, cout]);
        const b = tf.tensor1d(data([cout]));
        const y = deformConv2d(x, tf.zeros([n, h, w, 2 * og * 9]), wt, { mask: tf.ones([n, h, w, og * 9]), bias: b, padding: 1 });
        assertClose(read(y), read(conv2d(x, wt, { padding: 1, bias: b })), 1e-5, 'deform vs conv2d');
      });
    });
  });
}
