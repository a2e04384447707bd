/**
 * Live loss curves in a notebook (lib/viz LiveCurves: one display output redrawn in place,
 * throttled); in a terminal the values are only collected. Validation metrics get their own
 * figure when `validation` is set.
 *
 *   const run = await Run.create(cfg, { callbacks: [new LivePlot({ logY: true, smoothing: 0.9 })] });
 */
import type { Callback } from './callback';
import type { Run, StepRecord, ValidationRecord } from '../loop';
import { LiveCurves, LiveCurvesOptions } from '../../viz/charts';

export interface LivePlotOptions extends LiveCurvesOptions {
  /** Scalars to draw (default: every `loss/*`); `lr` is the learning rate. */
  keys?: string[];
  /** Also draw validation metrics. */
  validation?: boolean;
}

export class LivePlot implements Callback {
  curves: LiveCurves | null = null;
  valCurves: LiveCurves | null = null;

  constructor(private readonly opts: LivePlotOptions = {}) {}

  private make(title: string): LiveCurves {
    return new LiveCurves({ xTitle: 'iteration', ...this.opts, title });
  }

  onStepEnd(run: Run, rec: StepRecord): void {
    this.curves ??= this.make(this.opts.title ?? `${run.config.name}: losses`);
    const keys = this.opts.keys ?? Object.keys(rec.scalars).filter((k) => k.startsWith('loss/'));
    const values: Record<string, number> = {};
    for (const k of keys) {
      const v = k === 'lr' ? rec.lr : rec.scalars[k];
      if (v !== undefined) values[k] = v;
    }
    this.curves.push(rec.iteration, values);
  }

  onValidationEnd(run: Run, rec: ValidationRecord): void {
    if (!this.opts.validation) return;
    this.valCurves ??= this.make(`${run.config.name}: validation`);
    this.valCurves.push(rec.iteration, rec.metrics);
  }

  onTrainEnd(): void {
    this.curves?.flush();
    this.valCurves?.flush();
  }
}
