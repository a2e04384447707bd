/**
 * Dataset validation: one problem per fault, each naming the file or folder at fault.
 *
 * Checks: root and frames folder exist; split files parse; every indexed video has a folder whose
 * frame count equals the index; no video is empty; every frame decodes (unless `decode: false`,
 * then headers only) and frames of a video share one size (W×H in a JPEGImages_<W>_<H> folder);
 * for every mask folder: the video exists, one mask 00000.png … per frame, masks decode and have
 * the frame size (or the target size); for every flow folder: both .flo files of every
 * consecutive pair exist with a valid header and size.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { statFlo } from '../io/flo';
import { resolveInside } from '../io/paths';
import {
  DatasetRoot, DEFAULT_HEIGHT, DEFAULT_WIDTH, flowFileNames, listFrames, listVideos, maskFileName,
  openDatasetRoot, readIndex, RootOptions, sizeFromFramesDir, VideoIndex,
} from './layout';

export interface Problem {
  file: string;
  message: string;
}

export interface ValidateOptions extends RootOptions {
  /** Fully decode every image (default true); false reads headers only. */
  decode?: boolean;
  concurrency?: number;
  /** (images checked, images, file). */
  onProgress?: (done: number, total: number, item?: string) => void;
}

export interface ValidationReport {
  root: string;
  problems: Problem[];
  videos: number;
  frames: number;
  masks: number;
  flows: number;
}

export function formatProblem(p: Problem): string {
  return `${p.file}: ${p.message}`;
}

interface ImageCheck {
  file: string;
  video: string;
  kind: 'frame' | 'mask';
}

async function inspect(file: string, decode: boolean): Promise<{ width: number; height: number }> {
  const s = sharp(file, { failOn: 'truncated' });
  if (decode) {
    const { info } = await s.raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height };
  }
  const m = await s.metadata();
  if (!m.width || !m.height) throw new Error('no dimensions in header');
  return { width: m.width, height: m.height };
}

