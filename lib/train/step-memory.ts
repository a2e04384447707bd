/**
 * Wasm heap one training step needs, so that a config whose step cannot fit is refused before
 * anything is built (the wasm32 heap caps at ~3.9 GiB; running out aborts the process or ends the
 * step in `memory access out of bounds` after minutes of work).
 *
 * Scaled from steps measured with `npm run bench -- train` (wasm kernel pack on, batch 1, flows
 * from files): flow completion (checkpointed network; it uses the local frames only) 0.89 GiB at
 * 120×216 with 5 local frames and 3.06 GiB at 240×432 with 5 — ≈ 0.17 GiB fixed, the rest growing
 * with pixels × local frames, mostly the loss's activations; ProPainter (checkpointed generator,
 * discriminator) 1.29 GiB at 64×64 with 3+1 frames and 2.06 GiB at 120×216 with 5+1 — ≈ 1.2 GiB
 * of weights, Adam states and segment overhead, the rest growing with pixels × frames. Activations
 * grow with the samples per step too. Not included: frozen RAFT (load_flow false) and VGG-based
 * loss terms, which add to the measured steps.
 */
import { WASM_HEAP_BUDGET } from '../models/analyze';
import type { ModelKind, TrainConfig } from './config';
import { processBatchSize } from './data';

const GiB = 2 ** 30;

/** Fixed part and activation bytes per (pixel × frame × sample), from the measured points above. */
const SCALING: Record<ModelKind, { fixed: number; perUnit: number }> = {
  recurrent_flow_completion: { fixed: 0.17 * GiB, perUnit: ((0.89 - 0.17) * GiB) / (120 * 216 * 5) },
  propainter: { fixed: 1.2 * GiB, perUnit: ((2.06 - 1.2) * GiB) / (120 * 216 * 6) },
};

export interface StepShape {
  model: ModelKind;
  height: number;
  width: number;
  localFrames: number;
  refFrames: number;
  /** Samples per step in this process. */
  batch: number;
}

/** Frames one sample puts through the trained network (flow completion uses the local frames only). */
function framesOf(s: StepShape): number {
  return s.model === 'propainter' ? s.localFrames + s.refFrames : s.localFrames;
}

/** Estimated wasm heap (bytes) of one training step. */
export function trainStepHeapBytes(s: StepShape): number {
  const k = SCALING[s.model];
  return k.fixed + k.perUnit * s.height * s.width * framesOf(s) * s.batch;
}

/** The step a config trains at its largest size (progressive resizing ends at datasets.train's), on one of `worldSize` data-parallel processes. */
export function stepShape(cfg: TrainConfig, worldSize = 1): StepShape {
  const d = cfg.datasets.train;
  return { model: cfg.model, height: d.height, width: d.width, localFrames: d.num_local_frames, refFrames: d.num_ref_frames, batch: processBatchSize(cfg, worldSize) };
}

/**
 * Throws (one line) when a config's training step needs more wasm heap than `budget`: the
 * estimate, the step, and what to change (backend, size, frames, batch).
 */
export function checkTrainStepFits(cfg: TrainConfig, worldSize = 1, budget = WASM_HEAP_BUDGET): void {
  const s = stepShape(cfg, worldSize);
  const need = trainStepHeapBytes(s);
  if (need <= budget) return;
  const k = SCALING[s.model];
  const units = s.height * s.width * framesOf(s) * s.batch;
  const fit = Math.max(0, (budget - k.fixed) / k.perUnit);
  // The largest size of the same aspect whose step fits, with `batch` samples ('' when none).
  const size = (batch: number): string => {
    const scale = Math.sqrt((fit * s.batch) / (units * batch));
    const [w, h] = [Math.floor((s.width * scale) / 8) * 8, Math.floor((s.height * scale) / 8) * 8];
    return w >= 8 && h >= 8 ? `at most ${w}×${h} (datasets.train.width / height)` : '';
  };
  const ways = ['the tensorflow backend (npm install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)'];
  if (s.batch > 1) {
    const single = `train.batch_size ${worldSize} with grad_accum ${s.batch}`;
    if (fit >= units / s.batch) ways.push(single);
    else if (size(1)) ways.push(`${single} and ${size(1)}`);
  }
  if (size(s.batch)) ways.push(size(s.batch));
  const frames = Math.floor(fit / (s.height * s.width * s.batch));
  if (frames >= 2) ways.push(`at most ${frames} frames per sample (${s.model === 'propainter' ? 'num_local_frames + num_ref_frames' : 'num_local_frames'})`);
  const frameText = s.model === 'propainter' ? `${s.localFrames}+${s.refFrames} frames` : `${s.localFrames} frames`;
  throw new Error(
    `a ${cfg.model} training step at ${s.width}×${s.height} with ${frameText} and ${s.batch} sample(s)${worldSize > 1 ? ` per process (${worldSize} processes)` : ''} needs ~${(need / GiB).toFixed(1)} GiB of wasm heap ` +
      `(scaled from measured steps), above the ${(budget / GiB).toFixed(1)} GiB budget; train with ${ways.join(', or ')}`,
  );
}
