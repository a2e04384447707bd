/** ProPainter generator (`InpaintGenerator`) and the clip-level inference helper. */
export { InpaintGenerator, downsampleFlow, downsampleMask } from './generator';
export type { GeneratorOptions } from './generator';
export { imgPropagation, FeaturePropagation, DeformableAlignment } from './propagation';
export type { WarpMode } from './propagation';
export { inpaintClip } from './clip';
export type { InpaintClipInput } from './clip';
export { validIndRolled } from './transformer';
