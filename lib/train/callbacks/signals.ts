/**
 * SIGINT / SIGTERM: the first signal asks the run to stop after the current iteration (the
 * checkpoint callback then writes a final checkpoint and the process exits cleanly); a second
 * one exits at once.
 */
import type { Callback } from './callback';
import type { Run } from '../loop';

export class StopOnSignal implements Callback {
  private handler: ((sig: NodeJS.Signals) => void) | null = null;

  constructor(private readonly log: (line: string) => void = (l) => console.error(l)) {}

  onTrainStart(run: Run): void {
    if (this.handler) return;
    this.handler = (sig) => {
      if (run.stopRequested) {
        this.log(`${sig} again: exiting without waiting`);
        process.exit(130);
      }
      this.log(`${sig}: stopping after the current iteration (a final checkpoint will be written; repeat to abort)`);
      run.stop();
    };
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  onTrainEnd(): void {
    if (!this.handler) return;
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
    this.handler = null;
  }
}
