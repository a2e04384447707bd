/**
 * conv2d / conv3d / convTranspose2d / replicatePad2d against naive PyTorch-semantics loops, and
 * their gradients against finite differences (dilation 2 and 3, groups, replicate padding, the
 * Conv3d forms ProPainter uses), on cpu and wasm.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { conv2d, conv3d, convTranspose2d, replicatePad2d, Conv2dOptions } from '../../lib/ops/conv';
import { assertClose } from '../helpers';
import { BACKENDS, at, data, naiveConv2d, gradCheck, read } from './util';

type T3 = [number, number, number];

function naiveConv3d(x: Float32Array, xs: number[], w: Float32Array, ws: number[], stride: T3, pad: T3, dil: T3, replicate: boolean): { data: Float64Array; shape: number[] } {
  const [b, t, h, wd, c] = xs;
  const [kt, kh, kw, , co] = ws;
  const out = [t, h, wd].map((s, a) => Math.floor((s + 2 * pad[a] - dil[a] * ([kt, kh, kw][a] - 1) - 1) / stride[a]) + 1);
  const [to, ho, wo] = out;
  const res = new Float64Array(b * to * ho * wo * co);
  const cl = (v: number, m: number) => Math.min(Math.max(v, 0), m - 1);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < to; i++)
      for (let y = 0; y < ho; y++)
        for (let xx = 0; xx < wo; xx++)
          for (let o = 0; o < co; o++) {
            let s = 0;
            for (let a = 0; a < kt; a++)
              for (let p = 0; p < kh; p++)
                for (let q = 0; q < kw; q++) {
                  let ti = i * stride[0] - pad[0] + a * dil[0];
                  let yi = y * stride[1] - pad[1] + p * dil[1];
                  let xi = xx * stride[2] - pad[2] + q * dil[2];
                  if (replicate) ti = cl(ti, t);
                  else if (ti < 0 || ti >= t) continue;
                  if (replicate) {
                    yi = cl(yi, h);
                    xi = cl(xi, wd);
                  } else if (yi < 0 || yi >= h || xi < 0 || xi >= wd) continue;
                  for (let ci = 0; ci < c; ci++) s += x[at(xs, n, ti, yi, xi, ci)] * w[at(ws, a, p, q, ci, o)];
                }
            res[at([b, to, ho, wo, co], n, i, y, xx, o)] = s;
          }
  return { data: res, shape: [b, to, ho, wo, co] };
}

/** PyTorch conv_transpose2d with weight stored as [kh, kw, Cout, Cin]. */
function naiveConvT(x: Float32Array, xs: number[], w: Float32Array, ws: number[], s: number, p: number, op: number): { data: Float64Array; shape: number[] } {
  const [n, h, wd, ci] = xs;
  const [kh, kw, co] = ws;
  const oh = (h - 1) * s - 2 * p + kh + op;
  const ow = (wd - 1) * s - 2 * p + kw + op;
  const out = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < wd; j++)
        for (let a = 0; a < kh; a++)
          for (let bb = 0; bb < kw; bb++) {
            const y = i * s - p + a;
            const xx = j * s - p + bb;
            if (y < 0 || y >= oh || xx < 0 || xx >= ow) continue;
            for (let o = 0; o < co; o++) {
              let acc = 0;
              for (let c = 0; c < ci; c++) acc += x[at(xs, b, i, j, c)] * w[at(ws, a, bb, o, c)];
              out[at([n, oh, ow, co], b, y, xx, o)] += acc;
            }
          }
  return { data: out, shape: [n, oh, ow, co] };
}

const CONV2D_CASES: Array<[string, number[], number[], Conv2dOptions]> = [
  ['3×3 pad 1', [2, 6, 7, 3], [3, 3, 3, 4], { padding: 1 }],
  ['3×3 stride 2 pad 1', [1, 7, 8, 3], [3, 3, 3, 4], { padding: 1, stride: 2 }],
  ['dilation 2', [1, 8, 9, 3], [3, 3, 3, 2], { padding: 2, dilation: 2 }],
  ['dilation 3', [1, 9, 8, 2], [3, 3, 2, 3], { padding: 3, dilation: 3 }],
  ['groups 2', [1, 6, 5, 4], [3, 3, 2, 6], { padding: 1, groups: 2 }],
  ['groups 4, dilation 2', [1, 7, 7, 8], [3, 3, 2, 4], { padding: 2, dilation: 2, groups: 4 }],
  ['replicate padding 5×5', [1, 6, 7, 3], [5, 5, 3, 2], { padding: 2, paddingMode: 'replicate', stride: 2 }],
  ['1×3 asymmetric', [1, 5, 6, 2], [1, 3, 2, 3], { padding: [0, 1] }],
  ['stride 2 with dilation 2', [1, 9, 10, 2], [3, 3, 2, 3], { padding: 2, dilation: 2, stride: 2 }],
];

