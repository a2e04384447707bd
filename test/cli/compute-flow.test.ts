import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { RAFT, raftBi } from '../../lib/models/raft';
import { applyDetInit } from '../../lib/init/apply';
import { writeSafetensors } from '../../lib/io/safetensors';
import { writePng, Image8 } from '../../lib/io/image';
import { readFlo } from '../../lib/io/flo';
import { floatToHalf, halfToFloat } from '../../lib/io/host-tensor';
import { computeFlow, loadFlowFrame } from '../../lib/cli/commands/compute-flow';
import { assertClose } from '../helpers';

const H = 128;
const W = 128;
const ITERS = 2;

/** A smooth synthetic RGB frame (moving pattern), uint8, at a size that needs resizing. */
function frame(t: number, width: number, height: number): Image8 {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) {
    const v = 0.5 + 0.3 * Math.sin((2 * Math.PI * (x - 2 * t)) / 37 + c) * Math.cos((2 * Math.PI * (y + t)) / 29) + 0.15 * Math.sin(0.3 * x + 0.2 * y + c);
    data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
  return { width, height, channels: 3, data };
}

/** F.interpolate(bilinear, align_corners=False) of img/255, then ·2 − 1: [H, W, 3] floats. */
function referenceInput(img: Image8, h: number, w: number): Float32Array {
  const taps = (out: number, inp: number) =>
    Array.from({ length: out }, (_, i) => {
      const src = Math.max((i + 0.5) * (inp / out) - 0.5, 0);
      const i0 = Math.floor(src);
      return { i0, i1: Math.min(i0 + 1, inp - 1), l1: src - i0 };
    });
  const ty = taps(h, img.height);
  const tx = taps(w, img.width);
  const px = (y: number, x: number, c: number) => img.data[(y * img.width + x) * 3 + c] / 255;
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    const { i0: y0, i1: y1, l1: ly } = ty[y];
    const { i0: x0, i1: x1, l1: lx } = tx[x];
    const v = (1 - ly) * ((1 - lx) * px(y0, x0, c) + lx * px(y0, x1, c)) + ly * ((1 - lx) * px(y1, x0, c) + lx * px(y1, x1, c));
    out[(y * w + x) * 3 + c] = v * 2 - 1;
  }
  return out;
}

