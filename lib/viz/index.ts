/**
 * Workbook visualisation: inline plotly figures, live curves, images (grids, comparisons, mask
 * overlays, flow colours), arquero tables, progress displays and static figure export.
 * Works in a tslab notebook (rich output) and in a terminal (text fallbacks).
 */
export * from './display';
export * from './env';
export * from './plotly';
export * from './charts';
export * from './image';
export * from './flow';
export * from './table';
export * from './progress';
export * from './export';
