/** Reports: training runs read back from their folders and rendered as self-contained HTML. */
export * from './run-log';
export * from './run-report';
