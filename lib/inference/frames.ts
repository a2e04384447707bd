/**
 * Per-frame preparation and compositing of the official inference script (spec §13.2, §13.3
 * steps 6–7), on host uint8 images: sizes, masks (two dilations), the outpainting canvas, the
 * green-tinted `masked_in` frame, and the uint8 compositing and 0.5 blending of generator output.
 */
import type { Image8 } from '../io/image';
import { resizeNearest } from '../io/image';
import { resizeBicubicPil } from '../io/resample';
import { binarize, dilateCross } from '../data/masks';

export interface Size {
  width: number;
  height: number;
}

export interface SizeOptions {
  /** --width / --height: both must be given (> 0) to replace the input size. */
  width?: number;
  height?: number;
  /** --resize_ratio (applied after width/height, truncating). */
  resizeRatio?: number;
}

/**
 * out_size and process_size: the input size, or (width, height) when both are given, times
 * resize_ratio (int truncation) when ≠ 1; process_size rounds each side down to a multiple of 8.
 */
export function inferenceSizes(input: Size, opts: SizeOptions = {}): { outSize: Size; processSize: Size } {
  let { width, height } = input;
  if (opts.width !== undefined && opts.height !== undefined && opts.width !== -1 && opts.height !== -1) {
    width = opts.width;
    height = opts.height;
  }
  const r = opts.resizeRatio ?? 1;
  if (r !== 1) {
    width = Math.trunc(r * width);
    height = Math.trunc(r * height);
  }
  return { outSize: { width, height }, processSize: { width: width - (width % 8), height: height - (height % 8) } };
}

/** A frame at the process size: PIL's default (bicubic, antialiased when shrinking) resize. */
export function toProcessSize(frame: Image8, size: Size): Image8 {
  return resizeBicubicPil(frame, size.width, size.height);
}

/** The two masks of one frame at the process size, 0/1 per pixel. */
export interface FrameMasks {
  /** Mask for flow completion (`flow_masks`). */
  flow: Uint8Array;
  /** Mask for propagation, the generator and compositing (`masks_dilated`). */
  dilated: Uint8Array;
}

/**
 * read_mask: a grey mask (any size) resized with PIL NEAREST to the process size, then binary
 * dilation `dilation` times with SciPy's cross element (any non-zero pixel is hole), or, with
 * dilation 0, thresholded (> 0.1). The script dilates both masks by the same --mask_dilation.
 */
export function prepareMask(grey: Image8, size: Size, dilation: number): FrameMasks {
  if (grey.channels !== 1) throw new Error(`prepareMask: mask must be grey (1 channel), got ${grey.channels}`);
  const m = resizeNearest(grey, size.width, size.height).data;
  const one = dilation > 0 ? binarize(dilateCross(m, size.width, size.height, dilation)) : binarize(m);
  return { flow: one, dilated: one };
}

/** video_outpainting geometry: the canvas (multiples of 8) and the original's offset in it. */
export interface OutpaintCanvas extends Size {
  top: number;
  left: number;
}

/** extrapolation(): canvas (int(scale_h·H), int(scale_w·W)) rounded down to multiples of 8, the original centred. */
export function outpaintCanvas(inner: Size, scaleH: number, scaleW: number): OutpaintCanvas {
  let height = Math.trunc(scaleH * inner.height);
  let width = Math.trunc(scaleW * inner.width);
  height -= height % 8;
  width -= width % 8;
  if (height < inner.height || width < inner.width) {
    throw new Error(`video_outpainting: canvas ${width}x${height} (scale_h ${scaleH}, scale_w ${scaleW}) is smaller than the ${inner.width}x${inner.height} frames`);
  }
  return { width, height, top: Math.trunc((height - inner.height) / 2), left: Math.trunc((width - inner.width) / 2) };
}

/** The frame placed on the zero canvas. */
export function placeOnCanvas(frame: Image8, canvas: OutpaintCanvas): Image8 {
  const c = frame.channels;
  const out = new Uint8Array(canvas.width * canvas.height * c);
  for (let y = 0; y < frame.height; y++) {
    out.set(frame.data.subarray(y * frame.width * c, (y + 1) * frame.width * c), ((y + canvas.top) * canvas.width + canvas.left) * c);
  }
  return { width: canvas.width, height: canvas.height, channels: c, data: out };
}

/**
 * Outpainting masks: `dilated` is 1 outside the original rectangle; `flow` also marks a 4-pixel
 * band just inside the original border on each axis whose margin exceeds 10 px.
 */
export function outpaintMasks(inner: Size, canvas: OutpaintCanvas): FrameMasks {
  const { width: W, height: H, top, left } = canvas;
  const dh = top > 10 ? 4 : 0;
  const dw = left > 10 ? 4 : 0;
  const flow = new Uint8Array(W * H).fill(1);
  const dilated = new Uint8Array(W * H).fill(1);
  for (let y = top; y < top + inner.height; y++) {
    for (let x = left; x < left + inner.width; x++) {
      dilated[y * W + x] = 0;
      if (y >= top + dh && y < top + inner.height - dh && x >= left + dw && x < left + inner.width - dw) flow[y * W + x] = 0;
    }
  }
  return { flow, dilated };
}

/** masked_in frame: inside the mask 0.4·frame + 0.6·(0, 255, 0) in float64, truncated to uint8. */
export function tintMasked(frame: Image8, mask: Uint8Array): Image8 {
  const alpha = 0.6;
  const out = new Uint8Array(frame.data);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let k = 0; k < 3; k++) {
      const g = k === 1 ? 255 : 0;
      out[3 * i + k] = Math.trunc((1 - alpha) * frame.data[3 * i + k] + alpha * g);
    }
  }
  return { ...frame, data: out };
}

/**
 * One local frame of a generator window: pred in [-1, 1] (H·W·3 float32) →
 * trunc_uint8(((pred + 1) / 2)·255) inside the mask, the uint8 processed frame outside.
 */
export function compositeFrame(pred: Float32Array, frame: Uint8Array, mask: Uint8Array): Uint8Array {
  const fr = Math.fround;
  const out = new Uint8Array(frame.length);
  for (let i = 0; i < mask.length; i++) {
    for (let k = 0; k < 3; k++) {
      const j = 3 * i + k;
      if (mask[i]) {
        // float32 as torch computes (pred + 1) / 2 and NumPy multiplies by 255; uint8 cast truncates.
        const v = fr(fr(fr(pred[j] + 1) / 2) * 255);
        out[j] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
      } else out[j] = frame[j];
    }
  }
  return out;
}

/** How overlapping windows are combined: 0.5/0.5 in window order, re-quantised (inference) or not (evaluation). */
export type BlendMode = 'uint8' | 'float';

/**
 * comp = img for the first window of a frame, then 0.5·comp + 0.5·img in float32, truncated to
 * uint8 after each blend in 'uint8' mode (inference) and kept as float in 'float' mode (evaluation).
 */
export function blendInto(prev: Float32Array | null, img: Uint8Array, mode: BlendMode): Float32Array {
  const fr = Math.fround;
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = prev ? fr(fr(prev[i] * 0.5) + fr(img[i] * 0.5)) : img[i];
    out[i] = mode === 'uint8' ? Math.trunc(v) : v;
  }
  return out;
}
