/**
 * The official script's outputs of one finished frame, at `out_size`: the `--save_frames` PNG
 * (OpenCV bicubic), and the `inpaint_out.mp4` / `masked_in.mp4` frames (OpenCV bilinear).
 * In video_outpainting `out_size` is the size before the canvas grew, so results shrink back to it.
 * `compareFrame` puts the masked input and the result side by side (`compare.mp4`).
 */
import { resizeLinear, type Image8 } from '../io/image';
import { resizeBicubicCv } from '../io/resample';
import type { Size } from './frames';
import type { InpaintedFrame } from './pipeline';

export interface OutputImages {
  /** frames/NNNN.png */
  frame: Image8;
  /** inpaint_out.mp4 */
  inpaintOut: Image8;
  /** masked_in.mp4 */
  maskedIn: Image8;
}

export function outputImages(f: InpaintedFrame, outSize: Size): OutputImages {
  const { width, height } = outSize;
  return {
    frame: resizeBicubicCv(f.result, width, height),
    inpaintOut: resizeLinear(f.result, width, height),
    maskedIn: resizeLinear(f.masked, width, height),
  };
}

/** A `compare.mp4` frame: the masked input | the result, side by side. */
export function compareFrame(images: OutputImages): Image8 {
  const a = images.maskedIn;
  const b = images.inpaintOut;
  const w = a.width + b.width;
  const out = new Uint8Array(w * a.height * 3);
  for (let y = 0; y < a.height; y++) {
    out.set(a.data.subarray(y * a.width * 3, (y + 1) * a.width * 3), y * w * 3);
    out.set(b.data.subarray(y * b.width * 3, (y + 1) * b.width * 3), (y * w + a.width) * 3);
  }
  return { width: w, height: a.height, channels: 3, data: out };
}
