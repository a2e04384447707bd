/**
 * Image and video I/O on the host: decode JPEG/PNG to uint8 RGB or grey (sharp), write PNG/JPEG
 * atomically, OpenCV-style resizing, and .mp4 decoding through ffmpeg.
 *
 * Differences from the reference stack (OpenCV / PIL), on purpose or unavoidable:
 * - JPEG decoding is libjpeg-turbo (mozjpeg) in libvips, OpenCV uses libjpeg-turbo too; with the
 *   default (ISLOW, fancy upsampling) settings the pixels normally agree, but this is not
 *   guaranteed across library versions.
 * - A truncated or corrupt file is an error naming the file (OpenCV would warn and return a
 *   partially grey image, which the official loader trains on silently).
 * - Grey images follow PIL `convert('L')`: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. Alpha is
 *   dropped without compositing (as OpenCV IMREAD_COLOR and PIL convert('RGB') do).
 * - `resizeLinear` reproduces OpenCV's fixed-point INTER_LINEAR path for uint8 (11-bit
 *   coefficients, the SIMD rounding `((b0·(S0>>4))>>16 + (b1·(S1>>4))>>16 + 2) >> 2`). OpenCV's
 *   scalar tail of each row rounds as `(S0·b0 + S1·b1 + 2^21) >> 22` and exact ×2 downscales are
 *   routed to INTER_AREA, so a few pixels may differ by 1. Same-size resizes are exact copies.
 * - `resizeNearest` follows PIL NEAREST: source index floor((i + 0.5)·src/dst).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import type { OutputInfo, Sharp } from 'sharp';
import { writeFileAtomic } from './atomic';

/** A row-major (H, W, C) uint8 image. */
export interface Image8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff'];

export function isImageFile(name: string): boolean {
  return !name.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decodes an image file to `channels` = 3 (RGB) or 1 (grey, PIL 'L' formula).
 * Throws an Error whose message starts with the file path when it is missing or corrupt.
 */
export async function readImage(file: string, channels: 1 | 3 = 3): Promise<Image8> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(file, { failOn: 'truncated' }).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`${file}: cannot read image (${describe(e)})`);
  }
  const { width, height } = raw.info;
  const c = raw.info.channels;
  const src = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const n = width * height;
  if (src.length < n * c) throw new Error(`${file}: decoder returned ${src.length} bytes for ${width}x${height}x${c}`);
  if (channels === 3) {
    if (c === 3) return { width, height, channels: 3, data: new Uint8Array(src.subarray(0, n * 3)) };
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      if (c >= 3) {
        out[3 * i] = src[c * i];
        out[3 * i + 1] = src[c * i + 1];
        out[3 * i + 2] = src[c * i + 2];
      } else {
        const v = src[c * i];
        out[3 * i] = v;
        out[3 * i + 1] = v;
        out[3 * i + 2] = v;
      }
    }
    return { width, height, channels: 3, data: out };
  }
  if (c >= 3) return greyOf(src, c, width, height);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[c * i];
  return { width, height, channels: 1, data: out };
}

/** Grey (PIL 'L' formula) of interleaved pixels with `c` ≥ 3 channels, RGB first. */
function greyOf(src: Uint8Array, c: number, width: number, height: number): Image8 {
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (19595 * src[c * i] + 38470 * src[c * i + 1] + 7471 * src[c * i + 2] + 0x8000) >> 16;
  }
  return { width, height, channels: 1, data: out };
}

/** An image as grey (PIL convert('L')): grey images are returned as they are. */
export function toGrey(img: Image8): Image8 {
  return img.channels >= 3 ? greyOf(img.data, img.channels, img.width, img.height) : img;
}

export const readRgb = (file: string): Promise<Image8> => readImage(file, 3);
export const readGrey = (file: string): Promise<Image8> => readImage(file, 1);

/** Width and height from the file header (no full decode). */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(file).metadata();
    if (!m.width || !m.height) throw new Error('no dimensions in header');
    return { width: m.width, height: m.height };
  } catch (e) {
    throw new Error(`${file}: cannot read image header (${describe(e)})`);
  }
}

function toSharp(img: Image8): Sharp {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(`image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x${img.channels}`);
  }
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels as 1 | 2 | 3 | 4 },
  });
}

/** Lossless PNG bytes (deterministic for a given sharp/libpng version). */
export async function encodePng(img: Image8): Promise<Buffer> {
  let s = toSharp(img);
  if (img.channels === 1) s = s.toColourspace('b-w');
  return s.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
}

export async function encodeJpeg(img: Image8, quality = 95): Promise<Buffer> {
  return toSharp(img).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
}

/** Writes a PNG atomically (temporary file + rename). */
export async function writePng(file: string, img: Image8): Promise<void> {
  writeFileAtomic(file, await encodePng(img));
}

/** Writes a JPEG atomically. */
export async function writeJpeg(file: string, img: Image8, quality = 95): Promise<void> {
  writeFileAtomic(file, await encodeJpeg(img, quality));
}

