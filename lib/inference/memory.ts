/**
 * Wasm-heap estimate of an inference request, so one that cannot fit is refused before any work
 * (the wasm heap cannot grow past ~3.9 GiB and an allocation beyond it aborts the process).
 *
 * The pipeline keeps every per-frame result on the host between stages, so the heap holds the
 * weights plus the working set of one stage call at a time; the peak is the largest call. Each
 * stage's working set is (a + b·frames of the call) × pixels, with coefficients measured on wasm
 * at 240×432 with det-init weights (wasm heap growth over the loaded models: RAFT 13 frames
 * 548 MiB; flow completion 20 / 40 flows 629 / 1307 MiB; image propagation 40 frames 435 MiB;
 * generator 11 + 8 frames 1515 MiB alone and ~1250 MiB for 12 frames inside a whole 20-frame run,
 * whose heap peaked at 1.51 GiB), rounded up. The evaluation's whole-video flow completion
 * agrees: 79 flows 2640 MiB (338 bytes per pixel and flow).
 */
import { EVALUATION_RAFT_CHUNK, inferenceRefNum, paddedSegments, propagationChunkLength, raftClipLengthForWidth, slidingWindows, FLOW_COMPLETION_PAD, PROPAGATION_PAD } from './plan';
import { WASM_HEAP_BUDGET, fmtBytes } from '../models/analyze';

/** Heap bytes of one call per pixel: `perPixel` + `perPixelFrame` × frames, by stage (see the file header). */
export const STAGE_HEAP_COEFFICIENTS = {
  raft: { perPixel: 0, perPixelFrame: 430 },
  flow_completion: { perPixel: 0, perPixelFrame: 340 },
  propagation: { perPixel: 0, perPixelFrame: 110 },
  transformer: { perPixel: 8100, perPixelFrame: 390 },
} as const;

/**
 * Weights of the three networks (≈ 190 MiB) plus the runtime's own heap, plus the wasm pack's
 * cache of Winograd-transformed filters (≤ winogradOptions.cacheFloats = 64 MiB; measured +107 to
 * +155 MiB of heap with its fragmentation).
 */
export const BASE_HEAP_BYTES = (300 + 160) * 2 ** 20;

/** Allocator rounding on top of the measured growth (which already includes kernel temporaries). */
const MARGIN = 1.1;

export type HeapStage = keyof typeof STAGE_HEAP_COEFFICIENTS;
const HEAP_STAGES = Object.keys(STAGE_HEAP_COEFFICIENTS) as HeapStage[];

export interface HeapRequest {
  /** Size the networks run at (the canvas in video_outpainting). */
  width: number;
  height: number;
  frames: number;
  subvideoLength: number;
  neighborLength: number;
  refStride: number;
  /**
   * The evaluation script's variant (spec §12.1): flow completion and image propagation over the
   * whole video, every stride-aligned reference, RAFT in 60-frame clips. Default false (inference).
   */
  evaluation?: boolean;
  /** Flows supplied (evaluation's --load_flow): no RAFT call. */
  flowsGiven?: boolean;
}

export interface HeapEstimate {
  bytes: number;
  /** Frames in the largest call of each stage. */
  frames: Record<HeapStage, number>;
  bytesByStage: Record<HeapStage, number>;
  largest: HeapStage;
}

/**
 * The largest call of each stage for a request, from the same plans the pipeline runs; `stages`
 * limits the estimate to the stages that run (the flow-completion evaluation runs two).
 */
export function estimateInpaintHeap(r: HeapRequest, stages: readonly HeapStage[] = HEAP_STAGES): HeapEstimate {
  const T = r.frames;
  const px = r.width * r.height;
  const longest = (segs: Array<{ start: number; end: number }>) => Math.max(...segs.map((s) => s.end - s.start));
  const whole = r.evaluation ?? false;
  const refNum = whole ? -1 : inferenceRefNum(T, r.subvideoLength, r.refStride);
  const frames: Record<HeapStage, number> = {
    // A later RAFT chunk starts one frame early: clip length + 1 frames.
    raft: r.flowsGiven ? 0 : Math.min(T, (whole ? EVALUATION_RAFT_CHUNK : raftClipLengthForWidth(r.width)) + 1),
    flow_completion: whole ? T - 1 : longest(paddedSegments(T - 1, r.subvideoLength, FLOW_COMPLETION_PAD)),
    propagation: whole ? T : longest(paddedSegments(T, propagationChunkLength(r.subvideoLength), PROPAGATION_PAD)),
    transformer: Math.max(...slidingWindows(T, r.neighborLength, r.refStride, refNum).map((w) => w.localIds.length + w.refIds.length)),
  };
  const bytesByStage = Object.fromEntries(
    (Object.keys(frames) as HeapStage[]).map((s) => [s, (STAGE_HEAP_COEFFICIENTS[s].perPixel + STAGE_HEAP_COEFFICIENTS[s].perPixelFrame * frames[s]) * px]),
  ) as Record<HeapStage, number>;
  const largest = stages.reduce((a, b) => (bytesByStage[b] > bytesByStage[a] ? b : a));
  return { bytes: Math.round(BASE_HEAP_BYTES + bytesByStage[largest] * MARGIN), frames, bytesByStage, largest };
}

/** Whether a request fits, and if not the largest --subvideo_length / --resize_ratio that would (null: none does). */
export function fitHints(r: HeapRequest & { resizeRatio: number }, budget = WASM_HEAP_BUDGET): { subvideoLength: number | null; resizeRatio: number | null } {
  let subvideoLength: number | null = null;
  for (let s = Math.min(r.subvideoLength - 1, r.frames - 1); s >= 1; s--) {
    if (estimateInpaintHeap({ ...r, subvideoLength: s }).bytes <= budget) {
      subvideoLength = s;
      break;
    }
  }
  let resizeRatio: number | null = null;
  for (let k = 19; k >= 1; k--) {
    const f = k / 20;
    const w = Math.trunc(r.width * f);
    const h = Math.trunc(r.height * f);
    if (w - (w % 8) < 128 || h - (h % 8) < 128) break;
    if (estimateInpaintHeap({ ...r, width: w - (w % 8), height: h - (h % 8) }).bytes <= budget) {
      resizeRatio = Math.round(r.resizeRatio * f * 1000) / 1000;
      break;
    }
  }
  return { subvideoLength, resizeRatio };
}

/** The one-line refusal: estimate, the stage that needs it, and flags that would fit. */
export function formatHeapRefusal(est: HeapEstimate, r: HeapRequest & { resizeRatio: number }, budget = WASM_HEAP_BUDGET): string {
  const hints = fitHints(r, budget);
  const fixes = [
    hints.subvideoLength !== null ? `--subvideo_length ${hints.subvideoLength}` : null,
    hints.resizeRatio !== null ? `--resize_ratio ${hints.resizeRatio}` : null,
  ].filter(Boolean);
  return (
    `this request needs about ${fmtBytes(est.bytes)} of wasm heap (${r.frames} frames at ${r.width}x${r.height}; largest call: ${est.largest.replace('_', ' ')} ` +
    `over ${est.frames[est.largest]} frames) but the wasm backend has ${fmtBytes(budget)}; ` +
    (fixes.length ? `it fits with ${fixes.join(' or ')}` : 'no --subvideo_length or --resize_ratio makes it fit; use the tensorflow backend (@tensorflow/tfjs-node)')
  );
}
