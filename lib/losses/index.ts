/** Training losses: the official loss functions, and the loss-term registry that composes them. */
export * from './generator';
export * from './flow';
export * from './registry';
