/**
 * InpaintGenerator: key inventory and det-init against the shared weights manifest, the
 * tap-major fold/unfold and block pooling against reference ops, the sparse window attention
 * against a direct transcription of the official algorithm, gradients, leaks and inpaintClip.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { FIXTURES, assertClose, hasShared, randn } from '../helpers';
import { InpaintGenerator, inpaintClip, validIndRolled } from '../../lib/models/propainter';
import { foldPatches, unfoldPatches, foldCounts, patchCount } from '../../lib/models/propainter/t2t';
import { BlockPool } from '../../lib/models/propainter/layers';
import { SoftComp, SoftSplit, SparseWindowAttention, TemporalSparseTransformer } from '../../lib/models/propainter/transformer';
import { applyDetInit } from '../../lib/init/apply';
import { seedInit } from '../../lib/nn/init';
import { fold, unfold } from '../../lib/ops';

const MANIFEST = path.join(FIXTURES, 'weights_manifest.json');

test('parameter count, state-dict keys, shapes, order and det-init match ProPainter.pth / the manifest', { skip: !hasShared }, async () => {
  await useBackend('cpu');
  const g = new InpaintGenerator();
  try {
    assert.equal(g.numParameters(), 39_429_667);
    const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
    const want = manifest.models.InpaintGenerator as Array<{ name: string; shape: number[]; dtype: string; sha256_f32le?: string; values_head?: number[] }>;
    assert.equal(manifest.param_counts.InpaintGenerator, 39_429_667);
    applyDetInit(g);
    const sd = g.stateDict();
    assert.deepEqual([...sd.keys()], want.map((e) => e.name), 'state-dict key order');
    for (const e of want) {
      const got = sd.get(e.name)!;
      assert.deepEqual(got.shape, e.shape, `${e.name} shape`);
      assert.equal(got.dtype, e.dtype, `${e.name} dtype`);
      if (e.dtype === 'float32') {
        const f = got.data as Float32Array;
        const sha = createHash('sha256').update(Buffer.from(f.buffer, f.byteOffset, f.byteLength)).digest('hex');
        assert.equal(sha, e.sha256_f32le, `${e.name} det-init values (layout round trip)`);
      } else {
        const v = Array.from(got.data as BigInt64Array, Number);
        assert.deepEqual(v.slice(0, e.values_head!.length), e.values_head, `${e.name} values`);
        assert.deepEqual(v, validIndRolled(5, 9));
      }
    }
    // A checkpoint in PyTorch layout loads back strictly and reproduces the same state dict.
    const g2 = new InpaintGenerator();
    g2.loadStateDict(sd);
    const sd2 = g2.stateDict();
    for (const k of ['ss.embedding.weight', 'sc.embedding.weight', 'sc.embedding.bias', 'transformers.transformer.3.mlp.fc1.0.weight',
      'transformers.transformer.3.mlp.fc1.0.bias', 'transformers.transformer.3.mlp.fc2.1.weight', 'transformers.transformer.5.attention.pool_layer.weight']) {
      assert.deepEqual(Array.from(sd2.get(k)!.data as Float32Array), Array.from(sd.get(k)!.data as Float32Array), k);
    }
    g2.dispose();
  } finally {
    g.dispose();
  }
});

test('valid_ind_rolled: 148 kept positions of the four rolled 5×9 copies', () => {
  const ind = validIndRolled(5, 9);
  assert.equal(ind.length, 148);
  assert.deepEqual(ind.slice(0, 8), [4, 5, 6, 7, 8, 13, 14, 15]);
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`tap-major fold/unfold equal nn.Unfold / F.fold (lib/ops) with the 7/3/3 geometry [${backend}]`, async () => {
    await useBackend(backend);
    for (const [h, w, c] of [[16, 16, 3], [13, 17, 2], [8, 11, 4]] as const) {
      tf.tidy(() => {
        const x = randn([2, h, w, c], h * w) as tf.Tensor4D;
        const opts = { kernel: 7, stride: 3, padding: 3 };
        const fh = patchCount(h);
        const fw = patchCount(w);
        // ours [N, fh, fw, 49·C] tap-major → PyTorch columns [N, L, C·49].
        const toTorch = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [2, fh * fw, 49, c]), [0, 1, 3, 2]), [2, fh * fw, c * 49]);
        const ref = unfold(x, opts);
        const got = toTorch(unfoldPatches(x));
        assertClose(got.dataSync(), ref.dataSync(), 0, `unfold ${h}x${w}`);
        const cols = randn([2, fh * fw, c * 49], 3) as tf.Tensor3D;
        const refF = fold(cols, [h, w], opts);
        const ours = tf.reshape(tf.transpose(tf.reshape(cols, [2, fh * fw, c, 49]), [0, 1, 3, 2]), [2, fh, fw, 49 * c]) as tf.Tensor4D;
        assertClose(foldPatches(ours, h, w).dataSync(), refF.dataSync(), 1e-6, `fold ${h}x${w}`);
        const cnt = foldCounts(h, w);
        const ones = fold(tf.ones([1, fh * fw, 49]) as tf.Tensor3D, [h, w], opts);
        assertClose(cnt.dataSync(), ones.dataSync(), 0, 'fold(ones)');
        // Gradients: fold and unfold are adjoint.
        const [gu] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(unfoldPatches(a as tf.Tensor4D), ours)))([x]);
        assertClose(gu.dataSync(), foldPatches(ours, h, w).dataSync(), 1e-5, 'unfold gradient = fold');
      });
    }
  });

  test(`block pooling equals a 4×4 stride-4 depthwise conv [${backend}]`, async () => {
    await useBackend(backend);
    const pool = new BlockPool(6, 4);
    tf.tidy(() => {
      for (const [h, w] of [[8, 12], [10, 9]]) {
        const x = randn([2, h, w, 6], h + w) as tf.Tensor4D;
        const c = tf.slice(x, [0, 0, 0, 0], [2, Math.floor(h / 4) * 4, Math.floor(w / 4) * 4, 6]) as tf.Tensor4D;
        const ref = tf.add(tf.depthwiseConv2d(c, pool.weight as tf.Tensor4D, 4, 'valid'), pool.bias);
        assertClose(pool.forward(x).dataSync(), ref.dataSync(), 1e-5, `pool ${h}x${w}`);
      }
    });
    pool.dispose();
  });
}

/** Direct transcription of SparseWindowAttention.forward (one clip) in plain JS, torch-layout weights. */
function referenceAttention(
  x: Float32Array, t: number, fh: number, fw: number, c: number, heads: number,
  sd: Map<string, { data: unknown; shape: number[] }>, masked: boolean[], tInd: number[],
): Float32Array {
  const W = (n: string) => sd.get(n)!.data as Float32Array;
  const [wh, ww] = [5, 9];
  const nh = Math.ceil(fh / wh);
  const nw = Math.ceil(fw / ww);
  const hp = nh * wh;
  const wp = nw * ww;
  const at = (a: Float32Array, ti: number, r: number, col: number, ch: number) => a[((ti * hp + r) * wp + col) * c + ch];
  const xp = new Float32Array(t * hp * wp * c);
  for (let ti = 0; ti < t; ti++) for (let r = 0; r < fh; r++) for (let col = 0; col < fw; col++) for (let ch = 0; ch < c; ch++) {
    xp[((ti * hp + r) * wp + col) * c + ch] = x[((ti * fh + r) * fw + col) * c + ch];
  }
  const lin = (name: string, inp: Float32Array, rows: number) => {
    const w = W(`${name}.weight`);
    const b = W(`${name}.bias`);
    const out = new Float32Array(rows * c);
    for (let i = 0; i < rows; i++) for (let o = 0; o < c; o++) {
      let s = b[o];
      for (let k = 0; k < c; k++) s += w[o * c + k] * inp[i * c + k];
      out[i * c + o] = s;
    }
    return out;
  };
  const rows = t * hp * wp;
  const q = lin('query', xp, rows);
  const k = lin('key', xp, rows);
  const v = lin('value', xp, rows);
  // Pool (depthwise 4×4 stride 4) on the padded normed input, then key/value projections.
  const ph = Math.floor(hp / 4);
  const pw = Math.floor(wp / 4);
  const pwgt = W('pool_layer.weight');
  const pb = W('pool_layer.bias');
  const pooled = new Float32Array(t * ph * pw * c);
  for (let ti = 0; ti < t; ti++) for (let i = 0; i < ph; i++) for (let j = 0; j < pw; j++) for (let ch = 0; ch < c; ch++) {
    let s = pb[ch];
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) s += pwgt[ch * 16 + a * 4 + b] * at(xp, ti, 4 * i + a, 4 * j + b, ch);
    pooled[((ti * ph + i) * pw + j) * c + ch] = s;
  }
  const kp = lin('key', pooled, t * ph * pw);
  const vp = lin('value', pooled, t * ph * pw);
  const ind = validIndRolled(wh, ww);
  const [eh, ew] = [3, 5];
  const shifts = [[-eh, -ew], [-eh, ew], [eh, -ew], [eh, ew]];
  const mod = (a: number, n: number) => ((a % n) + n) % n;
  const dh = c / heads;
  const out = new Float32Array(t * hp * wp * c);
  const vec = (a: Float32Array, ti: number, r: number, col: number, hd: number) => {
    const o = ((ti * hp + r) * wp + col) * c + hd * dh;
    return a.subarray(o, o + dh);
  };
  const attend = (qv: Float32Array, keys: Float32Array[], vals: Float32Array[]) => {
    const s = keys.map((kv) => kv.reduce((acc, kk, i) => acc + kk * qv[i], 0) / Math.sqrt(dh));
    const m = Math.max(...s);
    const e = s.map((z) => Math.exp(z - m));
    const z = e.reduce((a, b) => a + b, 0);
    const res = new Float32Array(dh);
    vals.forEach((vv, j) => vv.forEach((val, i) => (res[i] += (e[j] / z) * val)));
    return res;
  };
  for (let a = 0; a < nh; a++) for (let b = 0; b < nw; b++) {
    const win: Array<[number, number]> = [];
    for (let i = 0; i < wh; i++) for (let j = 0; j < ww; j++) win.push([a * wh + i, b * ww + j]);
    for (let hd = 0; hd < heads; hd++) {
      for (let ti = 0; ti < t; ti++) {
        let keys: Float32Array[] = [];
        let vals: Float32Array[] = [];
        if (masked[a * nw + b]) {
          for (const tk of tInd) {
            for (const [r, col] of win) { keys.push(vec(k, tk, r, col, hd)); vals.push(vec(v, tk, r, col, hd)); }
            const rolled: Array<[number, number]> = [];
            for (const [sr, sc] of shifts) for (const [r, col] of win) rolled.push([mod(r - sr, hp), mod(col - sc, wp)]);
            for (const idx of ind) { const [r, col] = rolled[idx]; keys.push(vec(k, tk, r, col, hd)); vals.push(vec(v, tk, r, col, hd)); }
            for (let p = 0; p < ph * pw; p++) {
              const o = (tk * ph * pw + p) * c + hd * dh;
              keys.push(kp.subarray(o, o + dh));
              vals.push(vp.subarray(o, o + dh));
            }
          }
        } else {
          keys = win.map(([r, col]) => vec(k, ti, r, col, hd));
          vals = win.map(([r, col]) => vec(v, ti, r, col, hd));
        }
        for (const [r, col] of win) {
          const res = attend(vec(q, ti, r, col, hd), keys, vals);
          out.set(res, ((ti * hp + r) * wp + col) * c + hd * dh);
        }
      }
    }
  }
  const crop = new Float32Array(t * fh * fw * c);
  for (let ti = 0; ti < t; ti++) for (let r = 0; r < fh; r++) for (let col = 0; col < fw; col++) for (let ch = 0; ch < c; ch++) {
    crop[((ti * fh + r) * fw + col) * c + ch] = at(out, ti, r, col, ch);
  }
  return lin('proj', crop, t * fh * fw);
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`sparse window attention equals the official algorithm (masked + unmasked windows, rolled wrap, pooling) [${backend}]`, async () => {
    await useBackend(backend);
    const attn = new SparseWindowAttention(8, 2, [5, 9], [4, 4]);
    try {
      const sd = attn.stateDict();
      const [t, fh, fw, c] = [3, 7, 11, 8];
      const x = randn([t, fh, fw, c], 11) as tf.Tensor4D;
      for (const [masked, start] of [[[true, false, false, true], 1], [[false, true, true, true], 0], [[false, false, false, false], 0]] as const) {
        const tInd = Array.from({ length: Math.ceil((t - start) / 2) }, (_, i) => start + 2 * i);
        const ref = referenceAttention(x.dataSync() as Float32Array, t, fh, fw, c, 2, sd as any, [...masked], tInd);
        const y = attn.forwardClip(x, [...masked], start, 2);
        assertClose(y.dataSync(), ref, 1e-5, `attention flags ${masked} T_ind ${tInd}`);
        y.dispose();
      }
      x.dispose();
    } finally {
      attn.dispose();
    }
  });
}

