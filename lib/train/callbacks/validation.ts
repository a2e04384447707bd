/** Validation every val_freq iterations (0 = never) on datasets.val. */
import type { Callback } from './callback';
import type { Run, StepRecord } from '../loop';

export class ValidateEvery implements Callback {
  async onStepEnd(run: Run, rec: StepRecord): Promise<void> {
    const f = run.config.train.val_freq;
    if (f > 0 && run.config.datasets.val && rec.iteration % f === 0) await run.validate();
  }
}