/** Writes by extension: .png lossless, .jpg/.jpeg with `quality`. */
export async function writeImage(file: string, img: Image8, quality = 95): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return writePng(file, img);
  if (ext === '.jpg' || ext === '.jpeg') return writeJpeg(file, img, quality);
  throw new Error(`${file}: unsupported output image extension '${ext}' (use .png or .jpg)`);
}

interface AxisTaps {
  idx: Int32Array; // first source index (second is idx+1, clamped)
  w0: Float32Array; // float weight of idx (OpenCV `1 - fx` in float32)
  w1: Float32Array;
  i0: Int32Array; // fixed-point weights × 2048
  i1: Int32Array;
}

const fround = Math.fround;

/** OpenCV INTER_LINEAR taps along one axis (half-pixel centres, edge clamp, no antialiasing). */
function linearTaps(src: number, dst: number): AxisTaps {
  const scale = 1 / (dst / src); // as cv::resize computes it: 1 / inv_scale
  const t: AxisTaps = {
    idx: new Int32Array(dst),
    w0: new Float32Array(dst),
    w1: new Float32Array(dst),
    i0: new Int32Array(dst),
    i1: new Int32Array(dst),
  };
  for (let d = 0; d < dst; d++) {
    let f = fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = fround(f - s);
    if (s < 0) {
      f = 0;
      s = 0;
    }
    if (s >= src - 1) {
      f = 0;
      s = src - 1;
    }
    const a0 = fround(1 - f);
    t.idx[d] = s;
    t.w0[d] = a0;
    t.w1[d] = f;
    // saturate_cast<short>(float) rounds half to even
    t.i0[d] = roundHalfEven(a0 * 2048);
    t.i1[d] = roundHalfEven(f * 2048);
  }
  return t;
}

/** Round half to even (OpenCV saturate_cast of float to int). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Bilinear resize of a uint8 image with OpenCV INTER_LINEAR semantics (see file header). */
export function resizeLinear(img: Image8, width: number, height: number): Image8 {
  const { width: sw, height: sh, channels: c, data } = img;
  if (sw === width && sh === height) return { width, height, channels: c, data: new Uint8Array(data) };
  const tx = linearTaps(sw, width);
  const ty = linearTaps(sh, height);
  const rowLen = width * c;
  // Horizontal pass per needed source row, cached for the two rows in use.
  const rows = new Map<number, Int32Array>();
  const hrow = (y: number): Int32Array => {
    let r = rows.get(y);
    if (r) return r;
    r = new Int32Array(rowLen);
    const base = y * sw * c;
    for (let x = 0; x < width; x++) {
      const s = tx.idx[x];
      const s1 = Math.min(s + 1, sw - 1);
      const a0 = tx.i0[x];
      const a1 = tx.i1[x];
      for (let k = 0; k < c; k++) r[x * c + k] = data[base + s * c + k] * a0 + data[base + s1 * c + k] * a1;
    }
    if (rows.size > 4) rows.clear();
    rows.set(y, r);
    return r;
  };
  const out = new Uint8Array(height * rowLen);
  for (let y = 0; y < height; y++) {
    const s = ty.idx[y];
    const r0 = hrow(s);
    const r1 = hrow(Math.min(s + 1, sh - 1));
    const b0 = ty.i0[y];
    const b1 = ty.i1[y];
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
      out[o + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, channels: c, data: out };
}

/**
 * Bilinear resize of float32 (H, W, C) data with OpenCV INTER_LINEAR float semantics
 * (float32 weights and arithmetic). Used for flows (`resize_flow`).
 */
export function resizeLinearFloat(
  data: Float32Array, sw: number, sh: number, c: number, width: number, height: number,
): Float32Array {
  if (sw === width && sh === height) return new Float32Array(data);
  const tx = linearTaps(sw, width);
  const ty = linearTaps(sh, height);
  const rowLen = width * c;
  const hrow = (y: number, r: Float32Array) => {
    const base = y * sw * c;
    for (let x = 0; x < width; x++) {
      const s = tx.idx[x];
      const s1 = Math.min(s + 1, sw - 1);
      const a0 = tx.w0[x];
      const a1 = tx.w1[x];
      for (let k = 0; k < c; k++) {
        r[x * c + k] = fround(fround(data[base + s * c + k] * a0) + fround(data[base + s1 * c + k] * a1));
      }
    }
  };
  const r0 = new Float32Array(rowLen);
  const r1 = new Float32Array(rowLen);
  const out = new Float32Array(height * rowLen);
  for (let y = 0; y < height; y++) {
    const s = ty.idx[y];
    hrow(s, r0);
    hrow(Math.min(s + 1, sh - 1), r1);
    const b0 = ty.w0[y];
    const b1 = ty.w1[y];
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = fround(fround(r0[i] * b0) + fround(r1[i] * b1));
  }
  return out;
}

/** Nearest-neighbour resize (PIL NEAREST: source = floor((i + 0.5)·src/dst)). For masks. */
export function resizeNearest(img: Image8, width: number, height: number): Image8 {
  const { width: sw, height: sh, channels: c, data } = img;
  if (sw === width && sh === height) return { width, height, channels: c, data: new Uint8Array(data) };
  const xs = new Int32Array(width);
  const sx = sw / width;
  const sy = sh / height;
  for (let x = 0; x < width; x++) xs[x] = Math.min(sw - 1, Math.floor((x + 0.5) * sx));
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const ys = Math.min(sh - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < width; x++) {
      const si = (ys * sw + xs[x]) * c;
      const di = (y * width + x) * c;
      for (let k = 0; k < c; k++) out[di + k] = data[si + k];
    }
  }
  return { width, height, channels: c, data: out };
}