/** A tiny clip: 32×32, T = 3 frames (lt = 2 local + 1 reference). */
function tinyClip() {
  const T = 3;
  const H = 32;
  const W = 32;
  const frames = randn([1, T, H, W, 3], 5) as tf.Tensor5D;
  const masks = tf.tidy(() => tf.cast(tf.greater(randn([1, T, H, W, 1], 6, 0, 1), 0.6), 'float32')) as tf.Tensor5D;
  const upd = tf.tidy(() => tf.mul(masks, tf.cast(tf.greater(randn([1, T, H, W, 1], 7, 0, 1), 0.3), 'float32'))) as tf.Tensor5D;
  const f = randn([1, T - 1, H, W, 2], 8, -2, 2) as tf.Tensor5D;
  const b = randn([1, T - 1, H, W, 2], 9, -2, 2) as tf.Tensor5D;
  return { frames, masks, upd, f, b, dispose: () => [frames, masks, upd, f, b].forEach((x) => x.dispose()) };
}

/** Directional finite difference of loss() along a random direction of variable v vs the analytic gradient. */
function directional(loss: () => tf.Scalar, v: tf.Variable, g: tf.Tensor, eps: number, seed: number): [number, number] {
  const dir = randn(v.shape, seed);
  const analytic = tf.tidy(() => tf.sum(tf.mul(g, dir)).dataSync()[0]);
  const v0 = v.clone();
  const at = (s: number) => {
    tf.tidy(() => v.assign(tf.add(v0, tf.mul(dir, s))));
    return tf.tidy(() => loss().dataSync()[0]);
  };
  const numeric = (at(eps) - at(-eps)) / (2 * eps);
  v.assign(v0);
  v0.dispose();
  dir.dispose();
  return [analytic, numeric];
}

