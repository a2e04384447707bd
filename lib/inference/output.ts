/**
 * The official script's outputs of one finished frame, at `out_size`: the `--save_frames` PNG
 * (OpenCV bicubic), and the `inpaint_out.mp4` / `masked_in.mp4` frames (OpenCV bilinear).
 * In video_outpainting `out_size` is the size before the canvas grew, so results shrink back to it.
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
