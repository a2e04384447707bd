import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  flipHorizontal, forEachVideoFrame, Image8, imageSize, readGrey, readRgb, readVideoFrames, resizeLinear,
  resizeLinearFloat, resizeNearest, videoSize, writeJpeg, writePng,
} from '../../lib/io/image';

const ROOT = path.resolve(__dirname, '..', '..');
const CLIP = path.join(ROOT, 'data', 'davis-sample');
const FRAME0 = path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees', '00000.jpg');
const MASK0 = path.join(CLIP, 'test_masks', 'bmx-trees', '00000.png');
const MP4 = path.join(ROOT, 'data', 'video-completion', 'running_car.mp4');

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-img-'));
  dirs.push(d);
  return d;
}

test('bundled frame and mask decode to RGB / grey uint8', async () => {
  const f = await readRgb(FRAME0);
  assert.deepEqual([f.width, f.height, f.channels, f.data.length], [432, 240, 3, 432 * 240 * 3]);
  const m = await readGrey(MASK0);
  assert.deepEqual([m.width, m.height, m.channels], [432, 240, 1]);
  const values = new Set(m.data);
  assert.deepEqual([...values].sort((a, b) => a - b), [0, 255]);
  assert.deepEqual(await imageSize(FRAME0), { width: 432, height: 240 });
});

test('grey conversion follows PIL convert("L") on RGB input', async () => {
  const dir = tmpdir();
  const file = path.join(dir, 'rgb.png');
  const px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30];
  await writePng(file, { width: 4, height: 1, channels: 3, data: Uint8Array.from(px) });
  const g = await readGrey(file);
  const pil = (r: number, gg: number, b: number) => (19595 * r + 38470 * gg + 7471 * b + 0x8000) >> 16;
  assert.deepEqual(Array.from(g.data), [pil(255, 0, 0), pil(0, 255, 0), pil(0, 0, 255), pil(10, 200, 30)]);
});

test('PNG write is lossless and atomic; JPEG write decodes to the same size', async () => {
  const dir = tmpdir();
  const img: Image8 = { width: 7, height: 5, channels: 3, data: Uint8Array.from({ length: 105 }, (_, i) => (i * 37) % 256) };
  await writePng(path.join(dir, 'x.png'), img);
  const back = await readRgb(path.join(dir, 'x.png'));
  assert.deepEqual(Array.from(back.data), Array.from(img.data));
  await writeJpeg(path.join(dir, 'x.jpg'), img);
  assert.deepEqual(await imageSize(path.join(dir, 'x.jpg')), { width: 7, height: 5 });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['x.jpg', 'x.png']);
});

test('corrupt or missing images fail with the file name', async () => {
  const dir = tmpdir();
  const trunc = path.join(dir, 'trunc.jpg');
  fs.writeFileSync(trunc, fs.readFileSync(FRAME0).subarray(0, 4000));
  await assert.rejects(readRgb(trunc), (e: Error) => e.message.startsWith(trunc));
  const junk = path.join(dir, 'junk.png');
  fs.writeFileSync(junk, 'not an image');
  await assert.rejects(readGrey(junk), (e: Error) => e.message.startsWith(junk));
  await assert.rejects(readRgb(path.join(dir, 'none.jpg')), /none\.jpg/);
});

test('resizeLinear reproduces OpenCV INTER_LINEAR (fixed point, half-pixel centres)', () => {
  // cv2.resize(np.array([[0, 255]], np.uint8), (4, 1)) == [[0, 64, 191, 255]]
  const up = resizeLinear({ width: 2, height: 1, channels: 1, data: Uint8Array.from([0, 255]) }, 4, 1);
  assert.deepEqual(Array.from(up.data), [0, 64, 191, 255]);
  // ×1/2 in both axes: mean of each 2×2 block (rounded)
  const src = Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]);
  const down = resizeLinear({ width: 4, height: 4, channels: 1, data: src }, 2, 2);
  assert.deepEqual(Array.from(down.data), [25, 45, 105, 125]);
  // same size is an exact copy
  const img = { width: 3, height: 2, channels: 3, data: Uint8Array.from({ length: 18 }, (_, i) => i * 9) };
  assert.deepEqual(Array.from(resizeLinear(img, 3, 2).data), Array.from(img.data));
  // constant images stay constant at any scale
  const c = resizeLinear({ width: 5, height: 3, channels: 3, data: new Uint8Array(45).fill(77) }, 13, 7);
  assert.ok(c.data.every((v) => v === 77));
  const f = resizeLinearFloat(new Float32Array([0, 1]), 2, 1, 1, 4, 1);
  assert.deepEqual(Array.from(f), [0, 0.25, 0.75, 1]);
});

test('resizeNearest picks floor((i + 0.5)·src/dst) like PIL NEAREST; flipHorizontal mirrors', () => {
  const src = { width: 4, height: 1, channels: 1, data: Uint8Array.from([1, 2, 3, 4]) };
  assert.deepEqual(Array.from(resizeNearest(src, 2, 1).data), [2, 4]);
  assert.deepEqual(Array.from(resizeNearest(src, 8, 1).data), [1, 1, 2, 2, 3, 3, 4, 4]);
  const rgb = { width: 2, height: 1, channels: 3, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
  assert.deepEqual(Array.from(flipHorizontal(rgb).data), [4, 5, 6, 1, 2, 3]);
});

test('mp4 frames decode through ffmpeg', async () => {
  assert.deepEqual(await videoSize(MP4), { width: 972, height: 540 });
  const frames = await readVideoFrames(MP4, { maxFrames: 3 });
  assert.equal(frames.length, 3);
  assert.deepEqual([frames[0].width, frames[0].height, frames[0].data.length], [972, 540, 972 * 540 * 3]);
  let seen = 0;
  const n = await forEachVideoFrame(MP4, async (img, i) => {
    assert.equal(i, seen++);
    await new Promise((r) => setTimeout(r, 1)); // slow consumer: back-pressure
  }, { maxFrames: 2 });
  assert.equal(n, 2);
  const dir = tmpdir();
  const bad = path.join(dir, 'bad.mp4');
  fs.writeFileSync(bad, 'garbage');
  await assert.rejects(readVideoFrames(bad), (e: Error) => e.message.startsWith(bad));
});