test('transformer block and soft split/composition parameter gradients match finite differences (smooth parts)', async () => {
  await useBackend('cpu');
  seedInit(7); // the weights (and so the check) do not depend on which tests ran before
  const blk = new TemporalSparseTransformer(16, 2, [5, 9], [4, 4]);
  const ss = new SoftSplit(4, 16);
  const sc = new SoftComp(4, 16);
  try {
    const [t, h, w] = [3, 20, 32];
    const feat = randn([t, h, w, 4], 31) as tf.Tensor4D;
    const r = randn([t, h, w, 4], 32);
    const flags = [[true, false, false, true]];
    const loss = () =>
      tf.tidy(() => {
        const tok = ss.forward(feat);
        const [, fh, fw, c] = tok.shape;
        const y = blk.forward(tf.reshape(tok, [1, t, fh, fw, c]) as tf.Tensor5D, h, w, flags, 1, 2);
        return tf.sum(tf.mul(sc.forward(tf.reshape(y, [t, fh, fw, c]) as tf.Tensor4D, h, w), r)) as tf.Scalar;
      });
    const named = [...blk.namedParameters().map(([n, v]) => [`blk.${n}`, v] as const), ...ss.namedParameters().map(([n, v]) => [`ss.${n}`, v] as const),
      ...sc.namedParameters().map(([n, v]) => [`sc.${n}`, v] as const)];
    const { value, grads } = tf.variableGrads(loss, named.map(([, v]) => v));
    value.dispose();
    named.forEach(([name, v], i) => {
      const [analytic, numeric] = directional(loss, v, grads[v.name], 1e-3, 40 + i);
      // 1 % relative, plus the float32 rounding floor of the central difference (key/query biases
      // have an exactly zero gradient: softmax is shift-invariant).
      const err = Math.abs(analytic - numeric);
      assert.ok(err <= 1e-2 * Math.max(Math.abs(analytic), Math.abs(numeric)) + 5e-3, `${name}: analytic ${analytic} vs numeric ${numeric}`);
    });
    Object.values(grads).forEach((x) => x.dispose());
    feat.dispose();
    r.dispose();
  } finally {
    blk.dispose();
    ss.dispose();
    sc.dispose();
  }
});

