/** Evaluation: metrics, the evaluation dataset, flows, E_warp, the evaluation loops and their files. */
export * from './metrics';
export * from './linalg';
export * from './dataset';
export * from './flows';
export * from './warp-error';
export * from './video-metrics';
export * from './pyformat';
export * from './results';
export * from './metrics-file';
export * from './weights';
export * from './evaluate';
export * from './completion';
export * from './run';
export * from './memory';
