/** Training: configs, schedules, optimizers, checkpoints, the loop (`Run`), systems and callbacks. */
export * from './config';
export { ConfigError, applyOverrides } from './schema';
export * from './schedule';
export * from './optim';
export * from './checkpoint';
export { SummaryWriter, readEvents, crc32c } from './tensorboard';
export type { EventRecord } from './tensorboard';
export * from './data';
export * from './system';
export { Run, createSystem } from './loop';
export type { RunOptions, StepRecord, ValidationRecord } from './loop';
export { FlowCompletionSystem } from './flowcomp_system';
export { ProPainterSystem } from './propainter_system';
export * from './callbacks';
