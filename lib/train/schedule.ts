/**
 * Learning-rate schedules as pure functions of the iteration (nothing to save for resume):
 * BasicSR's MultiStepRestartLR and CosineAnnealingRestartLR as ProPainter uses them, a constant
 * rate, and an optional linear warmup from `warmup_lr`.
 */
import type { TrainConfig } from './config';

export interface ScheduleSpec {
  lr: number;
  scheme: 'MultiStepLR' | 'CosineAnnealingRestartLR' | 'constant';
  steps?: number[];
  gamma?: number;
  periods?: number[];
  etaMin?: number;
  warmup?: number;
  warmupLr?: number;
}

/**
 * Learning rate in effect for optimiser step `step` (0-based: the first update uses step 0).
 * MultiStepLR: lr · γ^(number of milestones ≤ step), matching a scheduler stepped once after
 * every iteration. Warmup: linear from warmupLr to the scheduled value over `warmup` steps.
 */
export function learningRate(spec: ScheduleSpec, step: number): number {
  let lr = spec.lr;
  if (spec.scheme === 'MultiStepLR') {
    const passed = (spec.steps ?? []).filter((m) => m <= step).length;
    lr = spec.lr * Math.pow(spec.gamma ?? 0.1, passed);
  } else if (spec.scheme === 'CosineAnnealingRestartLR') {
    const periods = spec.periods ?? [];
    const etaMin = spec.etaMin ?? 0;
    let start = 0;
    let i = 0;
    while (i < periods.length - 1 && step >= start + periods[i]) start += periods[i++];
    const period = periods[i] ?? 1;
    const t = Math.min(step - start, period);
    lr = etaMin + 0.5 * (spec.lr - etaMin) * (1 + Math.cos((Math.PI * t) / period));
  }
  const warmup = spec.warmup ?? 0;
  if (warmup > 0 && step < warmup) {
    const w0 = spec.warmupLr ?? 0;
    lr = w0 + ((lr - w0) * step) / warmup;
  }
  return lr;
}

export function scheduleFromConfig(cfg: TrainConfig, lr = cfg.train.lr): ScheduleSpec {
  return {
    lr,
    scheme: cfg.train.lr_scheme,
    steps: cfg.train.lr_steps,
    gamma: cfg.train.lr_gamma,
    periods: cfg.train.cosine_periods,
    etaMin: cfg.train.eta_min,
    warmup: cfg.train.warmup,
    warmupLr: cfg.train.warmup_lr,
  };
}
