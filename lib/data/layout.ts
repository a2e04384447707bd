/**
 * The dataset tree (spec §11.2) and naming rules:
 *
 *   <root>/JPEGImages_432_240/<video>/00000.jpg …   frames resized to W×H (or JPEGImages/ unresized)
 *   <root>/test_masks/<video>/00000.png …           evaluation masks, non-zero = hole
 *   <root>/flows/<video>/00000_00001_f.flo …        optional precomputed flows (our default place;
 *                                                   the official configs take any `flow_root`)
 *   <root>/train.json, <root>/test.json              { video: frame count }
 *
 * Frame lists are directory listings sorted by code point (Python `sorted(os.listdir())`),
 * restricted to image files and skipping dot-files (the official loader would also count stray
 * files such as .DS_Store as frames).
 */
import * as fs from 'fs';
import * as path from 'path';
import { isImageFile } from '../io/image';

export const DEFAULT_WIDTH = 432;
export const DEFAULT_HEIGHT = 240;
export const MASKS_DIR = 'test_masks';
export const FLOWS_DIR = 'flows';
export const UNRESIZED_FRAMES_DIR = 'JPEGImages';

export type VideoIndex = Record<string, number>;
export type Split = 'train' | 'test';

export function resizedFramesDirName(width = DEFAULT_WIDTH, height = DEFAULT_HEIGHT): string {
  return `JPEGImages_${width}_${height}`;
}

/** Code-point order, as Python's sorted() on str. */
export function sortNames(names: string[]): string[] {
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Sorted sub-folders (videos) of a directory, skipping dot-folders (staging areas). */
export function listVideos(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new Error(`${dir}: cannot list videos (${(e as Error).message})`);
  }
  return sortNames(entries.filter((e) => !e.name.startsWith('.') && (e.isDirectory() || isDir(path.join(dir, e.name)))).map((e) => e.name));
}

/** Sorted image file names of one video folder. */
export function listFrames(videoDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(videoDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${videoDir}: video folder not found` : `${videoDir}: cannot list frames (${(e as Error).message})`);
  }
  return sortNames(names.filter(isImageFile));
}

/** Frame name without its extension (the official code drops the last 4 characters). */
export function frameStem(name: string): string {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

/** Official flow file names for the consecutive frames `a` → `b`. */
export function flowFileNames(frameA: string, frameB: string): { forward: string; backward: string } {
  const a = frameStem(frameA);
  const b = frameStem(frameB);
  return { forward: `${a}_${b}_f.flo`, backward: `${b}_${a}_b.flo` };
}

/**
 * `dir/name` for a folder or file name that came from the user or from a file, refusing names
 * that would leave `dir` (empty, `.`, `..`, separators, NUL): such names are single path parts.
 */
export function childPath(dir: string, name: string, what: string): string {
  if (!name || name === '.' || name === '..' || /[\\/\0]/.test(name)) {
    throw new Error(`${dir}: ${what} ${JSON.stringify(name)} is not a plain name inside this folder`);
  }
  return path.join(dir, name);
}

/** Evaluation mask name of frame i: 00000.png. */
export function maskFileName(i: number): string {
  return `${String(i).padStart(5, '0')}.png`;
}

/** Reads a split file; throws naming the file when it is missing or malformed. */
export function readIndex(file: string): VideoIndex {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file}: index file not found` : `${file}: cannot read index (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected an object { video: frame count }`);
  const out: VideoIndex = {};
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`${file}: video '${k}' has invalid frame count ${JSON.stringify(n)}`);
    out[k] = n;
  }
  return out;
}

export interface DatasetRoot {
  root: string;
  /** Folder holding one sub-folder of frames per video. */
  framesDir: string;
  /** True when framesDir is JPEGImages_<W>_<H> (frames expected at that size). */
  resized: boolean;
  masksDir: string | null;
  flowsDir: string | null;
  trainIndex: string | null;
  testIndex: string | null;
}

export interface RootOptions {
  width?: number;
  height?: number;
  /** Explicit frames folder (absolute, or relative to root). */
  framesDir?: string;
  masksDir?: string;
  flowsDir?: string;
}

/**
 * Locates the parts of a dataset root: frames in JPEGImages_<W>_<H>/ (preferred), else the only
 * JPEGImages_*_* folder, else JPEGImages/. Throws naming the folder when the root or the frames
 * folder is missing.
 */
export function openDatasetRoot(root: string, opts: RootOptions = {}): DatasetRoot {
  const r = path.resolve(root);
  if (!isDir(r)) throw new Error(`${r}: dataset root not found`);
  const w = opts.width ?? DEFAULT_WIDTH;
  const h = opts.height ?? DEFAULT_HEIGHT;
  let framesDir: string | null = null;
  let resized = false;
  if (opts.framesDir) {
    framesDir = path.resolve(r, opts.framesDir);
    if (!isDir(framesDir)) throw new Error(`${framesDir}: frames folder not found`);
    resized = /^JPEGImages_\d+_\d+$/.test(path.basename(framesDir));
  } else {
    const preferred = path.join(r, resizedFramesDirName(w, h));
    if (isDir(preferred)) {
      framesDir = preferred;
      resized = true;
    } else {
      const others = fs.readdirSync(r).filter((n) => /^JPEGImages_\d+_\d+$/.test(n) && isDir(path.join(r, n)));
      if (others.length === 1) {
        framesDir = path.join(r, others[0]);
        resized = true;
      } else if (isDir(path.join(r, UNRESIZED_FRAMES_DIR))) {
        framesDir = path.join(r, UNRESIZED_FRAMES_DIR);
      }
    }
    if (!framesDir) {
      throw new Error(`${path.join(r, resizedFramesDirName(w, h))}: frames folder not found (nor ${UNRESIZED_FRAMES_DIR}/)`);
    }
  }
  const opt = (p: string | undefined, dflt: string) => {
    const full = path.resolve(r, p ?? dflt);
    return isDir(full) ? full : null;
  };
  const file = (n: string) => (fs.existsSync(path.join(r, n)) ? path.join(r, n) : null);
  return {
    root: r,
    framesDir,
    resized,
    masksDir: opt(opts.masksDir, MASKS_DIR),
    flowsDir: opt(opts.flowsDir, FLOWS_DIR),
    trainIndex: file('train.json'),
    testIndex: file('test.json'),
  };
}

/** Size encoded in a JPEGImages_<W>_<H> name, or null. */
export function sizeFromFramesDir(dir: string): { width: number; height: number } | null {
  const m = /^JPEGImages_(\d+)_(\d+)$/.exec(path.basename(dir));
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}
