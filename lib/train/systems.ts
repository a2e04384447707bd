/**
 * The training systems by config `model`: `createSystem` is a lookup. A system owns its networks
 * (built by name from lib/models/networks.ts), its loss terms (lib/losses registry) and its
 * optimizers; a new training recipe is one class here plus its `MODELS` entry in config.ts.
 */
import type { ModelKind, TrainConfig } from './config';
import type { Log, TrainingSystem } from './system';
import { FlowCompletionSystem } from './flowcomp-system';
import { ProPainterSystem } from './propainter-system';

export const SYSTEMS: Readonly<Record<ModelKind, new (cfg: TrainConfig, log: Log) => TrainingSystem>> = {
  propainter: ProPainterSystem,
  recurrent_flow_completion: FlowCompletionSystem,
};

/** The system a config asks for. */
export function createSystem(cfg: TrainConfig, log: Log): TrainingSystem {
  return new SYSTEMS[cfg.model](cfg, log);
}
