export * from './backend';
export * from './host-copy';
