export * from './generator';
export * from './flow';