const CONV3D_CASES: Array<[string, number[], number[], { stride?: T3; padding?: T3; dilation?: T3; paddingMode?: 'zeros' | 'replicate' }]> = [
  ['(1,3,3) stride (1,2,2)', [1, 3, 7, 8, 2], [1, 3, 3, 2, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }],
  ['(3,1,1) temporal dilation 2', [1, 5, 4, 3, 3], [3, 1, 1, 3, 2], { padding: [2, 0, 0], dilation: [2, 1, 1] }],
  ['(1,3,3) spatial dilation 3', [1, 2, 8, 8, 2], [1, 3, 3, 2, 2], { padding: [0, 3, 3], dilation: [1, 3, 3] }],
  ['(3,5,5) stride (1,2,2) pad (1,2,2)', [1, 3, 9, 10, 2], [3, 5, 5, 2, 3], { stride: [1, 2, 2], padding: [1, 2, 2] }],
  ['(1,5,5) replicate stride (1,2,2)', [2, 2, 7, 6, 3], [1, 5, 5, 3, 2], { stride: [1, 2, 2], padding: [0, 2, 2], paddingMode: 'replicate' }],
  ['(3,3,3) temporal stride 2', [1, 6, 5, 5, 2], [3, 3, 3, 2, 2], { stride: [2, 1, 1], padding: [1, 1, 1] }],
  ['(3,3,3) replicate in time and space', [1, 3, 4, 5, 2], [3, 3, 3, 2, 2], { padding: [2, 1, 1], paddingMode: 'replicate' }],
];

for (const backend of BACKENDS) {
  describe(`convolutions (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('replicatePad2d repeats edge rows and columns', () => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
      const y = replicatePad2d(x, 1, 2, 2, 1);
      assert.deepEqual(y.shape, [1, 5, 6, 1]);
      const r1 = [1, 1, 1, 2, 3, 3];
      const r2 = [4, 4, 4, 5, 6, 6];
      assert.deepEqual(Array.from(read(y)), [...r1, ...r1, ...r2, ...r2, ...r2]);
      tf.dispose([x, y]);
    });

    for (const [name, xs, ws, opts] of CONV2D_CASES) {
      test(`conv2d ${name}: forward and gradients`, () => {
        const x = data(xs);
        const w = data(ws, -0.5, 0.5);
        const bias = data([ws[3]], -0.2, 0.2);
        const p = opts.padding === undefined || opts.padding === 'same' ? [0, 0] : typeof opts.padding === 'number' ? [opts.padding, opts.padding] : opts.padding;
        const pr = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
        const ref = naiveConv2d(x, xs, w, ws, {
          stride: pr(opts.stride as number | [number, number] | undefined, 1),
          padding: p as [number, number],
          dilation: pr(opts.dilation as number | [number, number] | undefined, 1),
          groups: opts.groups,
          replicate: opts.paddingMode === 'replicate',
          bias,
        });
        const X = tf.tensor4d(x, xs as [number, number, number, number]);
        const W = tf.tensor4d(w, ws as [number, number, number, number]);
        const B = tf.tensor1d(bias);
        const y = conv2d(X, W, { ...opts, bias: B });
        assert.deepEqual(y.shape, ref.shape);
        assertClose(read(y), ref.data, 2e-6, `conv2d ${name}`);
        const r = tf.tensor(data(ref.shape), ref.shape);
        gradCheck((a, b, c) => tf.sum(tf.mul(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { ...opts, bias: c as tf.Tensor1D }), r)), [X, W, B], { what: `conv2d ${name}` });
        tf.dispose([X, W, B, y, r]);
      });
    }

    for (const [name, xs, ws, opts] of CONV3D_CASES) {
      test(`conv3d ${name}: forward and gradients`, () => {
        const x = data(xs);
        const w = data(ws, -0.5, 0.5);
        const ref = naiveConv3d(x, xs, w, ws, opts.stride ?? [1, 1, 1], opts.padding ?? [0, 0, 0], opts.dilation ?? [1, 1, 1], opts.paddingMode === 'replicate');
        const X = tf.tensor5d(x, xs as [number, number, number, number, number]);
        const W = tf.tensor5d(w, ws as [number, number, number, number, number]);
        const y = conv3d(X, W, opts);
        assert.deepEqual(y.shape, ref.shape);
        assertClose(read(y), ref.data, 2e-6, `conv3d ${name}`);
        const r = tf.tensor(data(ref.shape), ref.shape);
        gradCheck((a, b) => tf.sum(tf.mul(conv3d(a as tf.Tensor5D, b as tf.Tensor5D, opts), r)), [X, W], { what: `conv3d ${name}` });
        tf.dispose([X, W, y, r]);
      });
    }

    for (const [k, s, p, op] of [
      [4, 2, 1, 0],
      [3, 2, 1, 1],
      [3, 1, 0, 0],
    ]) {
      test(`convTranspose2d k${k} s${s} p${p} output_padding ${op}: forward and gradients`, () => {
        const xs = [2, 4, 5, 3];
        const ws = [k, k, 2, 3];
        const x = data(xs);
        const w = data(ws, -0.5, 0.5);
        const ref = naiveConvT(x, xs, w, ws, s, p, op);
        const X = tf.tensor4d(x, xs as [number, number, number, number]);
        const W = tf.tensor4d(w, ws as [number, number, number, number]);
        const y = convTranspose2d(X, W, { stride: s, padding: p, outputPadding: op });
        assert.deepEqual(y.shape, ref.shape);
        assertClose(read(y), ref.data, 2e-6, 'convTranspose2d');
        const r = tf.tensor(data(ref.shape), ref.shape);
        gradCheck((a, b) => tf.sum(tf.mul(convTranspose2d(a as tf.Tensor4D, b as tf.Tensor4D, { stride: s, padding: p, outputPadding: op }), r)), [X, W], { what: 'convTranspose2d' });
        tf.dispose([X, W, y, r]);
      });
    }
  });
}
