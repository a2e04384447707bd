/**
 * `npm run bench -- ops [--reps N] [--only warp|deform|patches]`
 *
 * Forward and forward+backward time of the sampling ops on the current backend, at ProPainter's
 * feature-propagation sizes (tfjs-backends.md §3): flowWarp of 10 frames × 60×108 × 64 channels,
 * and deformConv2d 3×3 with 16 offset groups, 128→128 at 60×108, each beside a plain 3×3 conv
 * of the same size, with the ratio (target for deform conv fwd+bwd on wasm: ≤ 4× the conv).
 * Also unfold/fold with ProPainter's 7/3/3 on 10 frames of 60×108×40 (the FFN's fold → unfold).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2d } from '../lib/ops/conv';
import { deformConv2d } from '../lib/ops/deform';
import { flowWarp } from '../lib/ops/sample';
import { fold, unfold, unfoldGrid } from '../lib/ops/patches';
import { fmtPeak, fmtTiming, parseArgs, peakMemory, time, type Timing } from './util';

function rand(shape: number[], lo: number, hi: number, seed: number): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32', seed);
}

function line(label: string, t: Timing, flop?: number): void {
  console.log(`  ${label.padEnd(40)} ${fmtTiming(t, flop)}`);
}

function ratio(label: string, a: Timing, b: Timing): void {
  console.log(`  ${label.padEnd(40)} ${(a.best / b.best).toFixed(2)}× (best) ${(a.median / b.median).toFixed(2)}× (median)`);
}

/** Forward and forward+backward (gradients of Σ out·r w.r.t. every input) of f. */
async function fwdBwd(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], outShape: number[], reps: number): Promise<[Timing, Timing]> {
  const r = rand(outShape, -1, 1, 99);
  const fwd = await time(() => f(...inputs), { reps });
  const both = await time(() => {
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)));
    return g(inputs);
  }, { reps });
  r.dispose();
  return [fwd, both];
}

async function warpSection(reps: number): Promise<void> {
  const [t, h, w, c] = [10, 60, 108, 64];
  console.log(`flowWarp bilinear/zeros, ${t} frames × ${h}×${w} × ${c} ch`);
  const x = rand([t, h, w, c], -1, 1, 1);
  const flow = rand([t, h, w, 2], -4, 4, 2);
  const wt = rand([3, 3, c, c], -0.1, 0.1, 3);
  const [wf, wb] = await fwdBwd((a, b) => flowWarp(a as tf.Tensor4D, b as tf.Tensor4D), [x, flow], [t, h, w, c], reps);
  line('flowWarp fwd', wf);
  line('flowWarp fwd+bwd (x, flow)', wb);
  const flop = 2 * t * h * w * 9 * c * c;
  const [cf, cb] = await fwdBwd((a, b) => conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { padding: 1 }), [x, wt], [t, h, w, c], reps);
  line(`conv2d 3×3 ${c}→${c} fwd (same size)`, cf, flop);
  line(`conv2d 3×3 ${c}→${c} fwd+bwd`, cb, 3 * flop);
  ratio('flowWarp / conv fwd', wf, cf);
  ratio('flowWarp / conv fwd+bwd', wb, cb);
  tf.dispose([x, flow, wt]);
}

async function deformSection(reps: number): Promise<void> {
  const [n, h, w, ci, co, og] = [1, 60, 108, 128, 128, 16];
  console.log(`deformConv2d 3×3, ${og} offset groups, ${ci}→${co}, ${h}×${w}, with mask and bias`);
  const x = rand([n, h, w, ci], -1, 1, 4);
  const off = rand([n, h, w, 2 * og * 9], -2, 2, 5);
  const mask = rand([n, h, w, og * 9], 0.05, 0.95, 6);
  const wt = rand([3, 3, ci, co], -0.05, 0.05, 7);
  const bias = rand([co], -0.1, 0.1, 8);
  const flop = 2 * n * h * w * 9 * ci * co;
  const dcn = (a: tf.Tensor, o: tf.Tensor, m: tf.Tensor, k: tf.Tensor, b: tf.Tensor) =>
    deformConv2d(a as tf.Tensor4D, o as tf.Tensor4D, k as tf.Tensor4D, { mask: m as tf.Tensor4D, bias: b as tf.Tensor1D, padding: 1 });
  const [df, db] = await fwdBwd(dcn as (...xs: tf.Tensor[]) => tf.Tensor, [x, off, mask, wt, bias], [n, h, w, co], reps);
  line('deformConv2d fwd', df, flop);
  line('deformConv2d fwd+bwd (x, offset, mask, W, b)', db, 3 * flop);
  const conv = (a: tf.Tensor, k: tf.Tensor, b: tf.Tensor) => conv2d(a as tf.Tensor4D, k as tf.Tensor4D, { padding: 1, bias: b as tf.Tensor1D });
  const [cf, cb] = await fwdBwd(conv as (...xs: tf.Tensor[]) => tf.Tensor, [x, wt, bias], [n, h, w, co], reps);
  line(`conv2d 3×3 ${ci}→${co} fwd`, cf, flop);
  line(`conv2d 3×3 ${ci}→${co} fwd+bwd (x, W, b)`, cb, 3 * flop);
  ratio('deformConv2d / conv fwd', df, cf);
  ratio('deformConv2d / conv fwd+bwd', db, cb);
  const r = rand([n, h, w, co], -1, 1, 9);
  const peak = await peakMemory(() => tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(dcn(xs[0], xs[1], xs[2], xs[3], xs[4]), r)))([x, off, mask, wt, bias]));
  console.log(`  deformConv2d fwd+bwd memory: ${fmtPeak(peak)}`);
  tf.dispose([x, off, mask, wt, bias, r]);
}

async function patchSection(reps: number): Promise<void> {
  const [t, h, w, c] = [10, 60, 108, 40];
  const ps = { kernel: 7, stride: 3, padding: 3 };
  const [fh, fw] = unfoldGrid(h, w, ps);
  console.log(`unfold / fold 7×7 s3 p3, ${t} frames × ${h}×${w} × ${c} ch (${fh * fw} patches × ${c * 49})`);
  const x = rand([t, h, w, c], -1, 1, 10);
  const cols = rand([t, fh * fw, c * 49], -1, 1, 11);
  const [uf, ub] = await fwdBwd((a) => unfold(a as tf.Tensor4D, ps), [x], [t, fh * fw, c * 49], reps);
  line('unfold fwd', uf);
  line('unfold fwd+bwd', ub);
  const [ff, fb] = await fwdBwd((a) => fold(a as tf.Tensor3D, [h, w], ps), [cols], [t, h, w, c], reps);
  line('fold fwd', ff);
  line('fold fwd+bwd', fb);
  tf.dispose([x, cols]);
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs(args);
  const reps = Number(values.get('reps') ?? 5);
  const only = values.get('only');
  if (!only || only === 'warp') await warpSection(reps);
  if (!only || only === 'deform') await deformSection(reps);
  if (!only || only === 'patches') await patchSection(reps);
}
