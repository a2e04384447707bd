/**
 * `propainter inpaint` as a new user meets it: every bad input is a one-line error and a non-zero
 * exit before any work, and an .mp4 input with a single mask PNG (of another size) writes the
 * three videos, the frames and the summary, which ffmpeg decodes without errors.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writePng, ffmpegBinary, type Image8 } from '../../lib/io/image';
import { openVideoWriter, probeVideo } from '../../lib/io/video';
import { syntheticClip, syntheticMasks } from '../inference/stream-child';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'propainter.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-inpaint-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The error line: exactly one non-empty stderr line starting with "error:". */
function oneLineError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0, `exit status ${r.status}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, `stderr:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

async function folder(name: string, images: Image8[]): Promise<string> {
  const dir = path.join(tmp, name);
  for (const [i, img] of images.entries()) await writePng(path.join(dir, `${String(i).padStart(5, '0')}.png`), img);
  return dir;
}

test('bad inputs: one-line errors and a non-zero exit', async () => {
  const frames = await folder('frames', [...syntheticClip(3)]);
  const masks2 = await folder('masks2', [...syntheticMasks(2)]);
  const masks3 = await folder('masks3', [...syntheticMasks(3)]);
  const noWeights = path.join(tmp, 'no-weights');
  fs.mkdirSync(noWeights);
  const out = path.join(tmp, 'out');

  oneLineError(cli(['inpaint', '-i', path.join(tmp, 'missing'), '-m', masks3, '-o', out]), /input not found: .*missing/);
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks2, '-o', out]), /masks2: 2 masks for 3 frames/);
  oneLineError(cli(['inpaint', '-i', frames, '-o', out]), /-m\/--mask is required/);
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks3, '--neighbor_length', '1']), /--neighbor_length must be ≥ 2/);
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks3, '--raft_iter', 'many']), /--raft_iter must be an integer/);
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks3, '--resize_ratio', '0.5']), /64x64 .* below RAFT's minimum of 128/);
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks3, '-o', out, '--weights', noWeights]), /missing weight file .*raft-things\.pth .*official ProPainter release/);
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, '');
  oneLineError(cli(['inpaint', '-i', frames, '-m', masks3, '-o', path.join(file, 'sub'), '--weights', noWeights]), /output folder not writable: .*a-file/);

  const broken = await folder('broken', [...syntheticClip(3)]);
  fs.writeFileSync(path.join(broken, '00000.png'), 'not a png');
  oneLineError(cli(['inpaint', '-i', broken, '-m', masks3, '-o', out]), /broken\/00000\.png: cannot read image/);

  // 2048×2048 cannot fit the wasm heap: refused with the estimate and what would fit.
  const big: Image8 = { width: 2048, height: 2048, channels: 3, data: new Uint8Array(2048 * 2048 * 3) };
  const bigDir = await folder('big', [big, big]);
  const bigMask = await folder('big-masks', [{ width: 8, height: 8, channels: 1, data: new Uint8Array(64) }]);
  const r = cli(['inpaint', '-i', bigDir, '-m', path.join(bigMask, '00000.png'), '-o', out, '--weights', noWeights]);
  oneLineError(r, /needs about [\d.]+ GiB of wasm heap .* it fits with --resize_ratio 0\.\d+/);
});

test('an mp4 with one mask PNG of another size: three videos, frames and summary, decodable', async () => {
  const weights = path.join(tmp, 'weights');
  const made = cli(['weights', 'det-init', '--out', weights]);
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stdout, /UNTRAINED/);
  for (const f of ['raft-things.pth', 'recurrent_flow_completion.pth', 'ProPainter.pth']) assert.ok(fs.statSync(path.join(weights, f)).size > 1e6, f);

  const video = path.join(tmp, 'clip.mp4');
  const w = openVideoWriter(video, { width: 128, height: 128, fps: 12 });
  for (const f of syntheticClip(6)) await w.write(f);
  await w.close();
  const mask = [...syntheticMasks(1)][0];
  const small: Image8 = { width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64) };
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) small.data[y * 64 + x] = mask.data[2 * y * 128 + 2 * x];
  const maskFile = path.join(tmp, 'mask.png');
  await writePng(maskFile, small);

  const out = path.join(tmp, 'results');
  const r = cli(['inpaint', '-i', video, '-m', maskFile, '-o', out, '--weights', weights, '--raft_iter', '2', '--save_frames', '--fp16']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /note: mask 0 is 64x64 but the frames are 128x128: masks are resized \(nearest\)/);
  assert.match(r.stderr, /--fp16: the wasm backend has no half-precision path; running in float32/);
  assert.match(r.stdout, /clip: 6 frames, input 128x128 → processed at 128x128 → output 128x128, 12 fps/);
  const dir = path.join(out, 'clip');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['compare.mp4', 'frames', 'inpaint_out.mp4', 'masked_in.mp4', 'summary.json']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'frames')), ['0000.png', '0001.png', '0002.png', '0003.png', '0004.png', '0005.png']);
  for (const [name, width] of [['inpaint_out.mp4', 128], ['masked_in.mp4', 128], ['compare.mp4', 256]] as const) {
    const info = await probeVideo(path.join(dir, name));
    assert.deepEqual(info, { frames: 6, fps: 12, width, height: 128 });
    const dec = spawnSync(ffmpegBinary(), ['-v', 'error', '-i', path.join(dir, name), '-f', 'null', '-'], { encoding: 'utf8' });
    assert.equal(dec.status, 0);
    assert.equal(dec.stderr.trim(), '', `${name}: ${dec.stderr}`);
  }
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.frames, 6);
  assert.equal(summary.precision, 'float32');
  assert.match(summary.weights, /det-init v1: untrained/);
  assert.ok(summary.seconds.transformer > 0 && summary.seconds.raft > 0);
});
