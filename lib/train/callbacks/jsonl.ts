/** Every logged value as JSON lines: experiments/<name>/log.jsonl (appended, survives resumes). */
import * as fs from 'fs';
import * as path from 'path';
import type { Callback, StopReason } from './callback';
import type { Run, StepRecord, ValidationRecord } from '../loop';
import { LOG_FILE } from '../run-folder';

export class JsonlLogger implements Callback {
  private fd = -1;
  readonly file: string;

  constructor(file?: string, private readonly dir?: string) {
    this.file = file ?? '';
  }

  private write(obj: Record<string, unknown>): void {
    if (this.fd >= 0) fs.writeSync(this.fd, JSON.stringify(obj) + '\n');
  }

  onTrainStart(run: Run): void {
    const file = this.file || path.join(this.dir ?? run.config.save_dir, LOG_FILE);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    (this as { file: string }).file = file;
    this.fd = fs.openSync(file, 'a');
    this.write({ event: 'start', iteration: run.iteration, time: new Date().toISOString(), name: run.config.name, model: run.config.model, backend: run.backend, processes: run.comm?.size ?? 1 });
  }

  onStepEnd(_run: Run, rec: StepRecord): void {
    this.write({ iteration: rec.iteration, epoch: rec.epoch, lr: rec.lr, lr_d: rec.lrD, it_per_s: rec.itPerSec, size: rec.size, ...rec.scalars });
  }

  onValidationEnd(_run: Run, rec: ValidationRecord): void {
    this.write({ event: 'validation', iteration: rec.iteration, ...Object.fromEntries(Object.entries(rec.metrics).map(([k, v]) => [`val/${k}`, v])), videos: rec.perVideo });
  }

  onSave(run: Run, statePath: string): void {
    this.write({ event: 'checkpoint', iteration: run.iteration, state: statePath });
  }

  onTrainEnd(run: Run, reason: StopReason): void {
    this.write({ event: 'end', iteration: run.iteration, reason, time: new Date().toISOString() });
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