test('whole generator (train mode): every parameter gets a finite, non-zero gradient; no tensors leak [wasm]', async () => {
  await useBackend('wasm');
  const g = new InpaintGenerator();
  const clip = tinyClip();
  try {
    g.train();
    const lt = 2;
    const fl = tf.slice(clip.f, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1]);
    const bl = tf.slice(clip.b, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1]);
    const r = randn([1, 3, 32, 32, 3], 13);
    const loss = () => tf.sum(tf.mul(g.forward(clip.frames, [fl, bl], clip.masks, clip.upd, lt), r)) as tf.Scalar;
    for (let run = 0; run < 2; run++) {
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(loss);
      const names = new Map(g.namedParameters().map(([n, v]) => [v.name, n]));
      assert.equal(Object.keys(grads).length, g.parameters().length);
      for (const [id, gr] of Object.entries(grads)) {
        const d = gr.dataSync();
        assert.ok(d.every(Number.isFinite), `${names.get(id)}: non-finite gradient`);
        assert.ok(d.some((x) => x !== 0), `${names.get(id)}: zero gradient`);
      }
      value.dispose();
      Object.values(grads).forEach((x) => x.dispose());
      assert.equal(tf.memory().numTensors, before, 'no tensors left after the gradient computation');
    }
    fl.dispose();
    bl.dispose();
    r.dispose();
  } finally {
    clip.dispose();
    g.dispose();
  }
});