test('compute-flow writes official .flo pairs, resumes, and supports --float32', async () => {
  await useBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compute-flow-'));
  try {
    const root = path.join(dir, 'JPEGImages');
    const videos: Record<string, Image8[]> = {
      bear: [0, 1, 2].map((t) => frame(t, 152, 136)),
      cat: [0, 1].map((t) => frame(t + 5, 128, 128)),
    };
    for (const [v, frames] of Object.entries(videos)) {
      for (const [i, f] of frames.entries()) await writePng(path.join(root, v, `${String(i).padStart(5, '0')}.png`), f);
    }
    fs.mkdirSync(path.join(root, 'single'));
    await writePng(path.join(root, 'single', '00000.png'), frame(0, 128, 128));
    const model = new RAFT();
    applyDetInit(model);
    const raftFile = path.join(dir, 'raft.safetensors');
    writeSafetensors(raftFile, model.stateDict());
    const save = path.join(dir, 'flows');
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const s1 = await computeFlow({ rootPath: root, savePath: save, height: H, width: W, raft: raftFile, iters: ITERS, log: (l) => lines.push(l) });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual({ ...s1, seconds: 0 }, { videos: 3, pairs: 3, computed: 3, skipped: 0, seconds: 0 });
    assert.ok(lines.some((l) => l.startsWith('Processing: bear')), lines.join('\n'));
    assert.ok(lines.includes('Processing: single [3/3] — a single frame: no pairs, nothing written'), lines.join('\n'));
    assert.equal(fs.existsSync(path.join(save, 'single')), false);
    assert.deepEqual(fs.readdirSync(path.join(save, 'bear')).sort(), ['00000_00001_f.flo', '00001_00000_b.flo', '00001_00002_f.flo', '00002_00001_b.flo']);
    assert.deepEqual(fs.readdirSync(path.join(save, 'cat')).sort(), ['00000_00001_f.flo', '00001_00000_b.flo']);

    // Preprocessing: PyTorch bilinear (align_corners=False) resize of the [0, 1] frame, on every backend.
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const x = await loadFlowFrame(path.join(root, 'bear', '00001.png'), H, W);
      assertClose(x.dataSync(), referenceInput(videos.bear[1], H, W), 1e-6, `resized frame (${backend})`);
      x.dispose();
    }

    // Values: RAFT_bi on the reference-resized frames, rounded to float16.
    const frames = tf.tensor5d(Float32Array.from(videos.bear.flatMap((f) => Array.from(referenceInput(f, H, W)))), [1, 3, H, W, 3]);
    const ref = raftBi(model, frames, { iters: ITERS });
    const fwd = ref.forward.dataSync();
    const bwd = ref.backward.dataSync();
    const half = (a: Float32Array) => a.map((v) => halfToFloat(floatToHalf(v)));
    const per = H * W * 2;
    for (const [k, name, src] of [[0, '00000_00001_f.flo', fwd], [1, '00001_00002_f.flo', fwd], [0, '00001_00000_b.flo', bwd], [1, '00002_00001_b.flo', bwd]] as const) {
      const flo = readFlo(path.join(save, 'bear', name));
      assert.equal(flo.encoding, 'float16');
      assert.equal(flo.width, W);
      assert.equal(flo.height, H);
      assert.equal(fs.statSync(path.join(save, 'bear', name)).size, 12 + H * W * 4);
      assertClose(flo.data, half((src as Float32Array).slice(k * per, (k + 1) * per)), 2e-3, name);
    }
    for (const t of [frames, ref.forward, ref.backward]) t.dispose();

    // Resume: nothing recomputed; a deleted file recomputes only its pair.
    const m0 = fs.statSync(path.join(save, 'bear', '00000_00001_f.flo')).mtimeMs;
    const s2 = await computeFlow({ rootPath: root, savePath: save, height: H, width: W, raft: raftFile, iters: ITERS, log: () => {} });
    assert.equal(s2.computed, 0);
    assert.equal(s2.skipped, 3);
    fs.rmSync(path.join(save, 'bear', '00002_00001_b.flo'));
    const s3 = await computeFlow({ rootPath: root, savePath: save, height: H, width: W, raft: raftFile, iters: ITERS, log: () => {} });
    assert.equal(s3.computed, 1);
    assert.equal(fs.statSync(path.join(save, 'bear', '00000_00001_f.flo')).mtimeMs, m0);
    assert.ok(fs.existsSync(path.join(save, 'bear', '00002_00001_b.flo')));

    // --float32: Middlebury files.
    const save32 = path.join(dir, 'flows32');
    await computeFlow({ rootPath: root, savePath: save32, height: H, width: W, raft: raftFile, iters: ITERS, float32: true, videos: ['cat'], log: () => {} });
    const f32 = readFlo(path.join(save32, 'cat', '00000_00001_f.flo'));
    assert.equal(f32.encoding, 'float32');
    const f16 = readFlo(path.join(save, 'cat', '00000_00001_f.flo'));
    assertClose(f16.data, half(f32.data), 1e-6, 'float16 file = rounded float32 file');
    model.dispose();

    await assert.rejects(computeFlow({ rootPath: root, savePath: save, height: 120, width: W, raft: raftFile }), /120x128.*128-pixel minimum/);
    await assert.rejects(computeFlow({ rootPath: root, savePath: save, height: H, width: W, raft: path.join(dir, 'raft-things.pth') }), /user-supplied and never downloaded/);
    // ... checked before anything is computed or written.
    fs.mkdirSync(path.join(root, 'empty'));
    await assert.rejects(computeFlow({ rootPath: root, savePath: path.join(dir, 'unused'), height: H, width: W, raft: raftFile }), { message: `${path.join(root, 'empty')}: empty video (no frames)` });
    await assert.rejects(computeFlow({ rootPath: root, savePath: root, height: H, width: W, raft: raftFile, videos: ['cat'] }), { message: `${root}: --save_path must be outside --root_path ${root}` });
    await assert.rejects(computeFlow({ rootPath: root, savePath: path.join(root, 'flows'), height: H, width: W, raft: raftFile, videos: ['cat'] }), /--save_path must be outside --root_path/);
    assert.equal(fs.existsSync(path.join(dir, 'unused')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('propainter compute-flow: missing weights file is a one-line error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compute-flow-cli-'));
  try {
    fs.mkdirSync(path.join(dir, 'frames', 'v'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'frames', 'v', '00000.png'), 'not read: the weights are checked first');
    const bin = path.resolve(__dirname, '..', '..', 'bin', 'propainter.js');
    const r = spawnSync(process.execPath, [bin, 'compute-flow', '--root_path', path.join(dir, 'frames'), '--save_path', path.join(dir, 'out'), '--raft', path.join(dir, 'nope.pth'), '--backend', 'cpu'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr, `error: RAFT weights not found: ${path.join(dir, 'nope.pth')}. Pretrained weights (raft-things.pth from the official ProPainter release) are user-supplied and never downloaded by this tool; pass the file with --raft <path>.\n`);
    assert.equal(fs.existsSync(path.join(dir, 'out')), false, 'nothing created');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
