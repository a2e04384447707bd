/**
 * Images for the workbook: conversion of channels-last frames to RGB bytes, frame grids,
 * before/after comparisons, mask overlays, PNG encoding (sharp) and inline display.
 *
 * Inputs are channels-last, as everywhere in this project:
 *   - `{ width, height, channels?, data }` (lib/io/image's Image8, or an RgbImage);
 *   - `{ shape: [H, W] | [H, W, C] | [1, H, W, C], data }` (host arrays);
 *   - a TF.js tensor of those shapes (read with dataSync).
 * uint8 / int data is 0..255; float data is [-1, 1] by default (the model's range), or pass
 * `range: '0..1'`. C is 1 (grey), 3 (RGB) or 4 (alpha dropped).
 */
import { writeFileAtomic } from '../io/atomic';
import { escapeHtml, show } from './display';

/** Row-major (H, W, 3) uint8 RGB. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

type Numeric = ArrayLike<number>;

export interface SizedImage {
  width: number;
  height: number;
  channels?: number;
  data: Numeric;
}

export interface ShapedArray {
  shape: readonly number[];
  data: Numeric;
  dtype?: string;
}

export interface TensorLike {
  shape: readonly number[];
  dtype: string;
  dataSync(): Numeric;
}

export type ImageInput = SizedImage | ShapedArray | TensorLike;

/** Value range of float pixel data. */
export type ValueRange = '-1..1' | '0..1' | '0..255';

export interface ToRgbOptions {
  /** For float data (default '-1..1'); integer data is always 0..255. */
  range?: ValueRange;
}

export type Color = readonly [number, number, number];

function isIntegerArray(a: Numeric): boolean {
  return (
    a instanceof Uint8Array || a instanceof Uint8ClampedArray || a instanceof Int32Array || a instanceof Uint16Array ||
    a instanceof Int16Array || a instanceof Int8Array || a instanceof Uint32Array
  );
}

/** Reads any ImageInput into (H, W, C, data, integer?). */
function unpack(x: ImageInput, what: string): { h: number; w: number; c: number; data: Numeric; integer: boolean; bool: boolean } {
  let shape: readonly number[];
  let data: Numeric;
  let dtype: string | undefined;
  if (typeof (x as TensorLike).dataSync === 'function') {
    const t = x as TensorLike;
    shape = t.shape;
    data = t.dataSync();
    dtype = t.dtype;
  } else if ('shape' in x && Array.isArray((x as ShapedArray).shape)) {
    shape = (x as ShapedArray).shape;
    data = (x as ShapedArray).data;
    dtype = (x as ShapedArray).dtype;
  } else {
    const s = x as SizedImage;
    const c = s.channels ?? Math.round(s.data.length / (s.width * s.height));
    shape = [s.height, s.width, c];
    data = s.data;
  }
  let dims = [...shape];
  if (dims.length === 4 && dims[0] === 1) dims = dims.slice(1);
  if (dims.length === 2) dims.push(1);
  if (dims.length !== 3) throw new Error(`${what}: expected a channels-last (H, W, C) image, got shape [${shape.join(', ')}]`);
  const [h, w, c] = dims;
  if (![1, 3, 4].includes(c)) throw new Error(`${what}: expected 1, 3 or 4 channels (channels-last), got shape [${shape.join(', ')}]`);
  if (data.length !== h * w * c) throw new Error(`${what}: ${data.length} values for shape [${h}, ${w}, ${c}]`);
  const bool = dtype === 'bool';
  const integer = dtype ? dtype === 'int32' || dtype === 'uint8' : isIntegerArray(data);
  return { h, w, c, data, integer, bool };
}

/** Converts any supported image to RGB bytes (a copy). */
export function toRgb(x: ImageInput, opts: ToRgbOptions = {}, what = 'image'): RgbImage {
  const { h, w, c, data, integer, bool } = unpack(x, what);
  const n = h * w;
  const out = new Uint8Array(n * 3);
  const range = bool ? '0..1' : opts.range ?? '-1..1';
  const scale = integer ? 1 : range === '-1..1' ? 127.5 : range === '0..1' ? 255 : 1;
  const offset = integer ? 0 : range === '-1..1' ? 1 : 0;
  const conv = (v: number): number => {
    const y = Math.round((v + offset) * scale);
    return y < 0 ? 0 : y > 255 ? 255 : Number.isNaN(y) ? 0 : y;
  };
  for (let i = 0; i < n; i++) {
    if (c === 1) {
      const v = conv(data[i]);
      out[3 * i] = v;
      out[3 * i + 1] = v;
      out[3 * i + 2] = v;
    } else {
      out[3 * i] = conv(data[c * i]);
      out[3 * i + 1] = conv(data[c * i + 1]);
      out[3 * i + 2] = conv(data[c * i + 2]);
    }
  }
  return { width: w, height: h, data: out };
}

