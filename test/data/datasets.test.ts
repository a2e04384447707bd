import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readFlo, resizeFlow } from '../../lib/io/flo';
import { readGrey, readRgb, resizeNearest } from '../../lib/io/image';
import {
  dilateCross, flowFileNames, listFrames, Rng, sampleClipIndices, synthVideo, TestDataset, TrainDataset,
  U8_TO_UNIT, writeSynthDataset, loadFrameSource, loadMaskSource,
} from '../../lib/data';

const ROOT = path.resolve(__dirname, '..', '..');
const CLIP = path.join(ROOT, 'data', 'davis-sample');
const W = 64;
const H = 48;
let SYN = '';

before(async () => {
  SYN = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pp-ds-')), 'syn');
  await writeSynthDataset({ out: SYN, videos: 2, frames: 14, width: W, height: H, seed: 3, format: 'png' });
});

after(() => fs.rmSync(path.dirname(SYN), { recursive: true, force: true }));

const at = (a: Float32Array, i: number, n: number) => a.subarray(i * n, (i + 1) * n);

test('sampleClipIndices: consecutive locals, distinct sorted refs outside the local window', () => {
  for (let s = 0; s < 50; s++) {
    const idx = sampleClipIndices(new Rng(s), 30, 10, 6);
    const loc = idx.slice(0, 10);
    const refs = idx.slice(10);
    loc.forEach((v, i) => assert.equal(v, loc[0] + i));
    assert.ok(loc[0] >= 0 && loc[9] <= 29);
    assert.deepEqual(refs, [...refs].sort((a, b) => a - b));
    assert.equal(new Set(refs).size, 6);
    refs.forEach((r) => assert.ok(!loc.includes(r) && r >= 0 && r < 30));
  }
});

