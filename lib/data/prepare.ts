/**
 * Dataset preparation (the work behind `propainter prepare …`).
 *
 * Crash safety: every video is built in a hidden staging folder `<parent>/.<video>.partial/`
 * whose files are each written atomically; the folder is renamed to its final name only when
 * complete. A finished video is therefore never touched again, an interrupted one resumes from
 * the files already in its staging folder, and no half-written file is ever visible.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import type { OutputInfo, Sharp } from 'sharp';
import { writeJsonAtomic } from '../io/atomic';
import { encodeFlo, FloEncoding } from '../io/flo';
import {
  encodeJpeg, encodePng, forEachVideoFrame, Image8, isImageFile, isVideoFile, readRgb, resizeLinear,
} from '../io/image';
import {
  DEFAULT_HEIGHT, DEFAULT_WIDTH, FLOWS_DIR, flowFileNames, frameStem, listFrames, listVideos, maskFileName,
  MASKS_DIR, openDatasetRoot, resizedFramesDirName, sortNames, Split, VideoIndex,
} from './layout';
import { randomMaskSequence, renderMask } from './masks';
import { Rng } from './rng';
import { synthVideo } from './synth';
import { forEachLimit } from './fsutil';
import { loadFrameSource } from './sources';
import { ensureDir, fsyncDir, removeStaleTemps, writeFileAtomicAsync } from '../io/atomic';
import { isInside, resolveInside } from '../io/paths';

export interface Failure {
  file: string;
  message: string;
}

/** Progress callback shared by the preparation functions (lib/viz/progress.ts `progressCallback`). */
export type Progress = (done: number, total: number, item?: string) => void;

const WRITE_CONCURRENCY = 8;

export function stagingDir(finalDir: string): string {
  return path.join(path.dirname(finalDir), `.${path.basename(finalDir)}.partial`);
}

/**
 * Creates (or reuses, to resume) the staging folder of `finalDir`. Anything else found under that
 * name — a symbolic link, a file — is refused, never followed: writes must land in the output.
 */
export function openStaging(finalDir: string): string {
  const stage = stagingDir(finalDir);
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(stage);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (st && !st.isDirectory()) {
    throw new Error(`${stage}: ${st.isSymbolicLink() ? 'is a symbolic link' : 'is not a folder'}, not a staging folder of this tool; remove it and run again`);
  }
  ensureDir(stage);
  return stage;
}

/** Renames a complete staging folder to its final name. */
export function commitStaged(staging: string, finalDir: string): void {
  removeStaleTemps(staging); // temporary files of an earlier, killed run
  fsyncDir(staging);
  fs.renameSync(staging, finalDir);
  fsyncDir(path.dirname(finalDir));
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// resize

export type ResizeFilter = 'cv2-linear' | 'lanczos3' | 'linear';

export interface ResizeOptions {
  inputDir: string;
  outputDir: string;
  width?: number;
  height?: number;
  /** 'cv2-linear' (default): OpenCV INTER_LINEAR, what the official loader applies on the fly;
   *  'lanczos3' / 'linear': libvips (antialiased) kernels. */
  filter?: ResizeFilter;
  format?: 'jpg' | 'png';
  quality?: number;
  /** Frames processed at once. */
  concurrency?: number;
  onVideo?: (name: string, status: 'skipped' | 'done' | 'failed', detail?: string) => void;
  onFrame?: () => void;
  /** (frames done, frames known so far, video) — video files count as they decode. */
  onProgress?: Progress;
}

export interface ResizeSource {
  name: string;
  path: string;
  kind: 'frames' | 'video';
  /** Frame count when known without decoding. */
  frames: number | null;
}

/** Videos of an input folder: frame folders and video files (or a single video file). */
export function resizeSources(inputDir: string): ResizeSource[] {
  const input = path.resolve(inputDir);
  if (!fs.existsSync(input)) throw new Error(`${input}: input not found`);
  if (!isDir(input)) {
    if (isVideoFile(path.basename(input))) return [{ name: frameStem(path.basename(input)), path: input, kind: 'video', frames: null }];
    throw new Error(`${input}: not a folder or a video file`);
  }
  const names = sortNames(fs.readdirSync(input).filter((n) => !n.startsWith('.')));
  const out: ResizeSource[] = [];
  for (const n of names) {
    const p = path.join(input, n);
    if (isDir(p)) out.push({ name: n, path: p, kind: 'frames', frames: listFrames(p).length });
    else if (isVideoFile(n)) out.push({ name: frameStem(n), path: p, kind: 'video', frames: null });
  }
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.name)) throw new Error(`${path.join(input, s.name)}: more than one input named '${s.name}' (folder and video file?)`);
    seen.add(s.name);
  }
  return out;
}