/** A single-channel mask as 0/1 bytes: integers > 0 and floats ≥ 0.5 are holes. */
export function toMask(m: ImageInput | Numeric, width: number, height: number, what = 'mask'): Uint8Array {
  let data: Numeric;
  let integer: boolean;
  if (typeof (m as Numeric).length === 'number' && !('data' in (m as object))) {
    data = m as Numeric;
    integer = isIntegerArray(data);
    if (data.length !== width * height) throw new Error(`${what}: ${data.length} values for a ${width}x${height} frame`);
  } else {
    const u = unpack(m as ImageInput, what);
    if (u.w !== width || u.h !== height) throw new Error(`${what}: ${u.w}x${u.h} does not match the ${width}x${height} frame`);
    if (u.c !== 1) throw new Error(`${what}: expected a single-channel mask, got ${u.c} channels`);
    data = u.data;
    integer = u.integer || u.bool;
  }
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = (integer ? data[i] > 0 : data[i] >= 0.5) ? 1 : 0;
  return out;
}

export interface GridOptions extends ToRgbOptions {
  /** Columns (default: all frames in one row, at most 8). */
  cols?: number;
  /** Pixels between cells (default 2). */
  gap?: number;
  /** Gap and empty-cell colour (default white). */
  background?: Color;
}

/**
 * Tiles frames row-major into one image. Cells are as large as the largest frame; smaller frames
 * are centred. `null` leaves a cell empty.
 */
export function frameGrid(frames: ReadonlyArray<ImageInput | null>, opts: GridOptions = {}): RgbImage {
  if (frames.length === 0) throw new Error('frameGrid: no frames');
  const imgs = frames.map((f, i) => (f === null ? null : toRgb(f, opts, `frame ${i}`)));
  const cols = Math.max(1, Math.min(opts.cols ?? Math.min(frames.length, 8), frames.length));
  const rows = Math.ceil(frames.length / cols);
  const gap = opts.gap ?? 2;
  const cw = Math.max(...imgs.map((m) => m?.width ?? 0));
  const ch = Math.max(...imgs.map((m) => m?.height ?? 0));
  if (cw === 0 || ch === 0) throw new Error('frameGrid: all cells are empty');
  const width = cols * cw + (cols - 1) * gap;
  const height = rows * ch + (rows - 1) * gap;
  const out = new Uint8Array(width * height * 3);
  const bg = opts.background ?? [255, 255, 255];
  for (let i = 0; i < width * height; i++) {
    out[3 * i] = bg[0];
    out[3 * i + 1] = bg[1];
    out[3 * i + 2] = bg[2];
  }
  imgs.forEach((m, k) => {
    if (!m) return;
    const x0 = (k % cols) * (cw + gap) + Math.floor((cw - m.width) / 2);
    const y0 = Math.floor(k / cols) * (ch + gap) + Math.floor((ch - m.height) / 2);
    for (let y = 0; y < m.height; y++) {
      out.set(m.data.subarray(y * m.width * 3, (y + 1) * m.width * 3), ((y0 + y) * width + x0) * 3);
    }
  });
  return { width, height, data: out };
}

/**
 * Rows of frames in one grid, e.g. `[masked, completed, groundTruth]` for a clip: each row is one
 * version, each column one time step.
 */
export function comparisonGrid(rows: ReadonlyArray<ReadonlyArray<ImageInput | null>>, opts: Omit<GridOptions, 'cols'> = {}): RgbImage {
  const cols = Math.max(...rows.map((r) => r.length));
  const cells: Array<ImageInput | null> = [];
  for (const r of rows) for (let j = 0; j < cols; j++) cells.push(r[j] ?? null);
  return frameGrid(cells, { ...opts, cols });
}

/** Before/after: two images side by side, or two frame sequences as two rows. */
export function beforeAfter(
  before: ImageInput | ReadonlyArray<ImageInput>,
  after: ImageInput | ReadonlyArray<ImageInput>,
  opts: Omit<GridOptions, 'cols'> = {},
): RgbImage {
  const b = Array.isArray(before) ? before : [before as ImageInput];
  const a = Array.isArray(after) ? after : [after as ImageInput];
  if (b.length === 1 && a.length === 1) return frameGrid([b[0], a[0]], { ...opts, cols: 2 });
  return comparisonGrid([b, a], opts);
}

export interface OverlayOptions extends ToRgbOptions {
  /** Hole colour (default red). */
  color?: Color;
  /** Opacity of the fill over holes (default 0.5). */
  alpha?: number;
  /** Draw the hole boundary in the solid colour (default true). */
  outline?: boolean;
}