test('TrainDataset on the bundled clip: shapes, ranges, frames equal the decoded JPEGs', async () => {
  const ds = new TrainDataset({ root: CLIP, numLocalFrames: 10, numRefFrames: 6, seed: 5 });
  assert.deepEqual(ds.videoNames, ['bmx-trees']);
  const s = await ds.getItem(0, 0, { flip: false });
  assert.deepEqual([s.T, s.H, s.W], [16, 240, 432]);
  assert.equal(s.frames.length, 16 * 240 * 432 * 3);
  assert.equal(s.masks.length, 16 * 240 * 432);
  assert.equal(s.flowsF, null);
  assert.ok(s.masks.every((v) => v === 0 || v === 1));
  assert.ok(s.masks.some((v) => v === 1));
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of s.frames) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(lo >= -1 && hi <= 1);
  const frames = listFrames(path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees'));
  for (const t of [0, 12]) {
    const img = await readRgb(path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees', frames[s.frameIndices[t]]));
    const got = at(s.frames, t, 240 * 432 * 3);
    for (let i = 0; i < img.data.length; i += 997) assert.equal(got[i], U8_TO_UNIT[img.data[i]]);
  }
  // same (seed, epoch, index) → identical sample; another epoch → another clip or masks
  const again = await ds.getItem(0, 0, { flip: false });
  assert.deepEqual(again.frameIndices, s.frameIndices);
  assert.deepEqual(Buffer.from(again.masks.buffer), Buffer.from(s.masks.buffer));
  const other = await ds.getItem(0, 1);
  assert.ok(other.frameIndices.join() !== s.frameIndices.join() || Buffer.compare(Buffer.from(other.masks.buffer), Buffer.from(s.masks.buffer)) !== 0);
});

test('TrainDataset keeps only videos longer than L + R and names a missing folder', () => {
  assert.throws(() => new TrainDataset({ root: CLIP, numLocalFrames: 70, numRefFrames: 10 }), /no video has more than 80 frames/);
  const tmp = path.join(path.dirname(SYN), 'ghost');
  fs.mkdirSync(path.join(tmp, 'JPEGImages_432_240'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'train.json'), JSON.stringify({ ghost: 20 }));
  assert.throws(() => new TrainDataset({ root: tmp }), (e: Error) => e.message.includes(path.join(tmp, 'JPEGImages_432_240', 'ghost')));
});

test('video names from split files and video lists stay inside the dataset (no ../ or absolute names)', () => {
  // SYN's frames folder is syn/JPEGImages_64_48; "../../.." would read the videos of the temporary folder's parent.
  const frames = path.join(SYN, 'JPEGImages_64_48');
  const index = path.join(SYN, 'hostile.json');
  fs.writeFileSync(index, JSON.stringify({ synth_0000: 14, '../JPEGImages_64_48/../../syn/JPEGImages_64_48/synth_0001': 14, '../../..': 14 }));
  assert.throws(
    () => new TrainDataset({ root: SYN, width: W, height: H, indexFile: index, numLocalFrames: 5, numRefFrames: 1 }),
    { message: `${index}: video "../../.." points outside ${frames}` },
  );
  assert.throws(() => new TrainDataset({ root: SYN, width: W, height: H, videos: ['/etc'], numLocalFrames: 5, numRefFrames: 1 }), /^Error: videos option: video "\/etc" is an absolute path/);
  assert.throws(() => new TestDataset({ root: SYN, width: W, height: H, videos: ['synth_0000', '..'] }), { message: `videos option: video ".." points outside ${frames}` });
  // a name that wanders but stays inside is the folder it names
  const ok = new TrainDataset({ root: SYN, width: W, height: H, videos: ['x/../synth_0001'], numLocalFrames: 5, numRefFrames: 1 });
  assert.deepEqual(ok.frameLists[0], listFrames(path.join(frames, 'synth_0001')));
});

test('horizontal flip mirrors the frames, negates flow dx (and mirrors flows), keeps masks', async () => {
  const ds = new TrainDataset({ root: SYN, width: W, height: H, numLocalFrames: 5, numRefFrames: 3, loadFlow: true, seed: 9 });
  const a = await ds.getItem(1, 2, { flip: false, reverse: false });
  const b = await ds.getItem(1, 2, { flip: true, reverse: false });
  assert.deepEqual(a.frameIndices, b.frameIndices);
  assert.equal(b.flipped, true);
  for (let t = 0; t < a.T; t++) {
    for (let y = 0; y < H; y += 5) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < 3; c++) {
          assert.equal(b.frames[((t * H + y) * W + (W - 1 - x)) * 3 + c], a.frames[((t * H + y) * W + x) * 3 + c]);
        }
      }
    }
  }
  assert.deepEqual(Buffer.from(b.masks.buffer), Buffer.from(a.masks.buffer), 'masks are not flipped (official behaviour)');
  assert.equal(a.numFlows, 4);
  for (const [fa, fb] of [[a.flowsF!, b.flowsF!], [a.flowsB!, b.flowsB!]]) {
    let nonzero = 0;
    for (let k = 0; k < 4; k++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = ((k * H + y) * W + x) * 2;
          const j = ((k * H + y) * W + (W - 1 - x)) * 2;
          assert.equal(fb[j], -fa[i]);
          assert.equal(fb[j + 1], fa[i + 1]);
          if (fa[i] !== 0) nonzero++;
        }
      }
    }
    assert.ok(nonzero > 0, 'the test flows have non-zero dx');
  }
});

