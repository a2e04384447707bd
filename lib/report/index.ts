/** Reports: training runs and evaluations read back from their folders and rendered as self-contained HTML. */
export * from './html';
export * from './run-log';
export * from './run-report';
export * from './eval-run';
export * from './eval-report';