/** The frame with mask holes (1 = hole) tinted and outlined. */
export function maskOverlay(frame: ImageInput, mask: ImageInput | Numeric, opts: OverlayOptions = {}): RgbImage {
  const img = toRgb(frame, opts, 'frame');
  const { width: w, height: h } = img;
  const m = toMask(mask, w, h);
  const color = opts.color ?? [255, 0, 0];
  const alpha = opts.alpha ?? 0.5;
  const outline = opts.outline ?? true;
  const out = new Uint8Array(img.data);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!m[i]) continue;
      const edge =
        outline && (x === 0 || y === 0 || x === w - 1 || y === h - 1 || !m[i - 1] || !m[i + 1] || !m[i - w] || !m[i + w]);
      for (let k = 0; k < 3; k++) {
        out[3 * i + k] = edge ? color[k] : Math.round((1 - alpha) * out[3 * i + k] + alpha * color[k]);
      }
    }
  }
  return { width: w, height: h, data: out };
}

/** Nearest-neighbour enlargement by an integer factor (small frames stay crisp). */
export function upscale(img: RgbImage, factor: number): RgbImage {
  const f = Math.max(1, Math.floor(factor));
  if (f === 1) return img;
  const width = img.width * f;
  const height = img.height * f;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / f);
    for (let x = 0; x < width; x++) {
      const s = (sy * img.width + Math.floor(x / f)) * 3;
      const d = (y * width + x) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { width, height, data: out };
}

type SharpRaw = (input: Buffer, opts: { raw: { width: number; height: number; channels: 3 } }) => { png(): { toBuffer(): Promise<Buffer> } };

/** PNG bytes (sharp). */
export async function encodePng(img: ImageInput, opts: ToRgbOptions = {}): Promise<Buffer> {
  const rgb = isRgb(img) ? img : toRgb(img, opts);
  // Loaded on first use (importing lib/viz should not start libvips), and typed locally: tslab
  // type-checks every file a notebook imports, and sharp's typings are large.
  const sharp = require('sharp') as SharpRaw;
  return sharp(Buffer.from(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength), {
    raw: { width: rgb.width, height: rgb.height, channels: 3 },
  })
    .png()
    .toBuffer();
}

/** Writes a PNG atomically. */
export async function savePng(file: string, img: ImageInput, opts: ToRgbOptions = {}): Promise<void> {
  writeFileAtomic(file, await encodePng(img, opts));
}

function isRgb(x: ImageInput): x is RgbImage {
  const s = x as SizedImage;
  return s.data instanceof Uint8Array && typeof s.width === 'number' && (s.channels === undefined || s.channels === 3) &&
    s.data.length === s.width * s.height * 3;
}

export interface ImageHtmlOptions extends ToRgbOptions {
  caption?: string;
  /** Displayed width in CSS pixels (default: natural size, at least 2× for frames under 160 px). */
  width?: number;
}

/** An inline <figure> with the PNG as a data URI (self-contained in saved notebooks). */
export async function imageHtml(img: ImageInput, opts: ImageHtmlOptions = {}): Promise<string> {
  const rgb = isRgb(img) ? img : toRgb(img, opts);
  const png = await encodePng(rgb);
  const width = opts.width ?? (rgb.width < 160 ? rgb.width * 2 : rgb.width);
  const caption = opts.caption ? `<figcaption style="font:12px sans-serif;color:#444;text-align:center">${escapeHtml(opts.caption)}</figcaption>` : '';
  return (
    `<figure class="propainter-image" style="display:inline-block;margin:4px;vertical-align:top">` +
    `<img src="data:image/png;base64,${png.toString('base64')}" width="${width}" ` +
    `style="image-rendering:pixelated;max-width:100%" alt="${escapeHtml(opts.caption ?? 'image')}">${caption}</figure>`
  );
}

/** Shows one image (with an optional caption). */
export async function showImage(img: ImageInput, opts: ImageHtmlOptions = {}): Promise<void> {
  const rgb = isRgb(img) ? img : toRgb(img, opts);
  show({ html: await imageHtml(rgb, opts), text: `[image ${rgb.width}x${rgb.height}${opts.caption ? ` "${opts.caption}"` : ''}]` });
}

/** Shows several captioned images in a wrapping row (each keeps its own size). */
export async function showImages(
  items: ReadonlyArray<{ image: ImageInput; caption?: string }>,
  opts: Omit<ImageHtmlOptions, 'caption'> = {},
): Promise<void> {
  const parts = await Promise.all(items.map((it) => imageHtml(it.image, { ...opts, caption: it.caption })));
  show({ html: `<div class="propainter-images">${parts.join('')}</div>`, text: `[${items.length} images]` });
}