test('temporal reversal reverses the local frames and swaps forward/backward flows', async () => {
  const L = 5;
  const ds = new TrainDataset({ root: SYN, width: W, height: H, numLocalFrames: L, numRefFrames: 3, loadFlow: true, seed: 9 });
  const a = await ds.getItem(0, 4, { flip: false, reverse: false });
  const r = await ds.getItem(0, 4, { flip: false, reverse: true });
  assert.deepEqual(r.frameIndices, [...a.frameIndices.slice(0, L).reverse(), ...a.frameIndices.slice(L)]);
  const n = H * W * 3;
  for (let t = 0; t < L; t++) assert.deepEqual(at(r.frames, t, n), at(a.frames, L - 1 - t, n));
  for (let t = L; t < a.T; t++) assert.deepEqual(at(r.frames, t, n), at(a.frames, t, n));
  for (let t = 0; t < L; t++) assert.deepEqual(at(r.masks, t, H * W), at(a.masks, L - 1 - t, H * W));
  const m = H * W * 2;
  for (let k = 0; k < L - 1; k++) {
    assert.deepEqual(at(r.flowsF!, k, m), at(a.flowsB!, L - 2 - k, m));
    assert.deepEqual(at(r.flowsB!, k, m), at(a.flowsF!, L - 2 - k, m));
  }
  // and the un-augmented flows are the files of the selected consecutive frames
  const frames = listFrames(path.join(SYN, `JPEGImages_${W}_${H}`, a.name));
  const i0 = a.frameIndices[0];
  const names = flowFileNames(frames[i0], frames[i0 + 1]);
  assert.deepEqual(at(a.flowsF!, 0, m), readFlo(path.join(SYN, 'flows', a.name, names.forward)).data);
  assert.deepEqual(at(a.flowsB!, 0, m), readFlo(path.join(SYN, 'flows', a.name, names.backward)).data);
});

function assertExactFlows(v: ReturnType<typeof synthVideo>): void {
  for (let k = 0; k < v.frames.length - 1; k++) {
    for (const dir of ['f', 'b'] as const) {
      const src = dir === 'f' ? v.frames[k + 1] : v.frames[k];
      const dst = dir === 'f' ? v.frames[k] : v.frames[k + 1];
      const flow = dir === 'f' ? v.flowsF[k] : v.flowsB[k];
      const lSrc = dir === 'f' ? v.layers[k + 1] : v.layers[k];
      const lDst = dir === 'f' ? v.layers[k] : v.layers[k + 1];
      let valid = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const p = y * W + x;
          const dx = flow.data[2 * p];
          const dy = flow.data[2 * p + 1];
          assert.ok(Number.isInteger(dx) && Number.isInteger(dy));
          const sx = x + dx;
          const sy = y + dy;
          if (sx < 0 || sy < 0 || sx >= W || sy >= H) continue;
          const q = sy * W + sx;
          if (lSrc[q] !== lDst[p]) continue; // occluded / disoccluded
          valid++;
          for (let c = 0; c < 3; c++) assert.equal(src.data[3 * q + c], dst.data[3 * p + c]);
        }
      }
      assert.ok(valid > 0.7 * W * H, `${valid} of ${W * H} pixels checked`);
    }
  }
}

test('synthetic flows are exact: warp(frame k+1, fwd k) = frame k and warp(frame k, bwd k) = frame k+1 where visible', () => {
  assertExactFlows(synthVideo(new Rng(11), { frames: 6, width: W, height: H, objects: 2, maxSpeed: 3 }));
});

test('synthetic videos textured with real frames keep exact flows and show the source content', async () => {
  const { loadFrameSource } = await import('../../lib/data/sources');
  const real = await loadFrameSource(path.join(__dirname, '..', '..', 'data', 'davis-sample', 'JPEGImages_432_240', 'bmx-trees'), { width: W, height: H, maxFrames: 4 });
  const v = synthVideo(new Rng(5), { frames: 5, width: W, height: H, objects: 2, maxSpeed: 3, textures: real.map((f) => f.data) });
  assertExactFlows(v);
  // Background pixels of frame 0 are pixels of the first real frame (shifted on the torus).
  const colours = new Set<number>();
  const rgb = (d: Uint8Array, i: number) => (d[3 * i] << 16) | (d[3 * i + 1] << 8) | d[3 * i + 2];
  for (let i = 0; i < W * H; i++) colours.add(rgb(real[0].data, i));
  let background = 0;
  for (let i = 0; i < W * H; i++) {
    if (v.layers[0][i] !== 0) continue;
    background++;
    assert.ok(colours.has(rgb(v.frames[0].data, i)), `background pixel ${i} is not from the source frame`);
  }
  assert.ok(background > 0);
  assert.throws(() => synthVideo(new Rng(5), { frames: 2, width: W, height: H, textures: [new Uint8Array(3)] }), /texture has 3 values/);
});