/** Mirror left↔right. */
export function flipHorizontal(img: Image8): Image8 {
  const { width, height, channels: c, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const si = (y * width + x) * c;
      const di = (y * width + (width - 1 - x)) * c;
      for (let k = 0; k < c; k++) out[di + k] = data[si + k];
    }
  }
  return { width, height, channels: c, data: out };
}

// ---------------------------------------------------------------------------------------------
// Video decoding through ffmpeg

let ffmpegCache: string | null = null;

/** The ffmpeg binary: a system `ffmpeg` on PATH, else the npm @ffmpeg-installer one. */
export function ffmpegBinary(): string {
  if (ffmpegCache) return ffmpegCache;
  const sys = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8', timeout: 20000 });
  if (!sys.error && sys.status === 0) return (ffmpegCache = 'ffmpeg');
  try {
    const p = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    if (fs.existsSync(p)) return (ffmpegCache = p);
  } catch {
    // fall through
  }
  throw new Error('ffmpeg not found: install it (apt-get install -y ffmpeg) or npm install @ffmpeg-installer/ffmpeg');
}

export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.avi', '.mkv', '.webm', '.m4v'];

export function isVideoFile(name: string): boolean {
  return !name.startsWith('.') && VIDEO_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

function runFfmpeg(args: string[], file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(ffmpegBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new Error(`${file}: cannot run ffmpeg (${e.message})`)));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${file}: ffmpeg failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Frame size of a video (decodes the first frame). */
export async function videoSize(file: string): Promise<{ width: number; height: number }> {
  if (!fs.existsSync(file)) throw new Error(`${file}: video file not found`);
  const png = await runFfmpeg(['-v', 'error', '-i', file, '-an', '-sn', '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-'], file);
  if (png.length === 0) throw new Error(`${file}: no video frames`);
  const m = await sharp(png).metadata();
  return { width: m.width!, height: m.height! };
}

/**
 * Streams every frame of a video as RGB uint8 to `onFrame` (awaited, so memory stays bounded).
 * Returns the number of frames. Errors name the file.
 */
export async function forEachVideoFrame(
  file: string,
  onFrame: (img: Image8, index: number) => void | Promise<void>,
  opts: { maxFrames?: number } = {},
): Promise<number> {
  const { width, height } = await videoSize(file);
  const frameBytes = width * height * 3;
  const args = ['-v', 'error', '-i', file, '-an', '-sn'];
  if (opts.maxFrames !== undefined) args.push('-frames:v', String(opts.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', '-');
  return new Promise<number>((resolve, reject) => {
    const p = spawn(ffmpegBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let failed = false;
    let count = 0;
    let pending = Buffer.alloc(0);
    let chain: Promise<void> = Promise.resolve();
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      p.kill('SIGKILL');
      reject(e);
    };
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= frameBytes && !failed) {
        const data = new Uint8Array(pending.subarray(0, frameBytes)); // copy: stdout chunks are reused
        pending = pending.subarray(frameBytes);
        const index = count++;
        p.stdout.pause();
        chain = chain
          .then(() => onFrame({ width, height, channels: 3, data }, index))
          .then(() => {
            if (!failed) p.stdout.resume();
          })
          .catch((e) => fail(e instanceof Error ? e : new Error(String(e))));
      }
    });
    p.on('error', (e) => fail(new Error(`${file}: cannot run ffmpeg (${e.message})`)));
    p.on('close', (code) => {
      chain.then(() => {
        if (failed) return;
        if (code !== 0) fail(new Error(`${file}: ffmpeg failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
        else if (pending.length) fail(new Error(`${file}: truncated frame at the end of the stream`));
        else resolve(count);
      }, () => undefined);
    });
  });
}

/** All frames of a video in memory (use `forEachVideoFrame` for long videos). */
export async function readVideoFrames(file: string, opts: { maxFrames?: number } = {}): Promise<Image8[]> {
  const frames: Image8[] = [];
  await forEachVideoFrame(file, (img) => void frames.push(img), opts);
  return frames;
}