export async function validateDataset(rootDir: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const problems: Problem[] = [];
  const add = (file: string, message: string) => problems.push({ file, message });
  const report: ValidationReport = { root: path.resolve(rootDir), problems, videos: 0, frames: 0, masks: 0, flows: 0 };
  let root: DatasetRoot;
  try {
    root = openDatasetRoot(rootDir, opts);
  } catch (e) {
    const m = /^(.*?): (.*)$/s.exec((e as Error).message);
    add(m ? m[1] : path.resolve(rootDir), m ? m[2] : (e as Error).message);
    return report;
  }
  const W = opts.width ?? DEFAULT_WIDTH;
  const H = opts.height ?? DEFAULT_HEIGHT;
  const expectSize = root.resized ? sizeFromFramesDir(root.framesDir) : null;

  // split files
  const indexes: { file: string; index: VideoIndex }[] = [];
  for (const f of [root.trainIndex, root.testIndex]) {
    if (!f) continue;
    try {
      indexes.push({ file: f, index: readIndex(f) });
    } catch (e) {
      add(f, (e as Error).message.replace(`${f}: `, ''));
    }
  }
  if (!root.trainIndex && !root.testIndex) add(path.join(root.root, 'train.json'), 'no split file (train.json or test.json); run `propainter prepare index`');

  // frames
  const videos = listVideos(root.framesDir);
  const frameLists = new Map<string, string[]>();
  for (const v of videos) {
    const dir = path.join(root.framesDir, v);
    const frames = listFrames(dir);
    frameLists.set(v, frames);
    if (frames.length === 0) add(dir, 'empty video (no frames)');
  }
  report.videos = videos.length;
  for (const { file, index } of indexes) {
    for (const [v, n] of Object.entries(index)) {
      let dir: string;
      try {
        dir = resolveInside(root.framesDir, v, 'video');
      } catch (e) {
        add(file, (e as Error).message);
        continue;
      }
      const frames = frameLists.get(v);
      if (!frames) add(dir, `video folder not found (listed in ${file})`);
      else if (frames.length !== n) add(dir, `has ${frames.length} frames but ${file} says ${n}`);
    }
  }

  // masks
  const maskChecks: ImageCheck[] = [];
  if (root.masksDir) {
    for (const v of listVideos(root.masksDir)) {
      const mdir = path.join(root.masksDir, v);
      const frames = frameLists.get(v);
      if (!frames) {
        add(path.join(root.framesDir, v), `video folder not found (it has masks in ${mdir})`);
        continue;
      }
      const present = new Set(fs.readdirSync(mdir).filter((n) => !n.startsWith('.')));
      const pngs = [...present].filter((n) => n.toLowerCase().endsWith('.png'));
      for (let i = 0; i < frames.length; i++) {
        const name = maskFileName(i);
        if (!present.has(name)) add(path.join(mdir, name), `mask missing (video has ${frames.length} frames)`);
        else maskChecks.push({ file: path.join(mdir, name), video: v, kind: 'mask' });
      }
      if (pngs.length !== frames.length) add(mdir, `has ${pngs.length} masks but the video has ${frames.length} frames`);
    }
  }

  // flows
  if (root.flowsDir) {
    for (const v of listVideos(root.flowsDir)) {
      const fdir = path.join(root.flowsDir, v);
      const frames = frameLists.get(v);
      if (!frames) {
        add(path.join(root.framesDir, v), `video folder not found (it has flows in ${fdir})`);
        continue;
      }
      for (let k = 0; k + 1 < frames.length; k++) {
        const n = flowFileNames(frames[k], frames[k + 1]);
        for (const f of [n.forward, n.backward]) {
          const file = path.join(fdir, f);
          if (!fs.existsSync(file)) {
            add(file, 'flow file missing');
            continue;
          }
          try {
            statFlo(file);
            report.flows++;
          } catch (e) {
            add(file, (e as Error).message.replace(`${file}: `, ''));
          }
        }
      }
    }
  }

  // decode frames and masks
  const checks: ImageCheck[] = [];
  for (const [v, frames] of frameLists) for (const f of frames) checks.push({ file: path.join(root.framesDir, v, f), video: v, kind: 'frame' });
  checks.push(...maskChecks);
  const sizes = new Map<string, string>();
  const results: ({ width: number; height: number } | null)[] = new Array(checks.length).fill(null);
  let next = 0;
  let done = 0;
  const decode = opts.decode ?? true;
  const worker = async () => {
    while (next < checks.length) {
      const i = next++;
      const c = checks[i];
      try {
        results[i] = await inspect(c.file, decode);
      } catch (e) {
        add(c.file, `unreadable or corrupt image (${(e as Error).message})`);
      }
      opts.onProgress?.(++done, checks.length, c.file);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  checks.forEach((c, i) => {
    const r = results[i];
    if (!r) return;
    const size = `${r.width}x${r.height}`;
    if (c.kind === 'frame') {
      report.frames++;
      if (expectSize && (r.width !== expectSize.width || r.height !== expectSize.height)) {
        add(c.file, `frame is ${size}, expected ${expectSize.width}x${expectSize.height} in ${path.basename(root.framesDir)}`);
      }
      const first = sizes.get(c.video);
      if (!first) sizes.set(c.video, size);
      else if (first !== size && !expectSize) add(c.file, `frame is ${size} but earlier frames of '${c.video}' are ${first}`);
    }
  });
  checks.forEach((c, i) => {
    const r = results[i];
    if (!r || c.kind !== 'mask') return;
    report.masks++;
    const size = `${r.width}x${r.height}`;
    const frameSize = sizes.get(c.video);
    if (size !== frameSize && size !== `${W}x${H}`) add(c.file, `mask is ${size} but the frames are ${frameSize ?? 'unreadable'}`);
  });
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.message < b.message ? -1 : 1));
  return report;
}