test('TestDataset: whole videos, nearest-resized masks dilated with a 3×3 cross ×4, uint8 frames', async () => {
  const ds = new TestDataset({ root: CLIP, maxFrames: 3 });
  assert.deepEqual(ds.videoNames, ['bmx-trees']);
  const s = await ds.getItem(0);
  assert.deepEqual([s.T, s.H, s.W, s.numFlows], [3, 240, 432, 0]);
  const raw = await readGrey(path.join(CLIP, 'test_masks', 'bmx-trees', '00001.png'));
  const bin = Uint8Array.from(raw.data, (v) => (v > 0 ? 1 : 0));
  const want = dilateCross(bin, 432, 240, 4);
  assert.deepEqual(Array.from(at(s.masks, 1, 240 * 432)), Array.from(want));
  const ones = want.reduce((a, b) => a + b, 0);
  assert.ok(ones > bin.reduce((a, b) => a + b, 0), 'dilation grew the mask');
  const img = await readRgb(path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees', '00002.jpg'));
  assert.deepEqual(s.framesU8!.subarray(2 * img.data.length, 3 * img.data.length), img.data);
  // different mask size → nearest resize to the target size
  const small = new TestDataset({ root: SYN, width: 32, height: 24, framesDir: `JPEGImages_${W}_${H}`, loadFlow: true, maxFrames: 4 });
  const t = await small.getItem(0);
  assert.deepEqual([t.T, t.H, t.W, t.numFlows], [4, 24, 32, 3]);
  const m0 = resizeNearest(await readGrey(path.join(SYN, 'test_masks', 'synth_0000', '00000.png')), 32, 24);
  assert.deepEqual(Array.from(at(t.masks, 0, 32 * 24)), Array.from(dilateCross(Uint8Array.from(m0.data, (v) => (v ? 1 : 0)), 32, 24, 4)));
  // flows go through resize_flow to 32×24 (bilinear, vectors × 0.5)
  const f = readFlo(path.join(SYN, 'flows', 'synth_0000', '00001_00002_f.flo'));
  assert.deepEqual(at(t.flowsF!, 1, 32 * 24 * 2), resizeFlow(f, 24, 32).data);
  const b = readFlo(path.join(SYN, 'flows', 'synth_0000', '00001_00000_b.flo'));
  assert.deepEqual(at(t.flowsB!, 0, 32 * 24 * 2), resizeFlow(b, 24, 32).data);
});

test('frame and mask sources: video file or folder; one mask image repeated for every frame', async () => {
  const frames = await loadFrameSource(path.join(ROOT, 'data', 'video-completion', 'running_car.mp4'), { width: 432, height: 240, maxFrames: 2 });
  assert.deepEqual(frames.map((f) => [f.width, f.height]), [[432, 240], [432, 240]]);
  const clip = await loadFrameSource(path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees'), { maxFrames: 3 });
  assert.equal(clip.length, 3);
  const masks = await loadMaskSource(path.join(ROOT, 'data', 'video-completion', 'mask_square.png'), { width: 432, height: 240, count: 2 });
  assert.equal(masks.length, 2);
  const holes = masks[0].reduce((a, b) => a + b, 0);
  assert.equal(holes, 33075 / 3); // the bundled square mask has 11025 white pixels
  const perFrame = await loadMaskSource(path.join(CLIP, 'test_masks', 'bmx-trees'), { width: 432, height: 240, count: 2, dilation: 4 });
  assert.equal(perFrame.length, 2);
  await assert.rejects(loadMaskSource(path.join(CLIP, 'test_masks', 'bmx-trees'), { width: 432, height: 240, count: 81 }), /80 masks for 81 frames/);
});
