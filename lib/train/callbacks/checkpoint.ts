/**
 * Checkpoint policy: a checkpoint every save_freq iterations and a final one when training stops
 * unless its iteration is saved already — finished, interrupted (SIGINT/SIGTERM/stop()), or ended
 * by an error while the state is sound (the error came outside an optimizer update), so that an
 * error loses nothing since the last save_freq checkpoint. The log says which iteration it holds.
 */
import type { Callback, StopReason } from './callback';
import type { Run, StepRecord } from '../loop';

export class CheckpointEvery implements Callback {
  async onStepEnd(run: Run, rec: StepRecord): Promise<void> {
    if (rec.iteration % run.config.train.save_freq === 0) await run.save();
  }

  async onTrainStop(run: Run, reason: StopReason): Promise<void> {
    if (reason === 'disposed') return;
    const it = run.iteration;
    const saved = run.lastSavedIteration;
    if (reason !== 'error') {
      if (it > 0 && it !== saved) await run.save();
      return;
    }
    const last = saved >= 0 ? `the last checkpoint is iteration ${saved}` : 'there is no checkpoint yet';
    if (!run.stateIsSound) {
      run.log(`stopped by an error during the optimizer update of iteration ${it + 1}: no checkpoint of it (its weights are half-updated); ${last}`);
    } else if (it === 0 || it === saved) {
      run.log(`stopped by an error after iteration ${it}: ${last}`);
    } else {
      try {
        const file = await run.save();
        run.log(`stopped by an error after iteration ${it}: its state is saved (${file}); resume with --resume ${run.config.save_dir} once the cause is fixed`);
      } catch (e) {
        run.log(`stopped by an error after iteration ${it}; saving its state failed too (${(e as Error).message}); ${last}`);
      }
    }
  }
}
