export * from './module';
export * from './layers';
export * from './layout';
export * as init from './init';
