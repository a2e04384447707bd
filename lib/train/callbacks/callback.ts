/**
 * Plug-ins of the training loop (Lightning-style callbacks): a callback implements only the hooks
 * it needs. Stateful callbacks save themselves in checkpoints under `key`.
 */
import type { RgbImage } from '../../viz/image';
import type { Run, StepRecord, ValidationRecord } from '../loop';

export interface Callback {
  /** Checkpoint key of this callback's state (required with state/loadState). */
  readonly key?: string;
  /** Before the first step of a run (also after a resume). */
  onTrainStart?(run: Run): void | Promise<void>;
  /** After every iteration; `images` only on image_freq steps. */
  onStepEnd?(run: Run, rec: StepRecord, images?: Record<string, RgbImage>): void | Promise<void>;
  /** After validation; `images` shows the first held-out video (input / output / ground truth). */
  onValidationEnd?(run: Run, rec: ValidationRecord, images?: Record<string, RgbImage>): void | Promise<void>;
  /** After a checkpoint was written (`statePath` = its state_NNNNNN.json). */
  onSave?(run: Run, statePath: string): void | Promise<void>;
  /**
   * When training stops, before any callback's onTrainEnd: the last writes (the final
   * checkpoint), so that every logger still records them.
   */
  onTrainStop?(run: Run, reason: StopReason): void | Promise<void>;
  /** When training stops: finished, interrupted (signal / stop()) or an error. */
  onTrainEnd?(run: Run, reason: StopReason): void | Promise<void>;
  state?(): unknown;
  loadState?(state: unknown): void;
}

export type StopReason = 'finished' | 'interrupted' | 'error' | 'disposed';