async function resizeEncode(img: Image8 | string, o: Required<Pick<ResizeOptions, 'width' | 'height' | 'filter' | 'format' | 'quality'>>): Promise<Buffer> {
  if (o.filter === 'cv2-linear') {
    const src = typeof img === 'string' ? await readRgb(img) : img;
    const r = resizeLinear(src, o.width, o.height);
    return o.format === 'png' ? encodePng(r) : encodeJpeg(r, o.quality);
  }
  let s: Sharp;
  if (typeof img === 'string') {
    // decode check with the same strictness as readRgb, so corrupt files fail here too
    s = sharp(img, { failOn: 'truncated' });
  } else {
    s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 3 } });
  }
  s = s.removeAlpha().toColourspace('srgb').resize(o.width, o.height, { fit: 'fill', kernel: o.filter === 'linear' ? 'linear' : 'lanczos3' });
  try {
    return await (o.format === 'png' ? s.png() : s.jpeg({ quality: o.quality })).toBuffer();
  } catch (e) {
    throw new Error(`${typeof img === 'string' ? img : 'frame'}: cannot read image (${errMessage(e)})`);
  }
}

export interface ResizeResult {
  done: string[];
  skipped: string[];
  failures: Failure[];
  frames: number;
}

/**
 * Resizes every video of `inputDir` into `outputDir/<video>/<stem>.jpg`. Frame folders keep their
 * frame stems; video files become 00000.jpg, 00001.jpg, …. Finished videos are skipped.
 */