// cpu takes minutes for the full-size model: only with PROPAINTER_SLOW=1.
for (const backend of (process.env.PROPAINTER_SLOW === '1' ? ['wasm', 'cpu'] : ['wasm']) as Array<'cpu' | 'wasm'>) {
  test(`eval/train forwards, imgPropagation and inpaintClip leave no tensors behind; inpaintClip = eval forward [${backend}]`, async () => {
    await useBackend(backend);
    const g = new InpaintGenerator();
    const clip = tinyClip();
    try {
      const lt = 2;
      const fl = tf.slice(clip.f, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1]);
      const bl = tf.slice(clip.b, [0, 0, 0, 0, 0], [1, lt - 1, -1, -1, -1]);
      const counts: number[] = [];
      let first: Float32Array | null = null;
      for (let i = 0; i < 2; i++) {
        const n0 = tf.memory().numTensors;
        g.eval();
        const e = g.forward(clip.frames, [fl, bl], clip.masks, clip.upd, lt);
        assert.deepEqual(e.shape, [1, 2, 32, 32, 3]);
        if (!first) first = e.dataSync().slice() as Float32Array;
        e.dispose();
        g.train();
        const t = g.forward(clip.frames, [fl, bl], clip.masks, clip.upd, lt);
        assert.deepEqual(t.shape, [1, 3, 32, 32, 3]);
        t.dispose();
        const p = g.imgPropagation(clip.frames, [clip.f, clip.b], clip.masks);
        assert.deepEqual(p.masks.shape, [1, 3, 32, 32, 1]);
        p.frames.dispose();
        p.masks.dispose();
        // inpaintClip takes the first lt−1 of longer flow lists, runs in eval mode, restores train mode.
        const c = inpaintClip(g, { frames: clip.frames, flows: { forward: clip.f, backward: clip.b }, masksIn: clip.masks, masksUpdated: clip.upd, numLocal: lt });
        assert.equal(g.training, true);
        assertClose(c.dataSync(), first, 1e-6, 'inpaintClip vs eval forward');
        c.dispose();
        counts.push(tf.memory().numTensors - n0);
      }
      assert.deepEqual(counts, [0, 0]);
      fl.dispose();
      bl.dispose();
    } finally {
      clip.dispose();
      g.dispose();
    }
  });
}

test('a batch of two clips gives the same predictions as two single-clip calls (eval and train) [wasm]', async () => {
  await useBackend('wasm');
  const g = new InpaintGenerator();
  const a = tinyClip();
  try {
    // Second clip: other frames and no holes, so its attention window is unmasked while the
    // first clip's is masked.
    const frames2 = tf.tidy(() => tf.reverse(a.frames, 3));
    const masks2 = tf.zerosLike(a.masks);
    const upd2 = tf.zerosLike(a.upd);
    const cat = (x: tf.Tensor, y: tf.Tensor) => tf.concat([x, y], 0);
    const fl = tf.slice(a.f, [0, 0, 0, 0, 0], [1, 1, -1, -1, -1]);
    const bl = tf.slice(a.b, [0, 0, 0, 0, 0], [1, 1, -1, -1, -1]);
    for (const train of [false, true]) {
      g.train(train);
      tf.tidy(() => {
        const both = g.forward(cat(a.frames, frames2), [cat(fl, fl), cat(bl, bl)], cat(a.masks, masks2), cat(a.upd, upd2), 2);
        const one = g.forward(a.frames, [fl, bl], a.masks, a.upd, 2);
        const two = g.forward(frames2, [fl, bl], masks2, upd2, 2);
        assertClose(both.dataSync(), cat(one, two).dataSync(), 1e-5, `batch of 2 (train=${train})`);
      });
    }
    [frames2, masks2, upd2, fl, bl].forEach((x) => x.dispose());
  } finally {
    a.dispose();
    g.dispose();
  }
});

test('forward rejects malformed inputs with a clear message', async () => {
  await useBackend('wasm');
  const g = new InpaintGenerator();
  const clip = tinyClip();
  try {
    assert.throws(() => g.forward(clip.frames, [clip.f, clip.b], clip.masks, clip.upd, 2), /flows\[0\] must be \[1,1,32,32,2\]/);
    assert.throws(() => g.forward(clip.frames, [clip.f, clip.b], clip.masks, clip.upd, 5), /numLocal 5 outside 1\.\.3/);
  } finally {
    clip.dispose();
    g.dispose();
  }
});
