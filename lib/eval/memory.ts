/**
 * Wasm heap needed by the whole-video networks of an evaluation, so a video that cannot fit is
 * refused before any work (the official protocol runs the flow completion and I3D over each whole
 * video; the wasm heap caps at ~3.9 GiB and running out aborts the process).
 *
 * Activation peaks grow linearly with the frames and the pixels; the constants are the slopes of
 * `propainter analyze --model flowcomp|i3d --estimate` on wasm at 240×432:
 *   flow completion: 161 / 1013 / 4209 MiB of activations for 3 / 19 / 79 flows → 53.3 MiB per
 *   flow (≈ 539 bytes per pixel and flow); I3D: 515 / 2058 MiB for 8 / 32 frames → 64.3 MiB per
 *   frame (≈ 650 bytes per pixel and frame).
 */
import { HEAP_OVERHEAD, WASM_HEAP_BUDGET } from '../models/analyze';

const FLOWCOMP_BYTES_PER_PIXEL_FLOW = 539;
const FLOWCOMP_WEIGHT_BYTES = 5_079_555 * 4;
/** Inputs of the flow completion per pixel and flow: two flows (2 floats each) and a mask. */
const FLOWCOMP_INPUT_BYTES_PER_PIXEL_FLOW = (2 * 2 + 1) * 4;
const I3D_BYTES_PER_PIXEL_FRAME = 650;
const I3D_WEIGHT_BYTES = 12_697_264 * 4;

export type WholeVideoNet = 'flowcomp' | 'i3d';

/** Estimated wasm heap for one whole-video forward of `net` over `frames` frames at height×width. */
export function wholeVideoHeapBytes(net: WholeVideoNet, frames: number, height: number, width: number): number {
  const px = height * width;
  const bytes =
    net === 'flowcomp'
      ? FLOWCOMP_WEIGHT_BYTES + (frames - 1) * px * (FLOWCOMP_BYTES_PER_PIXEL_FLOW + FLOWCOMP_INPUT_BYTES_PER_PIXEL_FLOW)
      : I3D_WEIGHT_BYTES + frames * px * (I3D_BYTES_PER_PIXEL_FRAME + 3 * 4);
  return bytes * HEAP_OVERHEAD;
}

/** The most frames whose whole-video forward of `net` fits the budget at height×width. */
export function maxFramesThatFit(net: WholeVideoNet, height: number, width: number, budget = WASM_HEAP_BUDGET): number {
  let n = 2;
  while (wholeVideoHeapBytes(net, n + 1, height, width) <= budget) n++;
  return n;
}

const WHAT: Record<WholeVideoNet, string> = { flowcomp: 'the whole-video flow completion', i3d: 'I3D over the whole video (VFID)' };

/**
 * Throws (one line) when the longest video needs more wasm heap than the budget for `net`: the
 * estimate, the video, and what to change.
 */
export function checkWholeVideoFits(net: WholeVideoNet, video: string, frames: number, height: number, width: number, budget = WASM_HEAP_BUDGET): void {
  const need = wholeVideoHeapBytes(net, frames, height, width);
  if (need <= budget) return;
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  throw new Error(
    `${video}: ${frames} frames at ${width}x${height} need ~${gib(need)} GiB of wasm heap for ${WHAT[net]} (the official protocol), ` +
      `above the ${gib(budget)} GiB budget; use the tensorflow backend (npm install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu), ` +
      `or --max_frames ${maxFramesThatFit(net, height, width, budget)} (not the official protocol), or a smaller --width / --height`,
  );
}
