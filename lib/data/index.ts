/** Data pipeline: dataset layout, validation, masks, samplers, loaders, preparation. */
export * from './layout';
export * from './rng';
export * from './masks';
export * from './sample';
export * from './train-dataset';
export * from './test-dataset';
export * from './spec';
export * from './loader';
export * from './tensors';
export * from './validate';
export * from './synth';
export * from './prepare';
export * from './sources';
export * from './clips';
