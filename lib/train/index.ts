/** Training: configs, schedules, optimizers, checkpoints, the run folder, the loop (`Run`), systems, callbacks and data-parallel ranks. */
export * from './config';
export { ConfigError, applyOverrides } from './schema';
export * from './schedule';
export * from './optim';
export * from './checkpoint';
export * from './run-folder';
export { SummaryWriter, readEvents, crc32c } from './tensorboard';
export type { EventRecord } from './tensorboard';
export * from './data';
export * from './system';
export { Run } from './loop';
export type { RunOptions, StepRecord, ValidationRecord } from './loop';
export { SYSTEMS, createSystem } from './systems';
export { averageOverRanks, broadcastWeights, shareStart, type SharedStart } from './distributed';
export { FlowCompletionSystem } from './flowcomp-system';
export { ProPainterSystem } from './propainter-system';
export * from './callbacks';
