/** Differentiable ops with PyTorch semantics on channels-last tensors. */
export * from './conv';
export { bilinearSample, nearestSample, gridSample, flowWarp, fbConsistencyCheck } from './sample';
export type { GridSampleOptions, FlowWarpOptions, SampleMode, GridPaddingMode } from './sample';
export { deformConv2d } from './deform';
export type { DeformConv2dOptions } from './deform';
export { interpolateBilinear, interpolateNearest } from './resize';
export { unfold, fold, unfoldGrid, pixelShuffle, pixelUnshuffle } from './patches';
export type { PatchOptions } from './patches';
export { roll, maxPool2d } from './misc';
export { canny, flowEdges, gaussianKernel1d } from './canny';
export type { CannyOptions, CannyResult } from './canny';
export { noGrad } from './util';
export { framesRange, flattenClip } from './frames';