export async function resizeDataset(opts: ResizeOptions): Promise<ResizeResult> {
  const o = {
    width: opts.width ?? DEFAULT_WIDTH,
    height: opts.height ?? DEFAULT_HEIGHT,
    filter: opts.filter ?? 'cv2-linear',
    format: opts.format ?? 'jpg',
    quality: opts.quality ?? 95,
  } as const;
  if (!(o.width > 0 && o.height > 0)) throw new Error(`invalid size ${o.width}x${o.height}`);
  const concurrency = opts.concurrency ?? Math.max(2, os.cpus().length * 2);
  const sources = resizeSources(opts.inputDir);
  const outDir = path.resolve(opts.outputDir);
  // An output inside the input would be read back as an input video on the next run.
  if (isInside(opts.inputDir, outDir)) throw new Error(`${outDir}: the output folder must be outside the input folder ${path.resolve(opts.inputDir)}`);
  ensureDir(outDir);
  const res: ResizeResult = { done: [], skipped: [], failures: [], frames: 0 };
  const ext = o.format === 'png' ? '.png' : '.jpg';
  let total = sources.reduce((a, s) => a + (s.frames ?? 0), 0);
  let done = 0;
  const frameDone = (video: string) => {
    done++;
    total = Math.max(total, done);
    opts.onFrame?.();
    opts.onProgress?.(done, total, video);
  };
  for (const src of sources) {
    const finalDir = path.join(outDir, src.name);
    if (isDir(finalDir)) {
      res.skipped.push(src.name);
      opts.onVideo?.(src.name, 'skipped');
      total -= src.frames ?? 0;
      opts.onProgress?.(done, total, src.name);
      continue;
    }
    const stage = openStaging(finalDir);
    try {
      let count = 0;
      if (src.kind === 'frames') {
        const frames = listFrames(src.path);
        if (frames.length === 0) throw new Error(`${src.path}: empty video (no frames)`);
        await forEachLimit(frames, concurrency, async (f) => {
          const target = path.join(stage, frameStem(f) + ext);
          if (!fs.existsSync(target)) await writeFileAtomicAsync(target, await resizeEncode(path.join(src.path, f), o));
          count++;
          frameDone(src.name);
        });
        // Two inputs mapping to one output name (00001.jpg and 00001.png) would lose a frame.
        if (new Set(frames.map(frameStem)).size !== frames.length) throw new Error(`${src.path}: two frames share a name stem`);
      } else {
        const writes: Promise<void>[] = [];
        count = await forEachVideoFrame(src.path, async (img, i) => {
          const target = path.join(stage, String(i).padStart(5, '0') + ext);
          if (!fs.existsSync(target)) {
            const p = resizeEncode(img, o).then((buf) => writeFileAtomicAsync(target, buf));
            writes.push(p);
            // keep a few encodes in flight while ffmpeg decodes ahead
            if (writes.length >= concurrency) await Promise.all(writes.splice(0));
          }
          frameDone(src.name);
        });
        await Promise.all(writes);
        if (count === 0) throw new Error(`${src.path}: empty video (no frames decoded)`);
      }
      commitStaged(stage, finalDir);
      res.done.push(src.name);
      res.frames += count;
      opts.onVideo?.(src.name, 'done');
    } catch (e) {
      const message = errMessage(e);
      res.failures.push({ file: src.path, message });
      opts.onVideo?.(src.name, 'failed', message);
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// index

/** { video: frame count } for every video folder of a frames folder (empty videos are errors). */
export function buildIndex(framesDir: string, videos?: string[]): VideoIndex {
  const out: VideoIndex = {};
  for (const v of videos ?? listVideos(framesDir)) {
    const n = listFrames(path.join(framesDir, v)).length;
    if (n === 0) throw new Error(`${path.join(framesDir, v)}: empty video (no frames)`);
    out[v] = n;
  }
  return out;
}

export interface IndexOptions {
  root: string;
  split?: Split;
  width?: number;
  height?: number;
  /** Output file instead of <root>/<split>.json. */
  out?: string;
}

/**
 * Writes <root>/train.json and/or test.json. Without a split both are written; test.json lists
 * the videos that have a test_masks folder when one exists, else all videos.
 */
export function writeIndexFiles(opts: IndexOptions): { file: string; videos: number; frames: number }[] {
  const root = openDatasetRoot(opts.root, { width: opts.width, height: opts.height });
  const all = buildIndex(root.framesDir);
  if (Object.keys(all).length === 0) throw new Error(`${root.framesDir}: no video folders`);
  const splits: Split[] = opts.split ? [opts.split] : ['train', 'test'];
  if (opts.out && splits.length > 1) throw new Error('--out needs --split');
  const written: { file: string; videos: number; frames: number }[] = [];
  for (const split of splits) {
    let idx = all;
    if (split === 'test' && root.masksDir) {
      idx = {};
      for (const v of listVideos(root.masksDir)) {
        if (!(v in all)) throw new Error(`${path.join(root.framesDir, v)}: video folder not found (it has masks in ${path.join(root.masksDir, v)})`);
        idx[v] = all[v];
      }
    }
    const file = path.resolve(opts.out ?? path.join(root.root, `${split}.json`));
    writeJsonAtomic(file, idx);
    written.push({ file, videos: Object.keys(idx).length, frames: Object.values(idx).reduce((a, b) => a + b, 0) });
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// masks

export interface MaskSetOptions {
  out: string;
  videos: { name: string; frames: number }[];
  width?: number;
  height?: number;
  seed?: number;
  /** Where the video names were read from (an index file), named in errors. */
  source?: string;
  onVideo?: (name: string, status: 'skipped' | 'done') => void;
  /** (videos done, videos, video). */
  onProgress?: Progress;
}

/** Random-shape masks (§11.4) per video: <out>/<video>/00000.png … (0 / 255). */
export async function writeMaskSet(opts: MaskSetOptions): Promise<{ done: string[]; skipped: string[] }> {
  const W = opts.width ?? DEFAULT_WIDTH;
  const H = opts.height ?? DEFAULT_HEIGHT;
  const seed = opts.seed ?? 0;
  const out = path.resolve(opts.out);
  const source = opts.source ?? 'masks';
  // Every name is checked before anything is written.
  const finals = opts.videos.map((v) => {
    if (!Number.isInteger(v.frames) || v.frames < 1) throw new Error(`${source}: video '${v.name}' has ${v.frames} frames`);
    return resolveInside(out, v.name, `${source}: video`);
  });
  ensureDir(out);
  const res = { done: [] as string[], skipped: [] as string[] };
  for (const [i, v] of opts.videos.entries()) {
    const finalDir = finals[i];
    if (isDir(finalDir)) {
      res.skipped.push(v.name);
      opts.onVideo?.(v.name, 'skipped');
    } else {
      const stage = openStaging(finalDir);
      await writeMasksInto(stage, new Rng(seed, 'masks', v.name), v.frames, W, H);
      commitStaged(stage, finalDir);
      res.done.push(v.name);
      opts.onVideo?.(v.name, 'done');
    }
    opts.onProgress?.(res.done.length + res.skipped.length, opts.videos.length, v.name);
  }
  return res;
}

async function writeMasksInto(dir: string, rng: Rng, frames: number, W: number, H: number): Promise<void> {
  const seq = randomMaskSequence(rng, frames, H, W);
  const ts = Array.from({ length: frames }, (_, t) => t);
  await forEachLimit(ts, WRITE_CONCURRENCY, async (t) => {
    const target = path.join(dir, maskFileName(t));
    if (fs.existsSync(target)) return;
    const png = await encodePng({ width: W, height: H, channels: 1, data: renderMask(seq, t) });
    await writeFileAtomicAsync(target, png);
  });
}

// ---------------------------------------------------------------------------------------------
// synthetic dataset

export interface SynthDatasetOptions {
  out: string;
  videos: number;
  frames: number;
  width?: number;
  height?: number;
  seed?: number;
  format?: 'jpg' | 'png';
  quality?: number;
  floEncoding?: FloEncoding;
  objects?: number;
  maxSpeed?: number;
  /** Frames folder or video whose frames (resized to W×H) texture the moving layers. */
  source?: string;
  onVideo?: (name: string, status: 'skipped' | 'done') => void;
  /** (videos done, videos, video). */
  onProgress?: Progress;
}

/** The list rotated left by k, so each video draws different source frames. */
function rotate<T>(xs: T[], k: number): T[] {
  const s = k % xs.length;
  return [...xs.slice(s), ...xs.slice(0, s)];
}

export function synthVideoName(i: number): string {
  return `synth_${String(i).padStart(4, '0')}`;
}

/**
 * A synthetic dataset root: JPEGImages_<W>_<H>/<video>/ frames, flows/<video>/ exact
 * forward/backward .flo files, test_masks/<video>/ random masks, train.json and test.json.
 */
export async function writeSynthDataset(opts: SynthDatasetOptions): Promise<{ root: string; done: string[]; skipped: string[] }> {
  const W = opts.width ?? DEFAULT_WIDTH;
  const H = opts.height ?? DEFAULT_HEIGHT;
  const seed = opts.seed ?? 0;
  const ext = (opts.format ?? 'jpg') === 'png' ? '.png' : '.jpg';
  if (!Number.isInteger(opts.videos) || opts.videos < 1) throw new Error(`synth: --videos ${opts.videos} must be ≥ 1`);
  if (!Number.isInteger(opts.frames) || opts.frames < 2) throw new Error(`synth: --frames ${opts.frames} must be ≥ 2`);
  const root = path.resolve(opts.out);
  const framesRoot = path.join(root, resizedFramesDirName(W, H));
  const flowsRoot = path.join(root, FLOWS_DIR);
  const masksRoot = path.join(root, MASKS_DIR);
  for (const d of [framesRoot, flowsRoot, masksRoot]) ensureDir(d);
  const res = { root, done: [] as string[], skipped: [] as string[] };
  let textures: Uint8Array[] | undefined;
  if (opts.source) {
    textures = (await loadFrameSource(opts.source, { width: W, height: H })).map((f) => f.data);
  }
  for (let i = 0; i < opts.videos; i++) {
    const name = synthVideoName(i);
    const finals = [path.join(framesRoot, name), path.join(flowsRoot, name), path.join(masksRoot, name)];
    if (finals.every(isDir)) {
      res.skipped.push(name);
      opts.onVideo?.(name, 'skipped');
      opts.onProgress?.(i + 1, opts.videos, name);
      continue;
    }
    const video = synthVideo(new Rng(seed, 'synth', name), {
      frames: opts.frames, width: W, height: H, objects: opts.objects, maxSpeed: opts.maxSpeed,
      textures: textures && rotate(textures, i * 5),
    });
    const frameNames = video.frames.map((_, t) => String(t).padStart(5, '0') + ext);
    const [fFinal, flFinal, mFinal] = finals;
    if (!isDir(fFinal)) {
      const stage = openStaging(fFinal);
      await forEachLimit(video.frames, WRITE_CONCURRENCY, async (img, t) => {
        const target = path.join(stage, frameNames[t]);
        if (fs.existsSync(target)) return;
        await writeFileAtomicAsync(target, ext === '.png' ? await encodePng(img) : await encodeJpeg(img, opts.quality ?? 95));
      });
      commitStaged(stage, fFinal);
    }
    if (!isDir(flFinal)) {
      const stage = openStaging(flFinal);
      const enc = opts.floEncoding ?? 'float16';
      await forEachLimit(video.flowsF, WRITE_CONCURRENCY, async (ff, k) => {
        const n = flowFileNames(frameNames[k], frameNames[k + 1]);
        await writeFileAtomicAsync(path.join(stage, n.forward), encodeFlo(ff, enc));
        await writeFileAtomicAsync(path.join(stage, n.backward), encodeFlo(video.flowsB[k], enc));
      });
      commitStaged(stage, flFinal);
    }
    if (!isDir(mFinal)) {
      const stage = openStaging(mFinal);
      await writeMasksInto(stage, new Rng(seed, 'masks', name), opts.frames, W, H);
      commitStaged(stage, mFinal);
    }
    res.done.push(name);
    opts.onVideo?.(name, 'done');
    opts.onProgress?.(i + 1, opts.videos, name);
  }
  const idx = buildIndex(framesRoot);
  writeJsonAtomic(path.join(root, 'train.json'), idx);
  writeJsonAtomic(path.join(root, 'test.json'), idx);
  return res;
}
