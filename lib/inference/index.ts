/**
 * Inference: the official `inference_propainter.py` as composable stages (spec §13), with the
 * evaluation script's variants as options (spec §12.1).
 *
 * - `inpaintVideo(frames, masks, options, onProgress)` — the whole pipeline, streaming by default.
 * - Plans (`./plan`): RAFT chunks, padded sub-videos, sliding windows and reference selection.
 * - Frames (`./frames`): sizes, mask preparation, outpainting canvas, compositing and blending.
 * - Models (`./models`): the three networks from a weights folder or with det-init weights.
 * - Output (`./output`): a finished frame resized as the script writes it, the compare frame.
 * - Memory (`./memory`): the wasm-heap estimate of a request, refused up front when it cannot fit.
 * - Jobs (`./job`, `./args`): the official flags, inputs opened from paths, a run into a sink
 *   (what `propainter inpaint` and the inference fixture cases use).
 */
export { InputError, inpaintVideo, raftClipFlows, STAGES } from './pipeline';
export type {
  FlowProvider, FrameInput, FrameStream, InpaintMode, InpaintModels, InpaintOptions, InpaintResult, InpaintedFrame, MaskInput,
  ProgressEvent, StageName,
} from './pipeline';
export {
  EVALUATION_RAFT_CHUNK, FLOW_COMPLETION_PAD, PROPAGATION_PAD, inferenceRefNum, paddedSegments, propagationChunkLength, raftChunks,
  raftClipLengthForWidth, referenceIds, slidingWindows,
} from './plan';
export type { RaftChunk, Segment, Window } from './plan';
export {
  blendInto, compositeFrame, inferenceSizes, outpaintCanvas, outpaintMasks, placeOnCanvas, prepareMask, tintMasked, toProcessSize,
} from './frames';
export type { BlendMode, FrameMasks, OutpaintCanvas, Size, SizeOptions } from './frames';
export {
  INFERENCE_NETWORKS, OFFICIAL_WEIGHT_FILES, WEIGHT_SOURCES, detInitModels, disposeModels, findWeightFile, loadInferenceModels, missingWeightMessage, weightFile,
} from './models';
export type { NetworkName, WeightRole } from './models';
export { compareFrame, outputImages } from './output';
export { OFFICIAL_DEFAULTS, openInputs, runInpaintJob } from './job';
export type { InpaintJob, JobResult, OpenedInputs, OutputSink } from './job';
export { addInpaintOptions, jobFromOptions, parseInpaintArgs } from './args';
export type { InpaintCliOptions } from './args';
export { estimateInpaintHeap, fitHints, formatHeapRefusal } from './memory';
export type { HeapEstimate, HeapRequest, HeapStage } from './memory';
export type { OutputImages } from './output';
