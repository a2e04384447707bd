/**
 * Checkpoint policy: a checkpoint every save_freq iterations and a final one when training ends
 * (finished or interrupted by SIGINT/SIGTERM/stop()) unless the last step was just saved.
 */
import type { Callback, StopReason } from './callback';
import type { Run, StepRecord } from '../loop';

export class CheckpointEvery implements Callback {
  private lastSaved = -1;

  async onStepEnd(run: Run, rec: StepRecord): Promise<void> {
    if (rec.iteration % run.config.train.save_freq === 0) {
      await run.save();
      this.lastSaved = rec.iteration;
    }
  }

  async onTrainEnd(run: Run, reason: StopReason): Promise<void> {
    if ((reason === 'finished' || reason === 'interrupted') && run.iteration > 0 && run.iteration !== this.lastSaved && run.iteration !== run.lastSavedIteration) {
      await run.save();
    }
  }
}
